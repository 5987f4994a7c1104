{#- The event dates that received rows from ingest batches newer than anything the model already
    holds (its max(loaded_at_column)), read from `source`'s `source_loaded_at`. Whole dates are
    rebuilt, so deduplication and per-day aggregates see all of a date's rows. The cleaned layer
    asks staging; the date-keyed marts ask cleaned_events. -#}
{% macro changed_event_dates_query(loaded_at_column='last_ingested_at', source='stg_raw__events',
                                   source_loaded_at='ingested_at') -%}
    select distinct event_date
    from {{ ref(source) }}
    where {{ source_loaded_at }} > (
        select coalesce(max({{ loaded_at_column }}), timestamp'1900-01-01 00:00:00') from {{ this }}
    )
{%- endmacro %}

{#- In an incremental run, a predicate keeping only the changed event dates. -#}
{% macro changed_event_dates(loaded_at_column='last_ingested_at', source='stg_raw__events',
                             source_loaded_at='ingested_at') -%}
    event_date in ({{ changed_event_dates_query(loaded_at_column, source, source_loaded_at) }})
{%- endmacro %}

{#- The same for a mart built from cleaned_events. -#}
{% macro changed_mart_dates() -%}
    {{ changed_event_dates('last_ingested_at', 'cleaned_events', 'last_ingested_at') }}
{%- endmacro %}
