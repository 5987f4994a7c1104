-- Each user's latest top-N recommendations, one row per product, with what Tableau shows about each
-- product as it was when the list was made (int_user_recommendation_lists holds them per user).
with

lists as (

    select * from {{ ref('int_user_recommendation_lists') }}

),

final as (

    select
        lists.user_id,
        item.recommendation_rank,
        item.product_id,
        item.score,
        item.brand,
        item.category_code,
        item.category_l1,
        item.price,
        lists.run_id,
        lists.generated_at
    from lists
        lateral view explode(lists.items) exploded as item

)

select * from final
