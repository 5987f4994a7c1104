with

source as (

    select * from {{ source_if_exists('ml', 'popular_products', {
        'product_id': 'bigint', 'rank': 'int', 'score': 'double', 'run_id': 'string',
        'generated_at': 'timestamp'}) }}

),

final as (

    select
        product_id,
        rank as popularity_rank,
        score as popularity_score,
        run_id,
        generated_at
    from source

)

select * from final
