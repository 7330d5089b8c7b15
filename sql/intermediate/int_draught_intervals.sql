-- DOMAIN laden-state rule: which reported draught is in force when (the contract beside this file says more).
with reports as (
    select
        mmsi,
        received_at,
        draught_m,
        lag(draught_m) over by_mmsi as previous_draught_m,
        lag(received_at) over by_mmsi as previous_received_at,
        lead(received_at) over by_mmsi as next_received_at
    from int_ais_static_reports
    where draught_m is not null
    window by_mmsi as (partition by mmsi order by received_at, draught_m)
),

report_runs as (
    select
        *,
        sum(case
            when previous_draught_m is distinct from draught_m
                or received_at - previous_received_at > draught_max_age() then 1 else 0
        end) over (partition by mmsi order by received_at, draught_m rows unbounded preceding) as run_number
    from reports
),

final as (
    select
        mmsi,
        draught_m,
        min(received_at) as valid_from,
        least(
            max(received_at) + draught_max_age(),
            coalesce(arg_max_null(next_received_at, received_at) - interval 1 microsecond, 'infinity'::timestamptz)
        ) as valid_until
    from report_runs
    group by mmsi, run_number, draught_m
)

select * from final
