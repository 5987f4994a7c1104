-- One row per user: the set of their sessions, as 64-bit hashes of user_session. dim_users counts a
-- user's sessions from it, so a new day adds its sessions to the stored sets (array_union, config
-- additive_merge) instead of recounting every touched user's history: at the seed's month that
-- recount read 412k users' whole histories (64 s) for a day whose own aggregate takes 6 s.
-- A session id can recur on later days (a session across midnight), which is why a count per day
-- cannot be added up. Sizes equal count(distinct user_session) unless two of one user's sessions
-- share a 64-bit hash; the full build and the daily union hold the same sets.
with

events as (

    select * from {{ ref('cleaned_events') }}
    {% if is_incremental() %}
        -- Every run adds the changed dates' sessions: a union is unharmed by a date added twice.
        where {{ changed_mart_dates() }}
    {% endif %}

),

final as (

    select
        user_id,
        -- user_session is never null in cleaned_events (a surrogate stands in).
        collect_set(xxhash64(user_session)) as session_hashes,
        max(last_ingested_at) as last_ingested_at
    from events
    group by user_id

)

select * from final
