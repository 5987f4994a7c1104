{#- `column > date'<first list date>'`: the days after the first served list kept
    (ml.served_recommendations), the only days that can have an outcome; false while none is kept.
    Looked up first and written in as a literal, so the scan of cleaned_events skips the other
    partitions. -#}
{% macro after_first_served_list(column) -%}
    {%- if execute -%}
        {#- min() of the string: a global min() of a date column fails on the Thrift Server (Delta's
            metadata-only aggregate with java.time dates, delta-io/delta#4201). -#}
        {%- set first = run_query('select min(cast(list_date as string)) from '
                                  ~ ref('stg_ml__served_recommendations')).columns[0].values()[0] -%}
        {{- 'false' if first is none else column ~ " > date'" ~ first ~ "'" -}}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- In an incremental run, `column >= date'<R>'`, R the list date of the newest refit before the first
    changed date: a refit lists every user, so a list made before it is in service on no later day, and
    the outcome of a changed date never needs one. The served history keeps SERVED_LISTS_DAYS of lists
    (several refits); the days since the last refit are what a new day reads. `true` otherwise (a full
    build, or no refit before the changed dates). Looked up first and written in as a literal, so the
    scan skips the older partitions. -#}
{% macro since_last_refit_before_changes(column) -%}
    {%- if execute and is_incremental() -%}
        {%- set dates = changed_dates('last_ingested_at', 'cleaned_events') -%}
        {%- if dates | length == 0 -%}
            {{- 'true' -}}
        {%- else -%}
            {%- set refit = run_query("select max(cast(list_date as string)) from "
                                      ~ ref('stg_ml__served_recommendations') ~ " where run_kind = 'refit'"
                                      ~ " and list_date < date'" ~ (dates | min) ~ "'").columns[0].values()[0] -%}
            {{- 'true' if refit is none else column ~ " >= date'" ~ refit ~ "'" -}}
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- Whether ml.served_recommendations still holds one row per product, as a lakehouse from before the
    served lists were nested does until the next ML run groups them (ml/serving/outputs.py). -#}
{% macro served_lists_are_flat() -%}
    {#- Renders nothing (false) when not executing. -#}
    {%- if execute -%}
        {%- set relation = source('ml', 'served_recommendations') -%}
        {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
                                             identifier=relation.identifier) -%}
        {{ return(found is not none
                  and 'product_id' in adapter.get_columns_in_relation(found) | map(attribute='name') | list) }}
    {%- endif -%}
{%- endmacro %}
