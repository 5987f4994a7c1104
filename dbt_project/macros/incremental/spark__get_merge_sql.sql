{#- dbt-spark's merge, with group replacement (macros/incremental/replace_groups.sql), additive updates
    (macros/incremental/additive_merge.sql) and merge pruning.

    Merge pruning. A model configured with merge_prune_column (a partition column) merges into
    the changed event dates only: the dates its source was filtered to (macros/incremental/changed_event_dates.sql;
    changed_dates_source names the model they come from, staging by default, and
    changed_dates_loaded_at the target's load-time column, last_ingested_at by default)
    are written into the MERGE condition as literals, which Delta turns into partition pruning, so
    merging one day reads one day of the target instead of all of it (a subquery there would not
    prune, and Delta refuses subqueries in merge conditions). The source holds only those dates,
    so no match is lost.

    New dates are appended. When the target holds no row at any of those dates (a new day, the usual
    case), nothing can match: the key of every such model holds the date or is unique across dates
    (an event key's content holds its time). An INSERT then writes the same rows as the MERGE without
    Delta materialising the source and joining it with the (empty) target dates first. -#}
{% macro spark__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) %}
    {%- set group_key = config.get('replace_groups_by') -%}
    {%- if group_key -%}
        {{ return(replace_groups_merge_sql(target, source, group_key)) }}
    {%- endif -%}
    {%- set additive = config.get('additive_merge') -%}
    {%- if additive and execute and additive_update_applies() -%}
        {{ return(additive_merge_sql(target, source, unique_key, additive)) }}
    {%- endif -%}
    {%- set predicates = [] if incremental_predicates is none else [] + incremental_predicates -%}
    {%- set prune_column = config.get('merge_prune_column') -%}
    {%- if prune_column and execute -%}
        {%- set dates = changed_dates(config.get('changed_dates_loaded_at', 'last_ingested_at'),
                                      config.get('changed_dates_source', 'stg_raw__events')) -%}
        {%- do predicates.append(dates_predicate('DBT_INTERNAL_DEST.' ~ prune_column, dates) | trim) -%}
        {%- if dates | length > 0 and run_query('select 1 from ' ~ target ~ ' where '
                                                ~ dates_predicate(prune_column, dates) ~ ' limit 1').rows | length == 0 -%}
            {{ return(get_insert_into_sql(source, target)) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(dbt.spark__get_merge_sql(target, source, unique_key, dest_columns, predicates)) }}
{% endmacro %}
