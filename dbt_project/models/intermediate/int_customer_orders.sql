-- One row per order: a session with at least one purchase (the basket), timed at its first purchase.
-- Retention, repeat purchases and RFM count orders, not items: three items bought in one
-- session are one visit to the shop.
with

purchases as (

    select * from {{ ref('cleaned_purchases') }}

),

final as (

    select
        user_id,
        user_session,
        min(event_time) as ordered_at,
        to_date(min(event_time)) as order_date,
        count(*) as items,
        sum(price) as revenue
    from purchases
    group by user_id, user_session

)

select * from final
