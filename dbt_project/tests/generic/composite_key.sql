{#- Columns that together identify a row: none of them null, no combination twice. One test
    instead of a uniqueness test plus a not_null test per column: on an incremental run every
    test node costs a fixed start-up besides its scan. -#}
{% test composite_key(model, columns) %}
{{ key_violations(model, columns) }}
{% endtest %}
