-- The lists one row per product.
with

lists as (

    select * from {{ ref('stg_ml__recommendation_lists') }}

),

final as (

    select
        lists.user_id,
        item.product_id,
        item.rank as recommendation_rank,
        item.score,
        lists.run_id,
        lists.generated_at
    from lists
        lateral view explode(lists.items) exploded as item

)

select * from final
