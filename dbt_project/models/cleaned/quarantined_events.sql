-- depends_on: {{ ref('stg_raw__events') }}
-- The merge reads only the changed dates of the target (macros/incremental/spark__get_merge_sql.sql).
{{ config(unique_key=['source_file', 'source_line'], merge_prune_column='event_date',
          changed_dates_loaded_at='ingested_at') }}

with

checked as (

    select * from {{ ref('int_events_checked') }}
    where
        quarantine_reason is not null
        {% if is_incremental() %}
            and {{ changed_event_dates('ingested_at') }}
        {% endif %}

),

final as (

    select
        source_file,
        source_line,
        quarantine_reason,
        event_time,
        event_date,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        user_id,
        user_session,
        invalid_attributes,
        ingest_batch_id,
        ingested_at
    from checked

)

select * from final
