{#- Fails on rows where the SQL expression is not true (null counts as a failure).
    Restrict the rows with dbt's own `config: where:`. -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
