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

user_session_hashes as (

    -- Distinct (user, session hash) pairs first, in a hash aggregate: collect_set over every event
    -- makes Spark fall back to sorting all of them (its object aggregate gives up after 128 keys
    -- per task); the sets are then gathered from these far fewer rows.
    select
        user_id,
        -- user_session is never null in cleaned_events (a surrogate stands in).
        xxhash64(user_session) as session_hash,
        max(last_ingested_at) as last_ingested_at
    from events
    group by user_id, xxhash64(user_session)

),

final as (

    select
        user_id,
        -- The pairs are distinct already: a list holds the same elements as a set.
        collect_list(session_hash) as session_hashes,
        max(last_ingested_at) as last_ingested_at
    from user_session_hashes
    group by user_id

)

select * from final
