{#- The implicit-feedback weight of an event of the given type (var event_weights; 0 for types
    it does not list), as a SQL expression. -#}
{% macro event_weight(event_type_column) -%}
    case {{ event_type_column }}
    {%- for event_type, weight in var('event_weights').items() %}
        when '{{ event_type }}' then cast({{ weight }} as double)
    {%- endfor %}
        else cast(0 as double)
    end
{%- endmacro %}

{#- The anchor time t0 of the stored interaction strengths (var interaction_anchor_date, UTC
    midnight) in epoch seconds. -#}
{% macro interaction_anchor_epoch() -%}
    unix_timestamp(timestamp'{{ var('interaction_anchor_date') }} 00:00:00')
{%- endmacro %}
