-- View -> cart -> purchase funnel per day and top-level category: events, users and rates.
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
        count(distinct case when event_type = 'purchase' then user_id end) as buying_users
    from events
    group by event_date, category_l1

),

final as (

    select
        *,
        carts / nullif(views, 0) as view_to_cart_rate,
        purchases / nullif(carts, 0) as cart_to_purchase_rate,
        purchases / nullif(views, 0) as view_to_purchase_rate
    from per_day_category

)

select * from final
