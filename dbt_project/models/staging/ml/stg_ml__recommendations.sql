with

source as (

    select * from {{ source_if_exists('ml', 'recommendations', {
        'user_id': 'bigint', 'product_id': 'bigint', 'rank': 'int', 'score': 'double',
        'run_id': 'string', 'generated_at': 'timestamp'}) }}

),

final as (

    select
        user_id,
        product_id,
        rank as recommendation_rank,
        score,
        run_id,
        generated_at
    from source

)

select * from final
