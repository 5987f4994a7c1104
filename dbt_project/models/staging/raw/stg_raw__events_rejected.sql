-- Lines ingest could not parse into an event, with their reason.
with

source as (

    select * from {{ source('raw', 'events_rejected') }}

),

final as (

    select
        ingest_batch_id,
        source_file,
        source_line,
        reason,
        raw_line,
        ingested_at
    from source

)

select * from final
