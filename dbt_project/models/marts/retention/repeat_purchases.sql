-- Repeat purchasing per monthly acquisition cohort: how many buyers came back for a second order,
-- and how long the gaps between a buyer's consecutive orders are.
with

orders as (

    select * from {{ ref('int_customer_orders') }}

),

sequenced as (

    -- Each buyer's orders in time order, with the buyer's cohort and order count from the same window:
    -- one shuffle and sort of the orders, no per-buyer aggregate joined back.
    select
        ordered_at,
        lag(ordered_at) over buyer_in_order as previous_ordered_at,
        cast(date_trunc('month', min(order_date) over whole_buyer) as date) as cohort_month,
        count(*) over whole_buyer as buyer_orders
    from orders
    window
        buyer_in_order as (partition by user_id order by ordered_at),
        whole_buyer as (partition by user_id)

),

final as (

    -- The row without a previous order stands for its buyer; the others are the gaps.
    select
        cohort_month,
        count_if(previous_ordered_at is null) as buyers,
        count_if(previous_ordered_at is null and buyer_orders >= 2) as repeat_buyers,
        count_if(previous_ordered_at is null and buyer_orders >= 2)
        / count_if(previous_ordered_at is null) as repeat_purchase_rate,
        count(*) as orders,
        count(*) / count_if(previous_ordered_at is null) as orders_per_buyer,
        avg((unix_timestamp(ordered_at) - unix_timestamp(previous_ordered_at)) / 86400) as mean_days_between_orders,
        percentile((unix_timestamp(ordered_at) - unix_timestamp(previous_ordered_at)) / 86400, 0.5)
            as median_days_between_orders
    from sequenced
    group by cohort_month

)

select * from final
