-- depends_on: {{ ref('stg_raw__events') }}
-- merge_prune_column: the merge reads only the changed dates of the target
-- (macros/incremental/spark__get_merge_sql.sql).
{{ config(unique_key='event_key', merge_prune_column='event_date') }}

with

checked as (

    select * from {{ ref('int_events_checked') }}
    where
        quarantine_reason is null
        {% if is_incremental() %}
            and {{ changed_event_dates() }}
        {% endif %}

),

narrowed as (

    -- The deduplication shuffles and sorts only the columns read after it (Spark prunes the others):
    -- the calendar and category columns are derived in `final` from the surviving rows, and row contents
    -- are compared by a 64-bit hash (a collision inside one key's few rows is negligible) instead of
    -- their 32-character key. At the seed's month that is 64M rows in the full build's sort.
    select
        *,
        user_session is null as is_surrogate_session,
        xxhash64(content_key) as content_hash,
        pmod(xxhash64(event_key), 4) as key_bucket
    from checked
    -- The window's one shuffle also gathers each date into 4 tasks, so the table is written as 4
    -- large files per date: shuffled by key alone, the month's build wrote about 2,000 files of 4 MB,
    -- and the marts' scans of them were slower (daily_activity at the month: 99 s against 73 s).
    -- A key has one date (its content holds the event time, a cart's key its date), so partitioning
    -- the window by date and bucket too changes nothing in its result.
    distribute by event_date, key_bucket

),

ranked as (

    -- The rows of each event key in source order; the earliest represents the key. A window needs one
    -- shuffle and one sort of the rows; the aggregate it replaces (min_by of the whole row as a struct,
    -- collect_set) could not stay hash-based and sorted twice, before and after its shuffle: at 10M the
    -- model's query took 63 s that way and 45 s this way, with the same rows.
    select
        *,
        row_number() over source_order as source_position,
        count(*) over whole_key as source_rows,
        -- Distinct contents: 1 unless repeated carts were collapsed into the key (count(distinct)
        -- is not allowed over a window).
        size(collect_set(content_hash) over whole_key) as distinct_contents,
        max(ingested_at) over whole_key as key_last_ingested_at
    from narrowed
    window
        source_order as (
            partition by event_date, key_bucket, event_key order by event_time, source_file, source_line
        ),
        whole_key as (
            partition by event_date, key_bucket, event_key order by event_time, source_file, source_line
            rows between unbounded preceding and unbounded following
        )

),

final as (

    select
        event_key,
        event_time,
        event_date,
        hour(event_time) as event_hour,
        -- ISO weekday: 1 = Monday ... 7 = Sunday (Spark's dayofweek starts on Sunday).
        ((dayofweek(event_time) + 5) % 7) + 1 as event_weekday,
        date_format(event_time, 'EEEE') as event_weekday_name,
        event_type,
        product_id,
        category_id,
        coalesce(category_code, 'unknown') as category_code,
        coalesce(try_element_at(split(category_code, '[.]'), 1), 'unknown') as category_l1,
        try_element_at(split(category_code, '[.]'), 2) as category_l2,
        try_element_at(split(category_code, '[.]'), 3) as category_l3,
        coalesce(brand, 'unknown') as brand,
        price,
        price = 0 as is_zero_price,
        user_id,
        session_key as user_session,
        is_surrogate_session,
        dropped_attributes,
        source_rows,
        source_rows - distinct_contents as exact_duplicates_removed,
        distinct_contents - 1 as repeated_carts_collapsed,
        source_file,
        source_line,
        key_last_ingested_at as last_ingested_at
    from ranked
    where source_position = 1

)

select * from final
