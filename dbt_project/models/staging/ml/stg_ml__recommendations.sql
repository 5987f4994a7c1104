with

source as (

    select * from {{ source_if_exists('ml', 'recommendation_lists', {
        'user_id': 'bigint', 'items': 'array<struct<rank:int,product_id:bigint,score:double>>',
        'run_id': 'string', 'generated_at': 'timestamp'}) }}

),

final as (

    select
        source.user_id,
        item.product_id,
        item.rank as recommendation_rank,
        item.score,
        source.run_id,
        source.generated_at
    from source
        lateral view explode(source.items) exploded as item

)

select * from final
