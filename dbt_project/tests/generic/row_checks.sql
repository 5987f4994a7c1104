{#- A model's row-level rules in one scan: every test node costs a fixed start-up besides its scan,
    and on a full build each scan reads the whole table. Fails with one row per broken check, naming
    it, with the number of rows that break it.
      not_null: [column, ...]
      accepted_values: {column: [value, ...]}   (nulls pass, as in dbt's accepted_values)
      ranges: {column: {min_value: x, max_value: y}}   (inclusive, either bound optional; nulls pass)
      expressions: [sql, ...]   (a row fails unless the expression is true; null fails) -#}
{% test row_checks(model, not_null=[], accepted_values={}, ranges={}, expressions=[]) %}

{%- set checks = [] -%}
{%- for column in not_null -%}
    {%- do checks.append(('not_null(' ~ column ~ ')', '`' ~ column ~ '` is null')) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append("'" ~ (value | string | replace("\\", "\\\\") | replace("'", "\\'")) ~ "'") -%}
    {%- endfor -%}
    {%- do checks.append(('accepted_values(' ~ column ~ ')', '`' ~ column ~ '` not in (' ~ quoted | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- for column, bounds in ranges.items() -%}
    {%- set outside = [] -%}
    {%- if bounds.get('min_value') is not none -%}
        {%- do outside.append('`' ~ column ~ '` < ' ~ bounds['min_value']) -%}
    {%- endif -%}
    {%- if bounds.get('max_value') is not none -%}
        {%- do outside.append('`' ~ column ~ '` > ' ~ bounds['max_value']) -%}
    {%- endif -%}
    {%- do checks.append(('range(' ~ column ~ ')', '(' ~ (outside | join(' or ') or 'false') ~ ')')) -%}
{%- endfor -%}
{%- for expression in expressions -%}
    {%- do checks.append((expression, 'not coalesce(' ~ expression ~ ', false)')) -%}
{%- endfor -%}
{%- if not checks -%}
    {{ exceptions.raise_compiler_error('row_checks on ' ~ model ~ ' names no check') }}
{%- endif -%}

with

broken as (

    select
        {%- for name, failing in checks %}
        count_if({{ failing }}) as check_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

final as (

    {%- for name, failing in checks %}
    select
        '{{ name | replace("\\", "\\\\") | replace("'", "\\'") }}' as broken_check,
        check_{{ loop.index }} as failing_rows
    from broken
    where check_{{ loop.index }} > 0
    {{ 'union all' if not loop.last }}
    {%- endfor %}

)

select * from final

{% endtest %}
