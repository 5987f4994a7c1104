-- View -> cart -> purchase funnel per day and top-level category: events, users and ratios.
-- The ratios compare event counts, not people: purchases often happen without a cart event
-- in the same day and category (real logs show up to 6 purchases per cart), so they can
-- exceed 1 and are named "per", not "rate". The user shares are true conversion rates.
with

events as (

    select * from {{ ref('cleaned_events') }}

),

per_day_category as (

    select
        event_date,
        category_l1,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'purchase') as purchases,
        count(distinct case when event_type = 'view' then user_id end) as viewing_users,
        count(distinct case when event_type = 'cart' then user_id end) as carting_users,
        count(distinct case when event_type = 'purchase' then user_id end) as buying_users,
        -- Viewers who also bought in the category that day: the numerator of a rate within 0..1.
        size(array_intersect(
            collect_set(case when event_type = 'view' then user_id end),
            collect_set(case when event_type = 'purchase' then user_id end)
        )) as buying_viewers
    from events
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
