-- What Tableau shows about each recommended product, as it was when dbt first saw the run that
-- recommended it: one row per run and product. The lists themselves stay where the ML run wrote them
-- (ml.recommendation_lists, one row per user), and marts.user_recommendations joins the two, so a
-- daily update writes only its own products here instead of rewriting every stored list.
-- A run no list refers to any more is dropped (macros/incremental/replace_groups.sql), which reads
-- the lists for the runs still served:
-- depends_on: {{ ref('stg_ml__recommendation_lists') }}
with

recommendations as (

    select * from {{ ref('stg_ml__recommendations') }}
    {% if is_incremental() %}
        -- the runs written since the last build: a daily update's, or a refit's
        where run_id not in (select distinct run_id from {{ this }})
    {% endif %}

),

products as (

    select * from {{ ref('dim_products') }}

),

recommended as (

    select distinct
        run_id,
        product_id
    from recommendations

),

final as (

    select
        recommended.run_id,
        recommended.product_id,
        coalesce(products.brand, 'unknown') as brand,
        coalesce(products.category_code, 'unknown') as category_code,
        coalesce(products.category_l1, 'unknown') as category_l1,
        products.price
    from recommended
    left join products on recommended.product_id = products.product_id

)

select * from final
