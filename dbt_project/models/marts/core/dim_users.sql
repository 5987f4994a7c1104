-- One row per user: first and last activity, event counts, sessions, purchases and spend.
-- Incremental: a new day is aggregated alone and merged into the stored users
-- (macros/incremental/additive_merge.sql); a late file for a date already counted recomputes its
-- users over all their events. Sessions are the size of the user's session set
-- (int_user_sessions, merged before this model), which a day's count could not be added to.
{%- set additive = additive_update_applies() %}
with

events as (

    select * from {{ ref('cleaned_events') }}
    {% if additive %}
        where {{ changed_mart_dates() }}
    {% endif %}

),

session_sets as (

    select * from {{ ref('int_user_sessions') }}

),

{% if is_incremental() and not additive %}
    {{ touched_keys_ctes(['user_id'], changed_mart_dates()) }}
{% else %}
    scoped as (

        select * from events

    ),
{% endif %}

aggregated as (

    select
        user_id,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at,
        count(*) as events,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'purchase') as purchases,
        coalesce(sum(case when event_type = 'purchase' then price end), cast(0 as decimal(28, 2))) as spend,
        max(last_ingested_at) as last_ingested_at
    from scoped
    group by user_id

),

final as (

    select
        aggregated.user_id,
        aggregated.first_seen_at,
        aggregated.last_seen_at,
        aggregated.events,
        cast(size(session_sets.session_hashes) as bigint) as sessions,
        aggregated.views,
        aggregated.carts,
        aggregated.purchases,
        aggregated.spend,
        aggregated.last_ingested_at
    from aggregated
    inner join session_sets on aggregated.user_id = session_sets.user_id

)

select * from final
