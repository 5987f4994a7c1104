with

source as (

    select * from {{ source('raw', 'events') }}

),

typed as (

    select
        event_time,
        event_date,
        hour(event_time) as event_hour,
        -- ISO weekday: 1 = Monday ... 7 = Sunday (Spark's dayofweek starts on Sunday).
        ((dayofweek(event_time) + 5) % 7) + 1 as event_weekday,
        date_format(event_time, 'EEEE') as event_weekday_name,
        lower(trim(event_type)) as event_type,
        product_id,
        category_id,
        nullif(lower(trim(category_code)), '') as category_code,
        nullif(lower(trim(brand)), '') as brand,
        cast(price as decimal(18, 2)) as price,
        user_id,
        nullif(trim(user_session), '') as user_session,
        invalid_attributes,
        source_file,
        source_line,
        ingest_batch_id,
        ingested_at
    from source

),

final as (

    select
        *,
        try_element_at(split(category_code, '[.]'), 1) as category_l1,
        try_element_at(split(category_code, '[.]'), 2) as category_l2,
        try_element_at(split(category_code, '[.]'), 3) as category_l3
    from typed

)

select * from final
