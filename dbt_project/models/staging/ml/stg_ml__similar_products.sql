with

source as (

    select * from {{ source_if_exists('ml', 'similar_products', {
        'product_id': 'bigint', 'similar_product_id': 'bigint', 'rank': 'int', 'score': 'double',
        'run_id': 'string', 'generated_at': 'timestamp'}) }}

),

final as (

    select
        product_id,
        similar_product_id,
        rank as similarity_rank,
        score as similarity,
        run_id,
        generated_at
    from source

)

select * from final
