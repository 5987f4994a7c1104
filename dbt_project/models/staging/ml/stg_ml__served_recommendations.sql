with

source as (

    select * from {{ source_if_exists('ml', 'served_recommendations', {
        'user_id': 'bigint', 'product_id': 'bigint', 'rank': 'int', 'score': 'double', 'run_id': 'string',
        'list_date': 'date', 'run_kind': 'string'}) }}

),

final as (

    select
        list_date,
        user_id,
        product_id,
        rank as recommendation_rank,
        score,
        run_id,
        run_kind
    from source

)

select * from final
