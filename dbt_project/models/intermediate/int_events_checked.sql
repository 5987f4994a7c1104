-- Every staged event with its business-rule verdict, the attributes dropped from it, and its keys.
-- Only what makes an event unusable quarantines it (no user, no product, an implausible time, an
-- unknown type, no usable price on a purchase); a bad descriptive attribute is set to null and
-- listed in dropped_attributes, and the event is kept.
with

staged as (

    select * from {{ ref('stg_raw__events') }}

),

price_checked as (

    select
        *,
        case
            when price < 0 then 'negative price'
            when price > {{ var('max_price') }} then 'price above {{ var("max_price") }}'
        end as price_problem
    from staged

),

keyed as (

    select
        event_time,
        event_date,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        -- A view's or cart's implausible price is dropped; a purchase keeps it for its quarantine row.
        case when event_type = 'purchase' or price_problem is null then price end as price,
        user_id,
        user_session,
        invalid_attributes,
        source_file,
        source_line,
        ingest_batch_id,
        ingested_at,
        -- One value per distinct row content (unreadable attributes by their text): exact
        -- duplicates share it.
        {{ row_key('content', [
            'event_time', 'event_type', 'product_id', 'category_id', 'category_code', 'brand', 'price',
            'user_id', 'user_session', 'to_json(invalid_attributes)'
        ]) }} as content_key,
        -- Null sessions get one surrogate per user and day, so sessions stay countable.
        coalesce(
            user_session,
            concat(
                'surrogate-',
                substr(sha2(concat_ws('|', cast(user_id as string), cast(event_date as string)), 256), 1, 32)
            )
        ) as session_key,
        nullif(concat_ws(
            '; ',
            case when user_id is null then 'missing user_id' end,
            case when product_id is null then 'missing product_id' end,
            case
                when event_type = 'purchase' and price is null
                    then if(invalid_attributes['price'] is null, 'missing price', 'unreadable price')
            end,
            case when event_type = 'purchase' then price_problem end,
            case
                when event_time < timestamp '{{ var("min_event_date") }} 00:00:00'
                    then 'event_time before {{ var("min_event_date") }}'
            end,
            -- A small allowance for clock skew between the shop's servers and ours.
            case when event_time > current_timestamp() + interval 1 day then 'event_time in the future' end,
            case
                when
                    event_type is null
                    or event_type not in ('{{ var("known_event_types") | join("', '") }}')  -- noqa: LT05
                    then 'unknown event_type'
            end
        ), '') as quarantine_reason,
        nullif(concat_ws(
            '; ',
            transform(sort_array(coalesce(map_keys(invalid_attributes), array())), k -> concat(k, ' unreadable')),
            case
                when event_type != 'purchase' and price_problem is not null
                    then concat('price dropped: ', price_problem)
            end
        ), '') as dropped_attributes
    from price_checked

),

final as (

    select
        *,
        -- Repeated carts of one product in one session and day are one cart event.
        case
            when event_type = 'cart'
                then {{ row_key('cart', ['user_id', 'product_id', 'session_key', 'event_date']) }}
            else content_key
        end as event_key
    from keyed

)

select * from final
