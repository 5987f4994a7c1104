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
