-- One row per loaded landing file: lines read, what ingest rejected, what the business rules
-- quarantined, what was kept with an attribute dropped, and a status against the health
-- thresholds (vars health_warn_share, health_error_share).
with

ledger as (

    select * from {{ ref('stg_raw__ingest_ledger') }}

),

reasons as (

    select * from {{ ref('data_health_reasons') }}

),

per_file as (

    select
        ingest_batch_id,
        source_file,
        sum(case when outcome = 'parsed' then row_count else 0 end) as parsed_rows,
        sum(case when outcome = 'rejected' then row_count else 0 end) as rejected_rows,
        sum(case when outcome = 'quarantined' then row_count else 0 end) as quarantined_rows,
        sum(case when outcome = 'attribute dropped' then row_count else 0 end) as dropped_attribute_values,
        min(case when outcome = 'parsed' then first_event_at end) as first_event_at,
        max(case when outcome = 'parsed' then last_event_at end) as last_event_at,
        -- The most frequent problem; equal counts are broken by the text, so every engine and
        -- partitioning picks the same one.
        max_by(
            case when outcome in ('rejected', 'quarantined') then concat(outcome, ': ', reason) end,
            case when outcome in ('rejected', 'quarantined') then struct(row_count, concat(outcome, ': ', reason)) end
        ) as main_problem
    from reasons
    group by ingest_batch_id, source_file

),

shares as (

    select
        ledger.loaded_at,
        ledger.ingest_batch_id,
        ledger.source_file,
        ledger.lines_read,
        coalesce(per_file.parsed_rows, 0) as parsed_rows,
        coalesce(per_file.rejected_rows, 0) as rejected_rows,
        coalesce(per_file.quarantined_rows, 0) as quarantined_rows,
        coalesce(per_file.parsed_rows, 0) - coalesce(per_file.quarantined_rows, 0) as usable_rows,
        coalesce(per_file.dropped_attribute_values, 0) as dropped_attribute_values,
        (coalesce(per_file.rejected_rows, 0) + coalesce(per_file.quarantined_rows, 0))
        / nullif(ledger.lines_read, 0) as unusable_share,
        per_file.first_event_at,
        per_file.last_event_at,
        per_file.main_problem
    from ledger
    left join per_file
        on
            ledger.ingest_batch_id = per_file.ingest_batch_id
            and ledger.source_file = per_file.source_file

),

final as (

    select
        *,
        case
            when unusable_share > {{ var('health_error_share') }} then 'error'
            when unusable_share > {{ var('health_warn_share') }} then 'warn'
            else 'ok'
        end as health_status
    from shares

)

select * from final
