-- Each user's latest top-N recommendations, with what Tableau shows about each product as it
-- was when the list was made.
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
