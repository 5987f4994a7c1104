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

gaps as (

    -- The order without a previous one stands for its buyer; the others are the gaps.
    select
        cohort_month,
        buyer_orders,
        previous_ordered_at is null as is_first_order,
        (unix_timestamp(ordered_at) - unix_timestamp(previous_ordered_at)) / 86400 as days_since_previous
    from sequenced

),

per_cohort as (

    select
        cohort_month,
        count_if(is_first_order) as buyers,
        count_if(is_first_order and buyer_orders >= 2) as repeat_buyers,
        count(*) as orders,
        avg(days_since_previous) as mean_days_between_orders,
        percentile(days_since_previous, 0.5) as median_days_between_orders
    from gaps
    group by cohort_month

),

final as (

    select
        cohort_month,
        buyers,
        repeat_buyers,
        repeat_buyers / buyers as repeat_purchase_rate,
        orders,
        orders / buyers as orders_per_buyer,
        mean_days_between_orders,
        median_days_between_orders
    from per_cohort

)

select * from final
