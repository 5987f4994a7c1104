-- One row per loaded landing file: lines read, what ingest rejected, what the business rules
-- quarantined, what was kept with an attribute dropped, and a status against the health
-- thresholds (vars health_warn_share, health_error_share). An attribute lost on more than the
-- warn share of a file's lines (every category_id of a spreadsheet-resaved file) warns too: the
-- events are kept, but the marts show them as unknown.
with

ledger as (

    select * from {{ ref('stg_raw__ingest_ledger') }}

),

reasons as (

    select * from {{ ref('data_health_reasons') }}

),

-- Attribute drops per file and column ('category_id unreadable', 'price dropped: negative
-- price' and 'price unreadable' are all the price column); a row drops each column once.
dropped_by_column as (

    select
        ingest_batch_id,
        source_file,
        substring_index(reason, ' ', 1) as attribute,
        sum(row_count) as row_count,
        max_by(reason, struct(row_count, reason)) as main_reason
    from reasons
    where outcome = 'attribute dropped'
    group by ingest_batch_id, source_file, substring_index(reason, ' ', 1)

),

most_dropped as (

    select
        ingest_batch_id,
        source_file,
        max_by(attribute, struct(row_count, attribute)) as dropped_attribute,
        max_by(main_reason, struct(row_count, attribute)) as dropped_attribute_reason,
        max(row_count) as dropped_attribute_rows
    from dropped_by_column
    group by ingest_batch_id, source_file

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
        most_dropped.dropped_attribute,
        coalesce(most_dropped.dropped_attribute_rows, 0) / nullif(ledger.lines_read, 0) as dropped_attribute_share,
        most_dropped.dropped_attribute_reason,
        per_file.first_event_at,
        per_file.last_event_at,
        per_file.main_problem as main_unusable_problem
    from ledger
    left join per_file
        on
            ledger.ingest_batch_id = per_file.ingest_batch_id
            and ledger.source_file = per_file.source_file
    left join most_dropped
        on
            ledger.ingest_batch_id = most_dropped.ingest_batch_id
            and ledger.source_file = most_dropped.source_file

),

verdicts as (

    select
        *,
        case
            when unusable_share > {{ var('health_error_share') }} then 'error'
            when unusable_share > {{ var('health_warn_share') }} then 'warn'
            when dropped_attribute_share > {{ var('health_warn_share') }} then 'warn'
            else 'ok'
        end as health_status,
        -- An attribute is the main problem only when it alone makes the file a warning.
        unusable_share <= {{ var('health_warn_share') }}
        and dropped_attribute_share > {{ var('health_warn_share') }} as warned_for_attribute
    from shares

),

final as (

    select
        loaded_at,
        ingest_batch_id,
        source_file,
        lines_read,
        parsed_rows,
        rejected_rows,
        quarantined_rows,
        usable_rows,
        dropped_attribute_values,
        unusable_share,
        dropped_attribute,
        dropped_attribute_reason,
        dropped_attribute_share,
        first_event_at,
        last_event_at,
        case
            when warned_for_attribute
                then concat(
                    'attribute dropped: ', dropped_attribute_reason, ' on ',
                    format_number(100 * dropped_attribute_share, 1), ' % of lines'
                )
            else main_unusable_problem
        end as main_problem,
        health_status
    from verdicts

)

select * from final
