-- Daily active users, sessions and events by type.
-- Incremental: a run recomputes the dates that received new events (macros/incremental/changed_event_dates.sql).
with

events as (

    select * from {{ ref('cleaned_events') }}
    {% if is_incremental() %}
        where {{ changed_mart_dates() }}
    {% endif %}

),

per_user_session as (

    -- One row per day, user and session first: two count(distinct) over the raw events make Spark
    -- copy every event three times into its shuffle (one copy per distinct aggregate and one for the
    -- rest); over these rows the copies are a fraction of that.
    select
        event_date,
        user_id,
        user_session,
        count(*) as events,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'remove_from_cart') as removes,
        count_if(event_type = 'purchase') as purchases,
        max(last_ingested_at) as last_ingested_at
    from events
    group by event_date, user_id, user_session

),

final as (

    select
        event_date,
        count(distinct user_id) as active_users,
        count(distinct user_session) as sessions,
        sum(events) as events,
        sum(views) as views,
        sum(carts) as carts,
        sum(removes) as removes,
        sum(purchases) as purchases,
        max(last_ingested_at) as last_ingested_at
    from per_user_session
    group by event_date

)

select * from final
