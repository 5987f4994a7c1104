-- Each user's latest top-N recommendations, with what Tableau shows about each product.
with

recommendations as (

    select * from {{ ref('stg_ml__recommendations') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

final as (

    select
        recommendations.user_id,
        recommendations.recommendation_rank,
        recommendations.product_id,
        recommendations.score,
        coalesce(products.brand, 'unknown') as brand,
        coalesce(products.category_code, 'unknown') as category_code,
        coalesce(products.category_l1, 'unknown') as category_l1,
        products.price,
        recommendations.run_id,
        recommendations.generated_at
    from recommendations
    left join products on recommendations.product_id = products.product_id

)

select * from final
