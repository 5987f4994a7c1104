{#- A key column: never null and never twice. One test instead of dbt's unique and not_null: on an
    incremental run every test node costs a fixed start-up besides its scan. -#}
{% test primary_key(model, column_name) %}
{{ key_violations(model, [column_name]) }}
{% endtest %}
