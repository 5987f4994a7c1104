-- The fallback list for users the model does not know: the most bought products.
with

popular as (

    select * from {{ ref('stg_ml__popular_products') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

final as (

    select
        popular.popularity_rank,
        popular.product_id,
        popular.popularity_score,
        coalesce(products.brand, 'unknown') as brand,
        coalesce(products.category_code, 'unknown') as category_code,
        coalesce(products.category_l1, 'unknown') as category_l1,
        products.price,
        popular.run_id,
        popular.generated_at
    from popular
    left join products on popular.product_id = products.product_id

)

select * from final
