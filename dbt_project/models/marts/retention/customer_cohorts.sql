-- Acquisition cohorts: buyers grouped by the week (Monday) and the month of their first order,
-- followed period by period. Period 0 is the cohort's own week or month, so its retention is 1.
-- Only periods with at least one returning buyer have a row.
with

orders as (

    select * from {{ ref('int_customer_orders') }}

),

grains as (

    select explode(array('week', 'month')) as cohort_grain

),

buyer_periods as (

    -- One row per grain, buyer and period with an order: a cohort's active buyers are then counted
    -- as rows, with no distinct count.
    select
        grains.cohort_grain,
        orders.user_id,
        cast(date_trunc(grains.cohort_grain, orders.order_date) as date) as period_start,
        count(*) as orders,
        sum(orders.revenue) as revenue
    from orders
    cross join grains
    group by grains.cohort_grain, orders.user_id, cast(date_trunc(grains.cohort_grain, orders.order_date) as date)

),

dated as (

    -- A buyer's cohort is the period of their first order: a window over the buyer's periods instead
    -- of a per-buyer aggregate joined back.
    select
        *,
        min(period_start) over (partition by cohort_grain, user_id) as cohort_start
    from buyer_periods

),

aged as (

    select
        *,
        case
            when cohort_grain = 'week' then cast(datediff(period_start, cohort_start) / 7 as int)
            else cast(months_between(period_start, cohort_start) as int)
        end as periods_since
    from dated

),

activity as (

    select
        cohort_grain,
        cohort_start,
        periods_since,
        min(period_start) as period_start,
        count(*) as active_buyers,
        sum(orders) as orders,
        sum(revenue) as revenue
    from aged
    group by cohort_grain, cohort_start, periods_since

),

sized as (

    -- Every buyer of a cohort is active in its period 0.
    select
        *,
        max(case when periods_since = 0 then active_buyers end)
            over (partition by cohort_grain, cohort_start) as cohort_buyers
    from activity

),

final as (

    select
        cohort_grain,
        cohort_start,
        periods_since,
        period_start,
        cohort_buyers,
        active_buyers,
        active_buyers / cohort_buyers as retention_share,
        orders,
        revenue
    from sized

)

select * from final
