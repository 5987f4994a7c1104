-- Every buyer with total spend, ranked (rank 1 = highest spend).
with

purchases as (

    select * from {{ ref('cleaned_purchases') }}

),

per_user as (

    select
        user_id,
        sum(price) as spend,
        count(*) as purchases,
        count(distinct user_session) as purchase_sessions,
        min(event_time) as first_purchase_at,
        max(event_time) as last_purchase_at
    from purchases
    group by user_id

),

final as (

    select
        *,
        row_number() over (order by spend desc, purchases desc, user_id asc) as spend_rank
    from per_user

)

select * from final
