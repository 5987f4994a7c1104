-- View -> cart -> purchase funnel per day and top-level category: events, users and ratios.
-- The ratios compare event counts, not people: purchases often happen without a cart event
-- in the same day and category (real logs show up to 6 purchases per cart), so they can
-- exceed 1 and are named "per", not "rate". The user shares are true conversion rates.
-- Incremental: a run recomputes the dates that received new events (macros/incremental/changed_event_dates.sql).
with

events as (

    select * from {{ ref('cleaned_events') }}
    {% if is_incremental() %}
        where {{ changed_mart_dates() }}
    {% endif %}

),

per_user as (

    -- One row per user, day and category first: the user counts below are then plain counts,
    -- with no count(distinct) or set per group (at 10M events those took 43 s of the build).
    select
        event_date,
        category_l1,
        user_id,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'purchase') as purchases,
        max(last_ingested_at) as last_ingested_at
    from events
    group by event_date, category_l1, user_id

),

per_day_category as (

    select
        event_date,
        category_l1,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases,
        count_if(views > 0) as viewing_users,
        count_if(carts > 0) as carting_users,
        count_if(purchases > 0) as buying_users,
        -- Viewers who also bought in the category that day: the numerator of a rate within 0..1.
        count_if(views > 0 and purchases > 0) as buying_viewers,
        max(last_ingested_at) as last_ingested_at
    from per_user
    group by event_date, category_l1

),

final as (

    select
        *,
        carts / nullif(views, 0) as carts_per_view,
        purchases / nullif(carts, 0) as purchases_per_cart,
        purchases / nullif(views, 0) as purchases_per_view,
        buying_viewers / nullif(viewing_users, 0) as viewer_purchase_rate
    from per_day_category

)

select * from final
