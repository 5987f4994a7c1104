{#- A model-level not_null over several columns in one scan: every test node costs a fixed
    start-up besides its scan, and on a full build each scan reads the whole table. Fails with one
    row per column that has nulls, naming it, with the number of null rows. -#}
{% test not_null_columns(model, columns) %}

with

null_counts as (

    select
        {%- for column in columns %}
        count_if(`{{ column }}` is null) as `{{ column }}`{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

final as (

    {%- for column in columns %}
    select '{{ column }}' as column_name, `{{ column }}` as null_rows
    from null_counts
    where `{{ column }}` > 0
    {{ 'union all' if not loop.last }}
    {%- endfor %}

)

select * from final

{% endtest %}
