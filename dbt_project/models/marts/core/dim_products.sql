-- One row per product: its latest brand and category, its latest known price, and its activity.
-- Incremental: a new day is aggregated alone and merged into the stored products
-- (macros/incremental/additive_merge.sql); a late file for a date already counted recomputes its
-- products over all their events.
{%- set additive = additive_update_applies() %}
with

events as (

    select * from {{ ref('cleaned_events') }}
    {% if additive %}
        where {{ changed_mart_dates() }}
    {% endif %}

),

{% if is_incremental() and not additive %}
    {{ touched_keys_ctes(['product_id'], changed_mart_dates()) }}
{% else %}
    scoped as (

        select * from events

    ),
{% endif %}

aggregated as (

    select
        product_id,
        -- One max_by over a struct instead of one per attribute: the same row wins for all.
        max_by(
            named_struct(
                'brand', brand, 'category_id', category_id, 'category_code', category_code,
                'category_l1', category_l1, 'category_l2', category_l2, 'category_l3', category_l3
            ),
            struct(event_time, source_file, source_line)
        ) as latest,
        -- A view's price can be unknown (dropped as implausible, or absent): the latest known one.
        max_by(price, if(price is not null, struct(event_time, source_file, source_line), null)) as latest_price,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'purchase') as purchases,
        coalesce(sum(case when event_type = 'purchase' then price end), cast(0 as decimal(28, 2))) as revenue,
        max(last_ingested_at) as last_ingested_at
    from scoped
    group by product_id

),

final as (

    select
        product_id,
        latest.brand,
        latest.category_id,
        latest.category_code,
        latest.category_l1,
        latest.category_l2,
        latest.category_l3,
        latest_price as price,
        first_seen_at,
        last_seen_at,
        views,
        carts,
        purchases,
        revenue,
        last_ingested_at
    from aggregated

)

select * from final
