{#- Merge pruning. A model configured with merge_prune_column (a partition column) merges into
    the changed event dates only: the dates are looked up first and written into the MERGE
    condition as literals, which Delta turns into partition pruning, so merging one day reads
    one day of the target instead of all of it (a subquery there would not prune, and Delta
    refuses subqueries in merge conditions). The source holds only those dates, so no match
    is lost. -#}
{% macro spark__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) %}
    {%- set predicates = [] if incremental_predicates is none else [] + incremental_predicates -%}
    {%- set prune_column = config.get('merge_prune_column') -%}
    {%- if prune_column and execute -%}
        {%- set dates = run_query(changed_event_dates_query()).columns[0].values() -%}
        {%- if dates | length > 0 -%}
            {%- do predicates.append('DBT_INTERNAL_DEST.' ~ prune_column ~ " in (date'"
                                     ~ (dates | map('string') | join("', date'")) ~ "')") -%}
        {%- else -%}
            {%- do predicates.append('false') -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(dbt.spark__get_merge_sql(target, source, unique_key, dest_columns, predicates)) }}
{% endmacro %}
