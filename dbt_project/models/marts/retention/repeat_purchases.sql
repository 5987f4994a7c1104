-- Repeat purchasing per monthly acquisition cohort: how many buyers came back for a second order,
-- and how long the gaps between a buyer's consecutive orders are.
with

orders as (

    select * from {{ ref('int_customer_orders') }}

),

sequenced as (

    select
        user_id,
        ordered_at,
        lag(ordered_at) over (partition by user_id order by ordered_at) as previous_ordered_at
    from orders

),

gap_days as (

    select
        user_id,
        (unix_timestamp(ordered_at) - unix_timestamp(previous_ordered_at)) / 86400 as days_since_previous
    from sequenced

),

per_buyer as (

    select
        user_id,
        cast(date_trunc('month', min(order_date)) as date) as cohort_month,
        count(*) as orders
    from orders
    group by user_id

),

buyers as (

    select
        cohort_month,
        count(*) as buyers,
        count_if(orders >= 2) as repeat_buyers,
        sum(orders) as orders
    from per_buyer
    group by cohort_month

),

gaps as (

    select
        per_buyer.cohort_month,
        avg(gap_days.days_since_previous) as mean_days_between_orders,
        percentile(gap_days.days_since_previous, 0.5) as median_days_between_orders
    from gap_days
    inner join per_buyer on gap_days.user_id = per_buyer.user_id
    where gap_days.days_since_previous is not null
    group by per_buyer.cohort_month

),

final as (

    select
        buyers.cohort_month,
        buyers.buyers,
        buyers.repeat_buyers,
        buyers.repeat_buyers / buyers.buyers as repeat_purchase_rate,
        buyers.orders,
        buyers.orders / buyers.buyers as orders_per_buyer,
        gaps.mean_days_between_orders,
        gaps.median_days_between_orders
    from buyers
    left join gaps on buyers.cohort_month = gaps.cohort_month

)

select * from final
