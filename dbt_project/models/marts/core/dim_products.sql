-- One row per product: its latest brand, category and price, and its activity.
with

events as (

    select * from {{ ref('cleaned_events') }}

),

final as (

    select
        product_id,
        max_by(brand, struct(event_time, source_file, source_line)) as brand,
        max_by(category_id, struct(event_time, source_file, source_line)) as category_id,
        max_by(category_code, struct(event_time, source_file, source_line)) as category_code,
        max_by(category_l1, struct(event_time, source_file, source_line)) as category_l1,
        max_by(category_l2, struct(event_time, source_file, source_line)) as category_l2,
        max_by(category_l3, struct(event_time, source_file, source_line)) as category_l3,
        max_by(price, struct(event_time, source_file, source_line)) as price,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'purchase') as purchases,
        coalesce(sum(case when event_type = 'purchase' then price end), cast(0 as decimal(28, 2))) as revenue
    from events
    group by product_id

)

select * from final
