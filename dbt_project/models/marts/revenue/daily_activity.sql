-- Daily active users, sessions and events by type.
-- Incremental: a run recomputes the dates that received new events (macros/incremental/changed_event_dates.sql).
with

events as (

    select * from {{ ref('cleaned_events') }}
    {% if is_incremental() %}
        where {{ changed_mart_dates() }}
    {% endif %}

),

final as (

    select
        event_date,
        count(distinct user_id) as active_users,
        count(distinct user_session) as sessions,
        count(*) as events,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'remove_from_cart') as removes,
        count_if(event_type = 'purchase') as purchases,
        max(last_ingested_at) as last_ingested_at
    from events
    group by event_date

)

select * from final
