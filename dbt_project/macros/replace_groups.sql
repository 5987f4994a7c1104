{#- Group replacement. A model configured with replace_groups_by (a column, e.g. user_id) selects, on an
    incremental run, only the new rows of the groups that changed; one MERGE then replaces each such
    group whole: every old row of a changed group is deleted and its new rows inserted, as are deleted
    the rows of groups that left the model's input (replace_groups_input names it). Readers see a
    group's old rows or its new rows, never a mix.

    The source carries one marker row per group to clear, and only markers can match: the join key
    (dbt_clear) is the group for a marker and null for a new row, so the join pairs the target with one
    row per changed group and streams the new rows past it. With deletion vectors on the target, the
    deleted rows are marked, not copied: the MERGE writes the new rows and the vectors.

    When no version (replace_groups_version, e.g. run_id) of the input is in the target yet, every group
    changed (a refit): the new rows overwrite the table in one commit, which also drops the rows the
    deletion vectors hid since the last overwrite. -#}
{% macro replace_groups_merge_sql(target, source, group_key) -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
    {%- set input = ref(config.require('replace_groups_input')) -%}
    {%- set version = config.require('replace_groups_version') -%}
    {%- if execute and versions_kept(input, target, version) == 0 -%}
        {{ return('insert overwrite table ' ~ target ~ ' select ' ~ columns | join(', ') ~ ' from ' ~ source) }}
    {%- endif -%}
    merge into {{ target }} as DBT_INTERNAL_DEST
    using (
        -- nullif(x, x): a null of the group key's type
        select {{ columns | join(', ') }}, nullif({{ group_key }}, {{ group_key }}) as dbt_clear from {{ source }}
        union all
        select {% for column in columns %}null as {{ column }}, {% endfor %}dbt_group as dbt_clear
        from (
            -- the groups with new rows
            select distinct {{ group_key }} as dbt_group from {{ source }}
            union
            -- the groups that left the model's input
            select gone.{{ group_key }} as dbt_group
            from (select distinct {{ group_key }} from {{ target }}) as gone
            left anti join (select distinct {{ group_key }} from {{ input }}) as present
                on gone.{{ group_key }} = present.{{ group_key }}
        ) as groups_to_clear
    ) as DBT_INTERNAL_SOURCE
    on DBT_INTERNAL_DEST.{{ group_key }} = DBT_INTERNAL_SOURCE.dbt_clear
    when matched then delete
    when not matched and DBT_INTERNAL_SOURCE.dbt_clear is null then insert ({{ columns | join(', ') }})
        values ({% for column in columns %}DBT_INTERNAL_SOURCE.{{ column }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}



{#- How many of the input's versions the target holds already. -#}
{% macro versions_kept(input, target, version) -%}
    {%- set kept = run_query(
        "select count(*) from (select distinct " ~ version ~ " from " ~ input ~ ") as input_versions"
        ~ " left semi join (select distinct " ~ version ~ " from " ~ target ~ ") as held"
        ~ " on input_versions." ~ version ~ " = held." ~ version) -%}
    {{ return(kept.columns[0].values()[0]) }}
{%- endmacro %}
