-- Each user's latest top-N recommendations, one row per product, with what Tableau shows about each
-- product as it was when the list was made (int_recommended_products, per run).
with

recommendations as (

    select * from {{ ref('stg_ml__recommendations') }}

),

products as (

    select * from {{ ref('int_recommended_products') }}

),

final as (

    select
        recommendations.user_id,
        recommendations.recommendation_rank,
        recommendations.product_id,
        recommendations.score,
        products.brand,
        products.category_code,
        products.category_l1,
        products.price,
        recommendations.run_id,
        recommendations.generated_at
    from recommendations
    left join products
        on
            recommendations.run_id = products.run_id
            and recommendations.product_id = products.product_id

)

select * from final
