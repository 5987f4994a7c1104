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

collapsed as (

    -- One row per event key; the earliest source row represents it.
    select
        event_key,
        min_by(
            named_struct(
                'event_time', event_time, 'event_date', event_date, 'event_hour', event_hour,
                'event_weekday', event_weekday, 'event_weekday_name', event_weekday_name,
                'event_type', event_type, 'product_id', product_id, 'category_id', category_id,
                'category_code', category_code, 'category_l1', category_l1, 'category_l2', category_l2,
                'category_l3', category_l3, 'brand', brand, 'price', price, 'user_id', user_id,
                'session_key', session_key, 'is_surrogate_session', user_session is null,
                'dropped_attributes', dropped_attributes,
                'source_file', source_file, 'source_line', source_line
            ),
            struct(event_time, source_file, source_line)
        ) as e,
        count(*) as source_rows,
        -- size(collect_set()) counts the distinct contents of a key's few rows without the Expand
        -- that count(distinct) next to other aggregates costs (it doubles every row shuffled).
        count(*) - size(collect_set(content_key)) as exact_duplicates_removed,
        size(collect_set(content_key)) - 1 as repeated_carts_collapsed,
        max(ingested_at) as last_ingested_at
    from checked
    group by event_key

),

final as (

    select
        event_key,
        e.event_time,
        e.event_date,
        e.event_hour,
        e.event_weekday,
        e.event_weekday_name,
        e.event_type,
        e.product_id,
        e.category_id,
        coalesce(e.category_code, 'unknown') as category_code,
        coalesce(e.category_l1, 'unknown') as category_l1,
        e.category_l2,
        e.category_l3,
        coalesce(e.brand, 'unknown') as brand,
        e.price,
        e.price = 0 as is_zero_price,
        e.user_id,
        e.session_key as user_session,
        e.is_surrogate_session,
        e.dropped_attributes,
        source_rows,
        exact_duplicates_removed,
        repeated_carts_collapsed,
        e.source_file,
        e.source_line,
        last_ingested_at
    from collapsed

)

select * from final
