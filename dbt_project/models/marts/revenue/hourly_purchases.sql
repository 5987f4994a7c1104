-- Purchase activity by hour of day (UTC) over the whole period: total and average per day.
with

purchases as (

    select * from {{ ref('cleaned_purchases') }}

),

daily_activity as (

    select * from {{ ref('daily_activity') }}

),

period as (

    -- daily_activity has one row per date with any event.
    select count(*) as days_in_period from daily_activity

),

hours as (

    select explode(sequence(0, 23)) as event_hour

),

per_hour as (

    select
        event_hour,
        count(*) as purchases,
        sum(price) as revenue
    from purchases
    group by event_hour

),

final as (

    select
        hours.event_hour,
        coalesce(per_hour.purchases, 0) as purchases,
        coalesce(per_hour.revenue, cast(0 as decimal(28, 2))) as revenue,
        period.days_in_period,
        coalesce(per_hour.purchases, 0) / nullif(period.days_in_period, 0) as avg_purchases_per_day
    from hours
    cross join period
    left join per_hour on hours.event_hour = per_hour.event_hour

)

select * from final
