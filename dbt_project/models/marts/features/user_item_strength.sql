-- One row per (user, product): event counts and the implicit-feedback strength stored against a
-- fixed anchor time t0 (var interaction_anchor_date):
--   anchored_strength = sum over events of weight(event_type) * 2 ^ ((event_time - t0) / half_life)
-- so a new day only changes the pairs with new events; user_item_interactions scales it to the
-- newest event at read time. A change of weights, half-life or anchor rebuilds it in full.
-- A new day is aggregated alone and added to the stored pairs (macros/incremental/additive_merge.sql); a late
-- file for a date already counted recomputes its pairs over all their events.
{%- set additive = additive_update_applies() %}
with

events as (

    select * from {{ ref('cleaned_events') }}
    {% if additive %}
        where {{ changed_mart_dates() }}
    {% endif %}

),

{% if is_incremental() and not additive %}
    {{ touched_keys_ctes(['user_id', 'product_id'], changed_mart_dates()) }}
{% else %}
    scoped as (

        select * from events

    ),
{% endif %}

final as (

    select
        user_id,
        product_id,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'remove_from_cart') as removes,
        count_if(event_type = 'purchase') as purchases,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at,
        sum(
            {{ event_weight('event_type') }} * pow(
                2.0,
                cast(unix_timestamp(event_time) - {{ interaction_anchor_epoch() }} as double)
                / 86400 / {{ var('recency_half_life_days') }}
            )
        ) as anchored_strength,
        max(last_ingested_at) as last_ingested_at
    from scoped
    group by user_id, product_id

)

select * from final
