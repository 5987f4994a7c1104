-- Every brand with its revenue and purchase count and its rank by each. Events without a
-- brand are kept as 'unknown' but not ranked, so the top-N charts show real brands.
with

purchases as (

    select * from {{ ref('cleaned_purchases') }}

),

per_brand as (

    select
        brand,
        sum(price) as revenue,
        count(*) as purchases,
        count(distinct user_id) as buyers
    from purchases
    group by brand

),

final as (

    select
        brand,
        revenue,
        purchases,
        buyers,
        brand != 'unknown' as is_known_brand,
        case
            when brand != 'unknown' then
                row_number() over (partition by brand != 'unknown' order by revenue desc, purchases desc, brand asc)
        end as revenue_rank,
        case
            when brand != 'unknown' then
                row_number() over (partition by brand != 'unknown' order by purchases desc, revenue desc, brand asc)
        end as purchase_rank
    from per_brand

)

select * from final
