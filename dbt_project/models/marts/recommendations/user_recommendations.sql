-- Each user's latest top-N recommendations, one row per product, with what Tableau shows about each
-- product as it was when the list was made (int_recommended_products, per run).
with

recommendations as (

    select * from {{ ref('stg_ml__recommendations') }}

),

products as (

    select * from {{ ref('int_recommended_products') }}

),

-- One row per (run_id, product_id), as its key test holds, said in a way Spark's optimizer can see:
-- a query that reads only the lists' columns (the MySQL sync's row counts per run, its rows, the
-- key tests) then skips the join altogether.
product_attributes as (

    select
        run_id,
        product_id,
        any_value(brand) as brand,
        any_value(category_code) as category_code,
        any_value(category_l1) as category_l1,
        any_value(price) as price
    from products
    group by run_id, product_id

),

final as (

    select
        recommendations.user_id,
        recommendations.recommendation_rank,
        recommendations.product_id,
        recommendations.score,
        product_attributes.brand,
        product_attributes.category_code,
        product_attributes.category_l1,
        product_attributes.price,
        recommendations.run_id,
        recommendations.generated_at
    from recommendations
    left join product_attributes
        on
            recommendations.run_id = product_attributes.run_id
            and recommendations.product_id = product_attributes.product_id

)

select * from final
