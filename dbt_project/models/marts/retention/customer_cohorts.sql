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

orders_by_grain as (

    select
        grains.cohort_grain,
        orders.user_id,
        orders.revenue,
        cast(date_trunc(grains.cohort_grain, orders.order_date) as date) as period_start
    from orders
    cross join grains

),

first_periods as (

    select
        cohort_grain,
        user_id,
        min(period_start) as cohort_start
    from orders_by_grain
    group by cohort_grain, user_id

),

cohort_sizes as (

    select
        cohort_grain,
        cohort_start,
        count(*) as cohort_buyers
    from first_periods
    group by cohort_grain, cohort_start

),

dated as (

    select
        o.cohort_grain,
        o.user_id,
        o.revenue,
        o.period_start,
        f.cohort_start,
        case
            when o.cohort_grain = 'week' then cast(datediff(o.period_start, f.cohort_start) / 7 as int)
            else cast(months_between(o.period_start, f.cohort_start) as int)
        end as periods_since
    from orders_by_grain as o
    inner join first_periods as f
        on o.cohort_grain = f.cohort_grain and o.user_id = f.user_id

),

activity as (

    select
        cohort_grain,
        cohort_start,
        periods_since,
        min(period_start) as period_start,
        count(distinct user_id) as active_buyers,
        count(*) as orders,
        sum(revenue) as revenue
    from dated
    group by cohort_grain, cohort_start, periods_since

),

final as (

    select
        activity.cohort_grain,
        activity.cohort_start,
        activity.periods_since,
        activity.period_start,
        cohort_sizes.cohort_buyers,
        activity.active_buyers,
        activity.active_buyers / cohort_sizes.cohort_buyers as retention_share,
        activity.orders,
        activity.revenue
    from activity
    inner join cohort_sizes
        on activity.cohort_grain = cohort_sizes.cohort_grain and activity.cohort_start = cohort_sizes.cohort_start

)

select * from final
