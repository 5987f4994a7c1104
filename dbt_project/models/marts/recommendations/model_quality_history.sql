-- Every run's evaluation metrics (each model, the oracle, the served model as a fraction of the oracle).
with

metrics as (

    select * from {{ ref('stg_ml__model_run_metrics') }}

),

latest as (

    select max_by(run_id, finished_at) as latest_run_id from metrics

),

final as (

    select
        metrics.run_id,
        metrics.finished_at,
        metrics.data_start,
        metrics.eval_cutoff,
        metrics.data_end,
        metrics.model,
        metrics.metric,
        metrics.k,
        metrics.metric_value,
        metrics.run_id = latest.latest_run_id as is_latest_run
    from metrics
    cross join latest

)

select * from final
