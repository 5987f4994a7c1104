{#- Additive merges. A model configured with additive_merge ({column: rule}) keeps per-key
    aggregates that a new day can be added to: when every changed date is later than the newest
    event the table holds (a new day, the usual case), the model aggregates only the changed
    dates' events and the merge combines them with the stored values: sum adds, min and max keep
    the extreme, union adds the new elements to a stored set, newer takes the new day's value (an
    attribute of the latest event: the new day's events are all later, or a figure the model reads
    from an upstream table already merged) and newer_known the new day's value unless it is null.
    Otherwise (a late file for a date already counted) the model recomputes its touched keys over
    all their events and the merge replaces them. A model whose rules are all min, max or union
    can add a date twice without harm, so its merge is additive on every incremental run (no
    additive_time_column needed). The model and its merge ask the same question of the same, not
    yet merged, data, so they always agree. -#}
{% macro additive_update_applies() %}
    {%- if not (execute and is_incremental()) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set rules = config.require('additive_merge').values() | list -%}
    {%- if rules | reject('in', ['min', 'max', 'union']) | list | length == 0 -%}
        {{ return(true) }}
    {%- endif -%}
    {#- The model's column holding the newest event time of a key. -#}
    {%- set event_time_column = config.require('additive_time_column') -%}
    {%- set dates = changed_dates('last_ingested_at', 'cleaned_events') -%}
    {%- set newest = run_query('select cast(cast(max(' ~ event_time_column ~ ') as date) as string) from ' ~ this)
                              .columns[0].values()[0] -%}
    {{ return(dates | length > 0 and newest is not none and (dates | min) > newest) }}
{% endmacro %}


{% macro additive_merge_sql(target, source, unique_key, rules) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set combine = {'sum': '{d} + {s}', 'min': 'least({d}, {s})', 'max': 'greatest({d}, {s})',
                       'union': 'array_union({d}, {s})', 'newer': '{s}',
                       'newer_known': 'coalesce({s}, {d})'} -%}
    merge into {{ target }} as DBT_INTERNAL_DEST
    using {{ source }} as DBT_INTERNAL_SOURCE
    on {% for key in keys %}DBT_INTERNAL_DEST.{{ key }} = DBT_INTERNAL_SOURCE.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    when matched then update set
    {%- for column, rule in rules.items() %}
        {{ column }} = {{ combine[rule].format(d='DBT_INTERNAL_DEST.' ~ column, s='DBT_INTERNAL_SOURCE.' ~ column) }}{{ ',' if not loop.last }}
    {%- endfor %}
    when not matched then insert *
{%- endmacro %}
