with

source as (

    select * from {{ source('raw', 'events') }}

),

final as (

    select
        event_time,
        event_date,
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

)

select * from final
