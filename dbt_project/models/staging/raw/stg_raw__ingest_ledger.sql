-- One row per landing file that ingest finished loading, with its reconciled line counts.
with

source as (

    select * from {{ source('raw', 'ingest_ledger') }}

),

final as (

    select
        ingest_batch_id,
        source_file,
        lines_read,
        rows_accepted,
        rows_rejected,
        finished_at as loaded_at
    from source
    where status = 'loaded'

)

select * from final
