-- Each user's latest list, one row per user, with what Tableau shows about each product as it was
-- when the list was made. Stored as lists so that a daily update, which replaces the changed users'
-- lists, copies one row per other user instead of one per recommended product.
-- The group replacement compares it with the input's lists (replace_groups_input):
-- depends_on: {{ ref('stg_ml__recommendation_lists') }}
with

recommendations as (

    select * from {{ ref('stg_ml__recommendations') }}
    {% if is_incremental() %}
        -- the lists that runs wrote since the last build: a daily update's changed users
        where run_id not in (select distinct run_id from {{ this }})
    {% endif %}

),

products as (

    select * from {{ ref('dim_products') }}

),

enriched as (

    select
        recommendations.user_id,
        recommendations.run_id,
        recommendations.generated_at,
        named_struct(
            'recommendation_rank', recommendations.recommendation_rank,
            'product_id', recommendations.product_id,
            'score', recommendations.score,
            'brand', coalesce(products.brand, 'unknown'),
            'category_code', coalesce(products.category_code, 'unknown'),
            'category_l1', coalesce(products.category_l1, 'unknown'),
            'price', products.price
        ) as item
    from recommendations
    left join products on recommendations.product_id = products.product_id

),

final as (

    select
        user_id,
        -- the first field of the items is the rank: sorted, they are in rank order
        sort_array(collect_list(item)) as items,
        run_id,
        generated_at
    from enriched
    group by user_id, run_id, generated_at

)

select * from final
