{#- Group replacement. A model configured with replace_groups_by (a column, e.g. user_id) selects, on an
    incremental run, only the new rows of the groups that changed; one MERGE then replaces each such
    group whole: every old row of a changed group is deleted and its new rows inserted, as are deleted
    the rows of groups that left the model's input (replace_groups_input names it). Readers see a
    group's old rows or its new rows, never a mix.

    The source carries one marker row per group to clear, and only markers can match (the condition
    requires dbt_marker): the new rows never need a match, so the join is the target against one row
    per changed group on the group key alone. With deletion vectors on the target, the deleted rows are
    marked, not copied: the MERGE writes the new rows and the vectors. -#}
{% macro replace_groups_merge_sql(target, source, group_key) -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
    {%- set input = ref(config.require('replace_groups_input')) -%}
    merge into {{ target }} as DBT_INTERNAL_DEST
    using (
        select {{ columns | join(', ') }}, false as dbt_marker from {{ source }}
        union all
        select
        {%- for column in columns %}
            {{ 'dbt_group' if column == group_key else 'null' }} as {{ column }},
        {%- endfor %}
            true as dbt_marker
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
    on DBT_INTERNAL_SOURCE.dbt_marker
        and DBT_INTERNAL_DEST.{{ group_key }} = DBT_INTERNAL_SOURCE.{{ group_key }}
    when matched then delete
    when not matched and not DBT_INTERNAL_SOURCE.dbt_marker then insert ({{ columns | join(', ') }})
        values ({% for column in columns %}DBT_INTERNAL_SOURCE.{{ column }}{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}
