-- Revenue by category at each taxonomy level (1 = 'electronics', 2 = 'electronics.audio', ...).
with

purchases as (

    select * from {{ ref('cleaned_purchases') }}

),

levels as (

    select
        1 as category_level,
        category_l1 as category,
        price,
        user_id
    from purchases
    union all
    select
        2,
        concat_ws('.', category_l1, category_l2),
        price,
        user_id
    from purchases
    where category_l2 is not null
    union all
    select
        3,
        concat_ws('.', category_l1, category_l2, category_l3),
        price,
        user_id
    from purchases
    where category_l3 is not null

),

final as (

    select
        category_level,
        category,
        sum(price) as revenue,
        count(*) as purchases,
        count(distinct user_id) as buyers
    from levels
    group by category_level, category

)

select * from final
