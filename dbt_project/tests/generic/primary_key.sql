{#- A key column: never null and never twice. One scan instead of dbt's unique and not_null tests:
    on an incremental run every test node costs a fixed start-up besides its scan. -#}
{% test primary_key(model, column_name) %}
select {{ column_name }}, count(*) as occurrences
from {{ model }}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null
{% endtest %}
