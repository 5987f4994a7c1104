-- One row per user: first and last activity, event counts, purchases and spend.
-- Incremental: a run recomputes the users with events on the changed dates, over all their events.
with

events as (

    select * from {{ ref('cleaned_events') }}

),

{% if is_incremental() %}
    {{ touched_keys_ctes(['user_id'], changed_mart_dates()) }}
{% else %}
    scoped as (

        select * from events

    ),
{% endif %}

final as (

    select
        user_id,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at,
        count(*) as events,
        count(distinct user_session) as sessions,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'purchase') as purchases,
        coalesce(sum(case when event_type = 'purchase' then price end), cast(0 as decimal(28, 2))) as spend,
        max(last_ingested_at) as last_ingested_at
    from scoped
    group by user_id

)

select * from final
