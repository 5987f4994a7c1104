{#- The event dates that received rows from ingest batches newer than anything the model already
    holds (its max(loaded_at_column)), read from `source`'s load times. Whole dates are
    rebuilt, so deduplication and per-day aggregates see all of a date's rows. The cleaned layer
    asks staging; the date-keyed marts ask cleaned_events.

    Both steps run first and their results go into the model's SQL as literals: the newest load
    time lets Delta skip every file of older batches, and the dates prune the partitions. (As a
    subquery, the same filter read every file of both tables.) They are kept on the node for the
    rest of its rendering; the merge (macros/incremental/spark__get_merge_sql.sql) is rendered apart, asks the same
    question of the same, not yet merged, data and prunes its target to the very same dates. -#}
{% macro changed_dates(loaded_at_column='last_ingested_at', source='stg_raw__events') %}
    {%- set cache_key = '_changed_dates_' ~ source ~ '_' ~ loaded_at_column -%}
    {%- if model.get(cache_key) is not none -%}
        {{ return(model.get(cache_key)) }}
    {%- endif -%}
    {#- Staging keeps each row's load time; every model built on it keeps the newest of its rows'. -#}
    {%- set source_loaded_at = 'ingested_at' if source == 'stg_raw__events' else 'last_ingested_at' -%}
    {%- set newest = run_query('select cast(max(' ~ loaded_at_column ~ ') as string) from ' ~ this)
                              .columns[0].values()[0] -%}
    {%- set newer = '' if newest is none else " where " ~ source_loaded_at ~ " > timestamp'" ~ newest ~ "'" -%}
    {%- set dates = run_query('select distinct cast(event_date as string) from ' ~ ref(source) ~ newer)
                             .columns[0].values() | list -%}
    {%- do model.update({cache_key: dates}) -%}
    {{ return(dates) }}
{% endmacro %}


{#- `column in (date'...', ...)`, or false for no dates. -#}
{% macro dates_predicate(column, dates) -%}
    {%- if dates | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in (date'{{ dates | join("', date'") }}')
    {%- endif -%}
{%- endmacro %}


{#- In an incremental run, a predicate keeping only the changed event dates. -#}
{% macro changed_event_dates(loaded_at_column='last_ingested_at', source='stg_raw__events') -%}
    {%- if execute -%}
        {{ dates_predicate('event_date', changed_dates(loaded_at_column, source)) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- The same for a model built from cleaned_events. -#}
{% macro changed_mart_dates() -%}
    {{ changed_event_dates('last_ingested_at', 'cleaned_events') }}
{%- endmacro %}
