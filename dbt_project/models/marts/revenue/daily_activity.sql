-- Daily active users, sessions and events by type.
with

events as (

    select * from {{ ref('cleaned_events') }}

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
        count_if(event_type = 'purchase') as purchases
    from events
    group by event_date

)

select * from final
