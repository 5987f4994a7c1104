{#- dbt's hook for a test's `where` config, extended with the test scopes. -#}
{% macro spark__get_where_subquery(relation) -%}
    {%- set predicates = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do predicates.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set scope = test_scope_predicate(relation) -%}
    {%- if scope -%}
        {%- do predicates.append(scope) -%}
    {%- endif -%}
    {%- if predicates -%}
        {#- The alias keeps Spark from reading 'where (...)' as a table alias with column names. -#}
        {{ return('(select * from ' ~ relation ~ ' as dbt_source where ' ~ predicates | join(' and ') ~ ') dbt_subquery') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
