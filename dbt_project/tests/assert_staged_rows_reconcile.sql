-- Nothing is lost between staging and cleaning:
-- staged rows = rows merged into cleaned events (incl. removed duplicates) + quarantined rows.
with

staged as (

    select count(*) as n from {{ ref('stg_raw__events') }}

),

cleaned as (

    select coalesce(sum(source_rows), 0) as n from {{ ref('cleaned_events') }}

),

quarantined as (

    select count(*) as n from {{ ref('quarantined_events') }}

),

final as (

    select
        staged.n as staged_rows,
        cleaned.n as cleaned_source_rows,
        quarantined.n as quarantined_rows
    from staged cross join cleaned cross join quarantined
    where staged.n != cleaned.n + quarantined.n

)

select * from final
