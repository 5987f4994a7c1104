{#- Custom schemas are used as-is (staging, cleaned, marts), not prefixed with the
    target schema: Tableau and the MySQL sync read stable database names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
