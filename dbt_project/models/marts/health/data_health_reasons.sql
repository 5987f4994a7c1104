-- One row per ingest batch, file, outcome and reason: how many rows were parsed, rejected at
-- ingest, quarantined by the business rules, or kept with an attribute dropped, and the event
-- times they span. Incremental by ingest batch: a batch is counted once, when it first appears
-- (and everything again when the quarantine rules change: see dbt_project.yml); an incremental
-- run reads only the batches it has not counted (macros/incremental/uncounted_batches.sql).
-- depends_on: {{ ref('stg_raw__ingest_ledger') }}
{{ config(unique_key=['ingest_batch_id', 'source_file', 'outcome', 'reason']) }}

with

checked as (

    select * from {{ ref('int_events_checked') }}
    {% if is_incremental() %}
        where {{ uncounted_batches_predicate() }}
    {% endif %}

),

rejected as (

    select * from {{ ref('stg_raw__events_rejected') }}
    {% if is_incremental() %}
        where {{ uncounted_batches_predicate() }}
    {% endif %}

),

verdict_groups as (

    -- One pass over the rows, counting them per file and combination of verdicts (a handful per
    -- file); the combinations are spread into outcomes afterwards. Spreading every row first
    -- (an array of structs per row) cost most of this model's time at the seed's month.
    select
        ingest_batch_id,
        source_file,
        quarantine_reason,
        dropped_attributes,
        count(*) as row_count,
        min(event_time) as first_event_at,
        max(event_time) as last_event_at
    from checked
    group by ingest_batch_id, source_file, quarantine_reason, dropped_attributes

),

outcomes as (

    select
        ingest_batch_id,
        source_file,
        problem.outcome,
        problem.reason,
        row_count,
        first_event_at,
        last_event_at
    from verdict_groups
        lateral view explode(concat(
            array(named_struct('outcome', 'parsed', 'reason', 'parsed into an event')),
            filter(
                array(case
                    when quarantine_reason is not null
                        then named_struct('outcome', 'quarantined', 'reason', quarantine_reason)
                end),
                p -> p is not null
            ),
            transform(
                coalesce(split(dropped_attributes, '; '), cast(array() as array<string>)),
                a -> named_struct('outcome', 'attribute dropped', 'reason', a)
            )
        )) problems as problem

),

parsed_or_checked as (

    select
        ingest_batch_id,
        source_file,
        outcome,
        reason,
        sum(row_count) as row_count,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at
    from outcomes
    group by ingest_batch_id, source_file, outcome, reason

),

rejected_at_ingest as (

    select
        ingest_batch_id,
        source_file,
        'rejected' as outcome,
        reason,
        count(*) as row_count,
        cast(null as timestamp) as first_event_at,
        cast(null as timestamp) as last_event_at
    from rejected
    group by ingest_batch_id, source_file, reason

),

final as (

    select * from parsed_or_checked
    union all
    select * from rejected_at_ingest

)

select * from final
