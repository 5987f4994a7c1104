-- One row per (user, product): event counts and an implicit-feedback strength for the recommenders.
-- strength = sum over events of weight(event_type) * 0.5 ^ (age_days / half_life), where
-- age is measured back from the newest event in the data and weights come from the
-- event_weights var. Computed at read time from user_item_strength's anchored sums:
-- strength = anchored_strength * 2 ^ ((t0 - newest event) / half_life).
with

strength as (

    select * from {{ ref('user_item_strength') }}

),

reference_time as (

    select max(last_event_at) as newest_event_at from strength

),

final as (

    select
        strength.user_id,
        strength.product_id,
        strength.views,
        strength.carts,
        strength.removes,
        strength.purchases,
        strength.first_event_at,
        strength.last_event_at,
        strength.anchored_strength * pow(
            2.0,
            cast({{ interaction_anchor_epoch() }} - unix_timestamp(reference_time.newest_event_at) as double)
            / 86400 / {{ var('recency_half_life_days') }}
        ) as strength
    from strength
    cross join reference_time

)

select * from final
