-- Every staged event with its business-rule verdict and its deterministic keys.
with

staged as (

    select * from {{ ref('stg_events') }}

),

keyed as (

    select
        *,
        -- One value per distinct row content: exact duplicates share it.
        sha2(concat_ws('|',
            cast(event_time as string), coalesce(event_type, '\\N'),
            coalesce(cast(product_id as string), '\\N'), coalesce(cast(category_id as string), '\\N'),
            coalesce(category_code, '\\N'), coalesce(brand, '\\N'), coalesce(cast(price as string), '\\N'),
            coalesce(cast(user_id as string), '\\N'), coalesce(user_session, '\\N')
        ), 256) as content_key,
        -- Null sessions get one surrogate per user and day, so sessions stay countable.
        coalesce(
            user_session,
            concat('surrogate-', substr(sha2(concat_ws('|', cast(user_id as string), cast(event_date as string)), 256), 1, 32))
        ) as session_key,
        nullif(concat_ws('; ',
            case when user_id is null then 'missing user_id' end,
            case when product_id is null then 'missing product_id' end,
            case when price is null then 'missing price' end,
            case when price < 0 then 'negative price' end,
            case when price > {{ var('max_price') }} then 'price above {{ var("max_price") }}' end,
            case when event_time < timestamp'{{ var("min_event_date") }} 00:00:00'
                 then 'event_time before {{ var("min_event_date") }}' end,
            -- A small allowance for clock skew between the shop's servers and ours.
            case when event_time > current_timestamp() + interval 1 day then 'event_time in the future' end,
            case when event_type is null
                   or event_type not in ('{{ var("known_event_types") | join("', '") }}')
                 then 'unknown event_type' end
        ), '') as quarantine_reason
    from staged

),

final as (

    select
        *,
        -- Repeated carts of one product in one session and day are one cart event.
        case
            when event_type = 'cart'
                then sha2(concat_ws('|', 'cart', cast(user_id as string), cast(product_id as string),
                                    session_key, cast(event_date as string)), 256)
            else content_key
        end as event_key
    from keyed

)

select * from final
