{#- The source relation, or an empty typed result while it does not exist yet.
    The ml.* tables appear only after the first `python -m ml run`; until then the
    recommendation models build empty instead of failing the whole `dbt build`. -#}
{% macro source_if_exists(source_name, table_name, columns) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and adapter.get_relation(database=relation.database, schema=relation.schema,
                                            identifier=relation.identifier) is none -%}
        (select
        {%- for name, data_type in columns.items() %}
            cast(null as {{ data_type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where false)
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
