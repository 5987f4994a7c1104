-- What the served lists sold: each day's buyers and carters against the list each of them was
-- served that day (their newest list made from data before that day), by the run that made the
-- list; and the same users against the popular list then in service, as a baseline. A hit at k:
-- the user bought (carted) a product ranked k or better. Incremental like the revenue marts: a run
-- recomputes the dates that received new events.
with

served as (

    select * from {{ ref('stg_ml__served_recommendations') }}
    where {{ since_last_refit_before_changes('list_date') }}

),

served_popular as (

    select * from {{ ref('stg_ml__served_popular') }}

),

events as (

    select * from {{ ref('cleaned_events') }}
    where
        event_type in ('purchase', 'cart')
        and {{ after_first_served_list('event_date') }}
        {% if is_incremental() %}
            and {{ changed_mart_dates() }}
        {% endif %}

),

actions as (

    select
        event_date,
        user_id,
        product_id,
        event_type,
        price,
        last_ingested_at
    from events

),

active_users as (

    select
        event_date,
        user_id,
        max(event_type = 'purchase') as bought,
        max(event_type = 'cart') as carted,
        sum(case when event_type = 'purchase' then price end) as revenue
    from actions
    group by event_date, user_id

),

-- The lists served before each active user's day, from one read of the served history (one row per
-- list): the day's few thousand active users are broadcast to it, and only their lists are exploded.
served_before as (

    select /*+ broadcast(active_users) */
        active_users.event_date,
        active_users.user_id,
        served.list_date,
        served.run_id,
        served.items
    from served
    inner join active_users
        on
            served.user_id = active_users.user_id
            and served.list_date < active_users.event_date

),

served_before_ranked as (

    select
        *,
        max(list_date) over (partition by event_date, user_id) as newest_list_date
    from served_before

),

-- The list in service: the newest made before the day, one row per product.
in_service_rows as (

    select
        served_before_ranked.event_date,
        served_before_ranked.user_id,
        served_before_ranked.run_id,
        item.product_id,
        item.rank as recommendation_rank
    from served_before_ranked
        lateral view explode(served_before_ranked.items) exploded as item
    where served_before_ranked.list_date = served_before_ranked.newest_list_date

),

in_service as (

    select distinct
        event_date,
        user_id
    from in_service_rows

),

service_days as (

    select distinct event_date from in_service

),

popular_list_dates as (

    select distinct list_date from served_popular

),

popular_in_service as (

    select
        service_days.event_date,
        max(popular_list_dates.list_date) as list_date
    from service_days
    inner join popular_list_dates on service_days.event_date > popular_list_dates.list_date
    group by service_days.event_date

),

lists as (

    select
        event_date,
        user_id,
        'model' as list_source,
        run_id,
        product_id,
        recommendation_rank
    from in_service_rows

    union all

    -- The popular list cut to the personal lists' length (ml top_n, 20 by default).
    select
        in_service.event_date,
        in_service.user_id,
        'popularity' as list_source,
        served_popular.run_id,
        served_popular.product_id,
        served_popular.popularity_rank as recommendation_rank
    from in_service
    inner join popular_in_service on in_service.event_date = popular_in_service.event_date
    inner join served_popular
        on
            popular_in_service.list_date = served_popular.list_date
            and served_popular.popularity_rank <= 20

),

list_users as (

    select distinct
        event_date,
        list_source,
        run_id,
        user_id
    from lists

),

matches as (

    select
        lists.event_date,
        lists.list_source,
        lists.run_id,
        lists.user_id,
        min(case when actions.event_type = 'purchase' then lists.recommendation_rank end) as best_bought_rank,
        min(case when actions.event_type = 'cart' then lists.recommendation_rank end) as best_carted_rank,
        sum(case when actions.event_type = 'purchase' then actions.price end) as recommended_revenue
    from lists
    inner join actions
        on
            lists.event_date = actions.event_date
            and lists.user_id = actions.user_id
            and lists.product_id = actions.product_id
    group by lists.event_date, lists.list_source, lists.run_id, lists.user_id

),

day_loads as (

    select
        event_date,
        max(last_ingested_at) as last_ingested_at
    from actions
    group by event_date

),

per_run as (

    select
        list_users.event_date,
        list_users.list_source,
        list_users.run_id,
        count_if(active_users.bought) as buyers,
        count_if(active_users.bought and matches.best_bought_rank <= 5) as buyers_hit_at_5,
        count_if(active_users.bought and matches.best_bought_rank <= 10) as buyers_hit_at_10,
        count_if(active_users.bought and matches.best_bought_rank <= 20) as buyers_hit_at_20,
        count_if(active_users.carted) as carters,
        count_if(active_users.carted and matches.best_carted_rank <= 20) as carters_hit_at_20,
        coalesce(sum(active_users.revenue), 0) as revenue,
        coalesce(sum(matches.recommended_revenue), 0) as recommended_revenue
    from list_users
    inner join active_users
        on list_users.event_date = active_users.event_date and list_users.user_id = active_users.user_id
    left join matches
        on
            list_users.event_date = matches.event_date
            and list_users.list_source = matches.list_source
            and list_users.run_id = matches.run_id
            and list_users.user_id = matches.user_id
    group by list_users.event_date, list_users.list_source, list_users.run_id

),

final as (

    select
        per_run.event_date,
        per_run.list_source,
        per_run.run_id,
        per_run.buyers,
        per_run.buyers_hit_at_5,
        per_run.buyers_hit_at_10,
        per_run.buyers_hit_at_20,
        per_run.buyers_hit_at_5 / nullif(per_run.buyers, 0) as hit_rate_at_5,
        per_run.buyers_hit_at_10 / nullif(per_run.buyers, 0) as hit_rate_at_10,
        per_run.buyers_hit_at_20 / nullif(per_run.buyers, 0) as hit_rate_at_20,
        per_run.carters,
        per_run.carters_hit_at_20,
        per_run.carters_hit_at_20 / nullif(per_run.carters, 0) as cart_hit_rate_at_20,
        per_run.revenue,
        per_run.recommended_revenue,
        per_run.recommended_revenue / nullif(per_run.revenue, 0) as recommended_revenue_share,
        day_loads.last_ingested_at
    from per_run
    inner join day_loads on per_run.event_date = day_loads.event_date

)

select * from final
