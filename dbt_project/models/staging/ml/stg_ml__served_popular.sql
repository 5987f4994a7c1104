with

source as (

    select * from {{ source_if_exists('ml', 'served_popular', {
        'product_id': 'bigint', 'rank': 'int', 'score': 'double', 'run_id': 'string', 'list_date': 'date',
        'run_kind': 'string'}) }}

),

final as (

    select
        list_date,
        product_id,
        rank as popularity_rank,
        score as popularity_score,
        run_id
    from source

)

select * from final
