-- One row per (event date, user, product): the day's event counts, first and last event time, and
-- the implicit-feedback strength stored against a fixed anchor time t0 (var interaction_anchor_date):
--   anchored_strength = sum over events of weight(event_type) * 2 ^ ((event_time - t0) / half_life)
-- Sums over days give a pair's figures, so a new day is a new partition and nothing stored is
-- rewritten; user_item_interactions scales the strength to the newest event at read time.
-- Incremental like the revenue marts: a run recomputes the dates that received new events (a late
-- file included); a change of weights, half-life, anchor or cleaning rules rebuilds it in full.
with

events as (

    select * from {{ ref('cleaned_events') }}
    {% if is_incremental() %}
        where {{ changed_mart_dates() }}
    {% endif %}

),

final as (

    select
        event_date,
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
    from events
    group by event_date, user_id, product_id

)

select * from final
