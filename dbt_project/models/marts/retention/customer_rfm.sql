-- RFM per buyer: recency (days from the last order to the newest day of data), frequency (orders)
-- and monetary value (revenue), each scored 1-5 by quintile and named as a segment (README,
-- "Customer segments"). Ties share a score: a quintile is 1 + floor(5 * (rank - 1) / buyers) with
-- rank() over the ascending measure, so every buyer with one order gets the same frequency score.
with

orders as (

    select * from {{ ref('int_customer_orders') }}

),

events as (

    select * from {{ ref('cleaned_events') }}

),

-- From the newest event time: a global max() of a date column fails on the Thrift Server (Delta's
-- metadata-only aggregate with java.time dates, delta-io/delta#4201); timestamps are not affected.
as_of as (

    select to_date(max(event_time)) as as_of_date from events

),

per_buyer as (

    select
        user_id,
        max(order_date) as last_order_date,
        count(*) as orders,
        sum(revenue) as revenue
    from orders
    group by user_id

),

measured as (

    select
        per_buyer.*,
        as_of.as_of_date,
        datediff(as_of.as_of_date, per_buyer.last_order_date) as recency_days
    from per_buyer
    cross join as_of

),

scored as (

    select
        *,
        1 + floor(5 * (rank() over (order by recency_days desc) - 1) / count(*) over ()) as recency_score,
        1 + floor(5 * (rank() over (order by orders) - 1) / count(*) over ()) as frequency_score,
        1 + floor(5 * (rank() over (order by revenue) - 1) / count(*) over ()) as monetary_score
    from measured

),

final as (

    select
        user_id,
        as_of_date,
        last_order_date,
        recency_days,
        orders,
        revenue,
        cast(recency_score as int) as recency_score,
        cast(frequency_score as int) as frequency_score,
        cast(monetary_score as int) as monetary_score,
        case
            when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4 then 'champions'
            when recency_score >= 3 and frequency_score >= 4 then 'loyal'
            when recency_score >= 4 then 'promising'
            when recency_score = 3 then 'needs attention'
            when frequency_score >= 4 or monetary_score >= 4 then 'at risk'
            else 'lost'
        end as segment
    from scored

)

select * from final
