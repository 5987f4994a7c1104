{#
    The rows behind a broken key: every combination of the columns found more than once (and, unless
    nulls are allowed, every combination holding a null), with its count. Grouping the values of a
    large table shuffles them all; it groups their 64-bit hashes first (the seed's month: the key of
    user_item_days 36 s against 60 s), and compares the values only inside the hash groups of
    more than one row (a duplicate, or a rare collision) or with a null. The second scan joins a
    broadcast of those groups, and Spark skips it when there are none.
#}
{% macro key_violations(model, columns, nulls_allowed=false) %}
    {%- set key = columns | join(', ') -%}
    {%- set any_null = '(' ~ columns | join(' is null or ') ~ ' is null)' -%}
with

hashed as (

    select {{ key }}, xxhash64({{ key }}) as key_hash
    from {{ model }}

),

suspect_hashes as (

    select key_hash
    from hashed
    group by key_hash
    having count(*) > 1{% if not nulls_allowed %} or count_if{{ any_null }} > 0{% endif %}

),

suspect_rows as (

    select /*+ broadcast(suspect_hashes) */ hashed.*
    from hashed
    left semi join suspect_hashes on hashed.key_hash = suspect_hashes.key_hash

)

select {{ key }}, count(*) as occurrences
from suspect_rows
group by {{ key }}
having count(*) > 1{% if not nulls_allowed %} or {{ any_null }}{% endif %}
{% endmacro %}
