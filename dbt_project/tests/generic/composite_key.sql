{#- Columns that together identify a row: none of them null, no combination twice. One scan
    instead of a uniqueness test plus a not_null test per column: on an incremental run every
    test node costs a fixed start-up besides its scan. -#}
{% test composite_key(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1 or {{ columns | join(' is null or ') }} is null
{% endtest %}
