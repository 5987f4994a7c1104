-- Average revenue, purchases and active users per day, by day of week.
with

daily_revenue as (

    select * from {{ ref('daily_revenue') }}

),

daily_activity as (

    select * from {{ ref('daily_activity') }}

),

days as (

    select
        a.event_date,
        ((dayofweek(a.event_date) + 5) % 7) + 1 as event_weekday,
        date_format(a.event_date, 'EEEE') as event_weekday_name,
        a.active_users,
        a.sessions,
        r.revenue,
        r.purchases
    from daily_activity as a
    inner join daily_revenue as r on a.event_date = r.event_date

),

final as (

    select
        event_weekday,
        event_weekday_name,
        count(*) as days_in_period,
        sum(revenue) as total_revenue,
        cast(avg(revenue) as decimal(18, 2)) as avg_revenue,
        avg(purchases) as avg_purchases,
        avg(active_users) as avg_active_users,
        avg(sessions) as avg_sessions
    from days
    group by event_weekday, event_weekday_name

)

select * from final
