{#- The rules a table's rows were decided with, as one text stamped on the table.

    A model lists them in its `recorded_rules` config: a version (bump it when the SQL of a rule changes)
    and the vars its rows depend on. The text is rendered here, at run time, from the effective
    vars (dbt_project.yml, or --vars), never in dbt_project.yml itself: dbt renders a project-level
    config before the project's vars exist, so a var() there works only with --vars on the command
    line, and plain `dbt build` would fail to start. -#}
{% macro rules_stamp(rules) -%}
    {%- if not rules -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parts = [rules['version']] -%}
    {%- for name in rules['vars'] -%}
        {%- set value = var(name) -%}
        {%- if value is mapping -%}
            {%- set pairs = [] -%}
            {%- for key, item in value | dictsort -%}
                {%- do pairs.append(key ~ ':' ~ item) -%}
            {%- endfor -%}
            {%- set text = pairs | join(',') -%}
        {%- elif value is iterable and value is not string -%}
            {%- set text = value | join(',') -%}
        {%- else -%}
            {%- set text = value -%}
        {%- endif -%}
        {%- do parts.append(name ~ '=' ~ text) -%}
    {%- endfor -%}
    {{ return(parts | join(' ')) }}
{%- endmacro %}


{#- The stamp the current model wants (none when it records no rules). -#}
{% macro wanted_rules_stamp(node_config=none) -%}
    {{ return(rules_stamp((node_config or config).get('recorded_rules'))) }}
{%- endmacro %}
