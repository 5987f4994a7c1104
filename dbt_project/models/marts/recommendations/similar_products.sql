-- "Customers who liked this also liked": the 20 products most similar to each product in the serving
-- model (ml/similar.py), with the similar product's attributes as they were at the refit, for product pages.
with

similar as (

    select * from {{ ref('stg_ml__similar_products') }}
    {% if is_incremental() %}
        -- only a refit writes new ones
        where run_id not in (select distinct run_id from {{ this }})
    {% endif %}

),

products as (

    select * from {{ ref('dim_products') }}

),

final as (

    select
        similar.product_id,
        similar.similarity_rank,
        similar.similar_product_id,
        similar.similarity,
        coalesce(products.brand, 'unknown') as brand,
        coalesce(products.category_code, 'unknown') as category_code,
        coalesce(products.category_l1, 'unknown') as category_l1,
        products.price,
        similar.run_id,
        similar.generated_at
    from similar
    left join products on similar.similar_product_id = products.product_id

)

select * from final
