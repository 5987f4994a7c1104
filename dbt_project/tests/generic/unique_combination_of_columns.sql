{#- Fails on every combination of the columns that occurs more than once (nulls compare equal, as in
    a group by). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{{ key_violations(model, combination_of_columns, nulls_allowed=true) }}
{% endtest %}
