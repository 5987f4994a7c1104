-- The lists as served, one row per user and list date; items in rank order.
with

source as (

    {% if served_lists_are_flat() -%}
        -- one row per product, as kept before the lists were nested: grouped until the next ML run does it
        select
            user_id,
            sort_array(collect_list(struct(rank, product_id, score))) as items,
            run_id,
            list_date,
            run_kind
        from {{ source('ml', 'served_recommendations') }}
        group by user_id, run_id, list_date, run_kind
    {%- else -%}
        select * from {{ source_if_exists('ml', 'served_recommendations', {
            'user_id': 'bigint', 'items': 'array<struct<rank:int,product_id:bigint,score:double>>',
            'run_id': 'string', 'list_date': 'date', 'run_kind': 'string'}) }}
    {%- endif %}

),

final as (

    select
        list_date,
        user_id,
        items,
        size(items) as list_length,
        run_id,
        run_kind
    from source

)

select * from final
