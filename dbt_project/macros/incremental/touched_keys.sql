{#- Two CTEs for a model keyed by `keys` that recomputes, in an incremental run, only the keys with
    events on the changed dates (`changed`: the predicate changed_mart_dates() gives), over all their
    events: `touched` (those keys) and `scoped` (every event of them). `events` must be a CTE over
    cleaned_events. -#}
{% macro touched_keys_ctes(keys, changed) -%}
    touched as (

        select distinct {{ keys | join(', ') }}
        from events
        where {{ changed }}

    ),

    scoped as (

        select events.*
        from events
        -- A semi join filters and selects nothing from touched (sqlfluff would call it unused).
        left semi join touched  -- noqa: ST11
            on {% for key in keys %}events.{{ key }} = touched.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}

    ),
{%- endmacro %}
