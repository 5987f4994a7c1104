{#- Overrides dbt-spark's table-properties clause of `create table`: the model's tblproperties
    plus its rules stamp (recolake.rules), which should_full_refresh compares on the next run. -#}
{% macro spark__tblproperties_clause() -%}
    {%- set properties = dict(config.get('tblproperties') or {}) -%}
    {%- set stamp = wanted_rules_stamp() -%}
    {%- if stamp is not none -%}
        {%- do properties.update({'recolake.rules': stamp}) -%}
    {%- endif -%}
    {%- if properties %}
    tblproperties (
        {%- for name, value in properties.items() %}
        '{{ name }}' = '{{ value }}'{{ "," if not loop.last }}
        {%- endfor %}
    )
    {%- endif %}
{%- endmacro %}

