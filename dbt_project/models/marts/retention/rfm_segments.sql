-- Buyers and revenue per RFM segment (customer_rfm), in the order of the segment definitions.
with

rfm as (

    select * from {{ ref('customer_rfm') }}

),

per_segment as (

    select
        segment,
        count(*) as buyers,
        sum(revenue) as revenue,
        avg(recency_days) as avg_recency_days,
        avg(orders) as avg_orders,
        avg(revenue) as avg_revenue
    from rfm
    group by segment

),

final as (

    select
        segment,
        case segment
            when 'champions' then 1
            when 'loyal' then 2
            when 'promising' then 3
            when 'needs attention' then 4
            when 'at risk' then 5
            else 6
        end as segment_order,
        buyers,
        buyers / sum(buyers) over () as buyer_share,
        revenue,
        revenue / nullif(sum(revenue) over (), 0) as revenue_share,
        avg_recency_days,
        avg_orders,
        avg_revenue
    from per_segment

)

select * from final
