{#- The ingest batches the ledger lists as loaded that the model ({{ this }}) has not counted yet,
    as a predicate on ingest_batch_id with the ids written in as literals. Each file of raw.events
    and raw.events_rejected holds one batch, so Delta's file statistics skip every older batch:
    a run reads the new day, not the whole history (a `not in (subquery)` filter read every file).
    A batch that never finished loading is not listed, so its rows, which the next ingest deletes,
    are never counted. Asked once per model run. The model needs
    `-- depends_on: ref('stg_raw__ingest_ledger')`. -#}
{% macro uncounted_batches_predicate(column='ingest_batch_id') -%}
    {%- if not execute -%}
        true
    {%- else -%}
        {%- if model.get('_uncounted_batches') is none -%}
            {%- do model.update({'_uncounted_batches': run_query(
                "select distinct ledger.ingest_batch_id from " ~ ref('stg_raw__ingest_ledger') ~ " as ledger"
                ~ " left anti join (select distinct ingest_batch_id from " ~ this ~ ") as counted"
                ~ " on ledger.ingest_batch_id = counted.ingest_batch_id"
            ).columns[0].values() | list}) -%}
        {%- endif -%}
        {%- set batches = model.get('_uncounted_batches') -%}
        {%- if batches | length == 0 -%}
            false
        {%- else -%}
            {{ column }} in ('{{ batches | map('replace', "'", "\\'") | join("', '") }}')
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
