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

totals as (

    -- Everything with fixed-width aggregation buffers, so Spark keeps this a hash aggregate. The
    -- latest attributes come from the few rows at each product's last times (`latest`): a max_by
    -- over structs here made Spark sort every event twice (struct buffers cannot be hash-aggregated).
    select
        product_id,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at,
        -- A view's price can be unknown (dropped as implausible, or absent): the latest known one.
        max(if(price is not null, event_time, null)) as last_priced_at,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'purchase') as purchases,
        coalesce(sum(case when event_type = 'purchase' then price end), cast(0 as decimal(28, 2))) as revenue,
        max(last_ingested_at) as last_ingested_at
    from scoped
    group by product_id

),

latest as (

    -- Several rows can share a product's last time: the last of them in source order wins.
    select /*+ broadcast(totals) */
        scoped.product_id,
        -- One max_by over a struct instead of one per attribute: the same row wins for all.
        max_by(
            named_struct(
                'brand', scoped.brand,
                'category_id', scoped.category_id,
                'category_code', scoped.category_code,
                'category_l1', scoped.category_l1,
                'category_l2', scoped.category_l2,
                'category_l3', scoped.category_l3
            ),
            if(scoped.event_time = totals.last_seen_at, struct(scoped.source_file, scoped.source_line), null)
        ) as attributes,
        max_by(
            scoped.price,
            if(
                scoped.price is not null and scoped.event_time = totals.last_priced_at,
                struct(scoped.source_file, scoped.source_line),
                null
            )
        ) as price
    from scoped
    inner join totals
        on
            scoped.product_id = totals.product_id
            and scoped.event_time in (totals.last_seen_at, totals.last_priced_at)
    group by scoped.product_id

),

final as (

    select
        totals.product_id,
        latest.attributes.brand,
        latest.attributes.category_id,
        latest.attributes.category_code,
        latest.attributes.category_l1,
        latest.attributes.category_l2,
        latest.attributes.category_l3,
        latest.price,
        totals.first_seen_at,
        totals.last_seen_at,
        totals.views,
        totals.carts,
        totals.purchases,
        totals.revenue,
        totals.last_ingested_at
    from totals
    inner join latest on totals.product_id = latest.product_id

)

select * from final
