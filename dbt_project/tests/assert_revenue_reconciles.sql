-- Every revenue mart, and cleaned_purchases which most of them read, adds up to the sum of
-- cleaned purchase prices (and purchase count).
with

purchases as (

    select
        sum(price) as revenue,
        count(*) as purchases
    from {{ ref('cleaned_events') }}
    where event_type = 'purchase'

),

marts as (

    select
        'cleaned_purchases' as mart,
        sum(price) as revenue,
        count(*) as purchases
    from {{ ref('cleaned_purchases') }}
    union all
    select
        'daily_revenue',
        sum(revenue),
        sum(purchases)
    from {{ ref('daily_revenue') }}
    union all
    select
        'brand_rankings',
        sum(revenue),
        sum(purchases)
    from {{ ref('brand_rankings') }}
    union all
    select
        'top_customers',
        sum(spend),
        sum(purchases)
    from {{ ref('top_customers') }}
    union all
    select
        'hourly_purchases',
        sum(revenue),
        sum(purchases)
    from {{ ref('hourly_purchases') }}
    union all
    select
        'category_revenue level 1',
        sum(revenue),
        sum(purchases)
    from {{ ref('category_revenue') }}
    where category_level = 1
    union all
    select
        'weekday_averages',
        sum(total_revenue),
        null
    from {{ ref('weekday_averages') }}
    union all
    select
        'dim_users',
        sum(spend),
        sum(purchases)
    from {{ ref('dim_users') }}
    union all
    select
        'dim_products',
        sum(revenue),
        sum(purchases)
    from {{ ref('dim_products') }}

),

final as (

    select
        marts.*,
        purchases.revenue as expected_revenue,
        purchases.purchases as expected_purchases
    from marts
    cross join purchases
    where
        coalesce(marts.revenue, 0) != coalesce(purchases.revenue, 0)
        or (marts.purchases is not null and marts.purchases != purchases.purchases)

)

select * from final
