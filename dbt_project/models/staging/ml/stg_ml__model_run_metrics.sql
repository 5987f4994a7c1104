-- One row per run and ranking metric: 'als.ndcg@10' becomes model 'als', metric 'ndcg', k 10.
-- Other figures of a run (e.g. 'als.fit_seconds') stay in ml.model_runs only.
with

source as (

    select * from {{ source_if_exists('ml', 'model_runs', {
        'run_id': 'string', 'started_at': 'timestamp', 'finished_at': 'timestamp',
        'data_start': 'timestamp', 'eval_cutoff': 'timestamp', 'data_end': 'timestamp',
        'metrics': 'map<string,double>'}) }}

),

exploded as (

    select
        run_id,
        started_at,
        finished_at,
        data_start,
        eval_cutoff,
        data_end,
        explode(metrics) as (metric_key, metric_value)
    from source

),

ranking as (

    select * from exploded
    where metric_key rlike '^[a-z_]+[.][a-z_]+@[0-9]+$'

),

final as (

    select
        run_id,
        started_at,
        finished_at,
        data_start,
        eval_cutoff,
        data_end,
        metric_key,
        split_part(metric_key, '.', 1) as model,
        split_part(split_part(metric_key, '.', 2), '@', 1) as metric,
        cast(split_part(metric_key, '@', 2) as int) as k,
        metric_value
    from ranking

)

select * from final
