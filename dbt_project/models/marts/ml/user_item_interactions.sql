-- One row per (user, product): event counts and an implicit-feedback strength for ALS.
-- strength = sum over events of weight(event_type) * 0.5 ^ (age_days / half_life), where
-- age is measured back from the newest event in the data and weights come from the
-- event_weights var.
with

events as (

    select * from {{ ref('cleaned_events') }}

),

reference_time as (

    select max(event_time) as newest_event_at from events

),

weighted as (

    select
        events.user_id,
        events.product_id,
        events.event_type,
        events.event_time,
        {{ event_weight('events.event_type') }} * pow(
            0.5,
            cast(unix_timestamp(reference_time.newest_event_at) - unix_timestamp(events.event_time) as double)
                / 86400 / {{ var('recency_half_life_days') }}
        ) as decayed_weight
    from events
    cross join reference_time

),

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
        sum(decayed_weight) as strength
    from weighted
    group by user_id, product_id

)

select * from final
