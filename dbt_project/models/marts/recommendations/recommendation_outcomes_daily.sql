-- recommendation_outcomes rolled up to one row per day and list source: the day's hit rates over
-- all runs whose lists were in service (a rate per run cannot be averaged into the day's).
with

outcomes as (

    select * from {{ ref('recommendation_outcomes') }}

),

per_day as (

    select
        event_date,
        list_source,
        count(*) as runs,
        sum(buyers) as buyers,
        sum(buyers_hit_at_5) as buyers_hit_at_5,
        sum(buyers_hit_at_10) as buyers_hit_at_10,
        sum(buyers_hit_at_20) as buyers_hit_at_20,
        sum(revenue) as revenue,
        sum(recommended_revenue) as recommended_revenue
    from outcomes
    group by event_date, list_source

),

final as (

    select
        event_date,
        list_source,
        runs,
        buyers,
        buyers_hit_at_5 / nullif(buyers, 0) as hit_rate_at_5,
        buyers_hit_at_10 / nullif(buyers, 0) as hit_rate_at_10,
        buyers_hit_at_20 / nullif(buyers, 0) as hit_rate_at_20,
        revenue,
        recommended_revenue,
        recommended_revenue / nullif(revenue, 0) as recommended_revenue_share
    from per_day

)

select * from final
