-- The latest run's metrics, one row per metric and k, models side by side.
with

history as (

    select * from {{ ref('model_quality_history') }}
    where is_latest_run

),

final as (

    select
        run_id,
        finished_at,
        eval_cutoff,
        metric,
        k,
        max(case when model = 'als' then metric_value end) as als,
        max(case when model = 'ease' then metric_value end) as ease,
        max(case when model = 'popularity' then metric_value end) as popularity,
        max(case when model = 'oracle' then metric_value end) as oracle,
        max(case when endswith(model, '_vs_oracle') then metric_value end) as served_fraction_of_oracle
    from history
    group by run_id, finished_at, eval_cutoff, metric, k

)

select * from final
