with

source as (

    select * from {{ source_if_exists('ml', 'recommendation_lists', {
        'user_id': 'bigint', 'items': 'array<struct<rank:int,product_id:bigint,score:double>>',
        'run_id': 'string', 'generated_at': 'timestamp'}) }}

),

final as (

    select
        user_id,
        items,
        size(items) as list_length,
        run_id,
        generated_at
    from source

)

select * from final
