{#- In an incremental run, a predicate keeping only the event dates that received rows
    from ingest batches newer than anything the model already holds. Whole dates are
    rebuilt so that deduplication within a date sees all of its rows. -#}
{% macro changed_event_dates(loaded_at_column='last_ingested_at') -%}
    event_date in (
        select distinct event_date
        from {{ ref('stg_events') }}
        where ingested_at > (
            select coalesce(max({{ loaded_at_column }}), timestamp'1900-01-01 00:00:00') from {{ this }}
        )
    )
{%- endmacro %}
