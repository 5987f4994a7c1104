-- The recommenders' input: one row per (event date, user, product) with the day's event counts and
-- an implicit-feedback strength; a pair's strength is the sum over its days (the ML sums per pair).
-- strength = sum over events of weight(event_type) * 0.5 ^ (age_days / half_life), where age is
-- measured back from the newest event in the data and weights come from the event_weights var.
-- Computed at read time from user_item_days' anchored sums:
-- strength = anchored_strength * 2 ^ ((t0 - newest event) / half_life).
-- Per day, not per pair: a daily update's "pairs with new events" is then a filter on last_event_at
-- that Delta's file statistics answer, where a per-pair view would aggregate every stored day first.
with

days as (

    select * from {{ ref('user_item_days') }}

),

reference_time as (

    select max(last_event_at) as newest_event_at from days

),

final as (

    select
        days.event_date,
        days.user_id,
        days.product_id,
        days.views,
        days.carts,
        days.removes,
        days.purchases,
        days.first_event_at,
        days.last_event_at,
        days.anchored_strength * pow(
            2.0,
            cast({{ interaction_anchor_epoch() }} - unix_timestamp(reference_time.newest_event_at) as double)
            / 86400 / {{ var('recency_half_life_days') }}
        ) as strength,
        days.last_ingested_at
    from days
    cross join reference_time

)

select * from final
