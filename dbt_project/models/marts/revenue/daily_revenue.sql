-- Revenue per day: one purchase row is one item; revenue is the sum of purchase prices.
-- Incremental: a run recomputes the dates that received new events (macros/incremental/changed_event_dates.sql).
with

events as (

    select * from {{ ref('cleaned_events') }}
    {% if is_incremental() %}
        where {{ changed_mart_dates() }}
    {% endif %}

),

days as (

    select
        event_date,
        max(last_ingested_at) as last_ingested_at
    from events
    group by event_date

),

purchases as (

    select * from events
    where event_type = 'purchase'

),

per_day as (

    select
        event_date,
        sum(price) as revenue,
        count(*) as purchases,
        count(distinct user_id) as buyers,
        count(distinct user_session) as purchase_sessions
    from purchases
    group by event_date

),

final as (

    select
        days.event_date,
        coalesce(per_day.revenue, cast(0 as decimal(28, 2))) as revenue,
        coalesce(per_day.purchases, 0) as purchases,
        coalesce(per_day.buyers, 0) as buyers,
        coalesce(per_day.purchase_sessions, 0) as purchase_sessions,
        cast(per_day.revenue / per_day.purchase_sessions as decimal(18, 2)) as avg_basket_value,
        cast(per_day.purchases / per_day.purchase_sessions as double) as avg_items_per_basket,
        days.last_ingested_at
    from days
    left join per_day on days.event_date = per_day.event_date

)

select * from final
