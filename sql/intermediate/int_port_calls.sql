-- DOMAIN port-call rule: a vessel's consecutive sightings at one port, with no sighting elsewhere
-- in between and no gap over 5 days, form one call; arrival is the first sighting, departure the
-- last.
with sequence_bounds as (
    select
        sighting_id, evidence_kind, imo, port_id, port_role, observed_at, sighting_number,
        starts_call, ends_call, reject_reason
    from int_sightings
    where port_id is not null
        and (starts_call or ends_call or evidence_kind = 'imagery')
        and ($rebuild_all or observed_at >= cast($recompute_from as timestamptz))
),

-- int_sightings numbers every row of a vessel's sequence, its reject rows too
rejected_rows as (
    select imo, sighting_id, sighting_number, observed_at
    from int_sightings
    where reject_reason is not null
),

-- A reject row (a further AIS position of one second) sits right after its sighting's
-- kept row, so int_sightings computed the bounds either side of it against the reject:
-- a second position at sea or at another port would end the call before it and start
-- another after it, or, when the kept position lies at sea and the reject in a port,
-- start none at the real arrival. The rule counts sightings only, so the bounds of the
-- rows either side of each run of rejects are computed again here, against each other.
-- A run further than the port-call gap before a recomputed row cannot change it.
reject_runs as (
    select
        imo,
        min(sighting_number) - 1 as kept_number,
        max(sighting_number) + 1 as next_number
    from rejected_rows
    where $rebuild_all or observed_at >= cast($recompute_from as timestamptz) - port_call_max_gap()
    group by imo, sighting_id
),

run_sides as (
    select sightings.*
    from int_sightings as sightings
    semi join (
        select imo, kept_number as sighting_number from reject_runs
        union
        select imo, next_number from reject_runs
    ) as sides
        on sides.imo = sightings.imo and sides.sighting_number = sightings.sighting_number
),

-- each run with the sightings either side of it; a run may end a vessel's sequence
run_pairs as (
    select
        runs.imo,
        kept.sighting_number as kept_number,
        kept.port_id as kept_port_id,
        kept.observed_at as kept_at,
        next.sighting_number as next_number,
        next.port_id as next_port_id,
        next.observed_at as next_at
    from reject_runs as runs
    inner join run_sides as kept on kept.imo = runs.imo and kept.sighting_number = runs.kept_number
    left join run_sides as next on next.imo = runs.imo and next.sighting_number = runs.next_number
),

-- each side's bound recomputed against the other side
recomputed_sides as (
    select
        imo,
        kept_number as sighting_number,
        null::boolean as starts_call,
        kept_port_id is not null and (
            next_number is null
            or next_port_id is distinct from kept_port_id
            or next_at > kept_at + port_call_max_gap()
        ) as ends_call
    from run_pairs
    union all
    select
        imo,
        next_number as sighting_number,
        next_port_id is not null and (
            kept_port_id is distinct from next_port_id
            or kept_at < next_at - port_call_max_gap()
        ) as starts_call,
        null::boolean as ends_call
    from run_pairs
    where next_number is not null
),

-- a row may be both a run's next row and the next run's kept row: it takes both
recomputed_rows as (
    select imo, sighting_number, any_value(starts_call) as starts_call, any_value(ends_call) as ends_call
    from recomputed_sides
    group by imo, sighting_number
),

corrected_bounds as (
    select
        run_sides.sighting_id, run_sides.evidence_kind, run_sides.imo, run_sides.port_id, run_sides.port_role,
        run_sides.observed_at, run_sides.sighting_number,
        coalesce(recomputed_rows.starts_call, run_sides.starts_call) as starts_call,
        coalesce(recomputed_rows.ends_call, run_sides.ends_call) as ends_call,
        run_sides.reject_reason
    from run_sides
    inner join recomputed_rows
        on recomputed_rows.imo = run_sides.imo and recomputed_rows.sighting_number = run_sides.sighting_number
    where run_sides.port_id is not null
        and ($rebuild_all or run_sides.observed_at >= cast($recompute_from as timestamptz))
),

-- a repeated AIS position (a reject row beside its original) may carry its original's
-- bound: the two are one sighting here
bounds as (
    select
        sighting_id, imo, port_id, port_role, observed_at,
        min(sighting_number) as first_number,
        max(sighting_number) as last_number,
        bool_or(starts_call) as starts_call,
        bool_or(ends_call) as ends_call
    from (
        select * from sequence_bounds
        anti join corrected_bounds
            on corrected_bounds.imo = sequence_bounds.imo
            and corrected_bounds.sighting_number = sequence_bounds.sighting_number
        union all by name
        select * from corrected_bounds
        where starts_call or ends_call or evidence_kind = 'imagery'
    ) as all_bounds
    group by sighting_id, imo, port_id, port_role, observed_at
    -- a bound only reject rows carry (another position of a sighting id, at another port) bounds no call
    having bool_or(reject_reason is null)
),

numbered as (
    select
        *,
        sum(case when starts_call then 1 else 0 end) over (
            partition by imo order by first_number rows unbounded preceding
        ) as call_number
    from bounds
),

-- the bounds of the calls to compute: a recomputed span can begin with the end of a call
-- that started before it (kept as stored), which is not a call of its own
started as (
    select * from numbered where call_number > 0
),

calls as (
    select
        imo || '-' || port_id || '-' || utc_strftime(min(observed_at), '%Y%m%dT%H%M%S') as port_call_id,
        imo,
        port_id,
        any_value(port_role) as port_role,
        min(observed_at) as arrival_at,
        max(observed_at) as departure_at,
        min(first_number) as first_number,
        max(last_number) as last_number,
        list(sighting_id order by observed_at, sighting_id) as evidence_ids
    from started
    group by imo, call_number, port_id
),

rejects_in_calls as (
    select calls.port_call_id, count(*) as rejected
    from calls
    inner join rejected_rows
        on rejected_rows.imo = calls.imo
        and rejected_rows.sighting_number between calls.first_number and calls.last_number
    group by calls.port_call_id
),

final as (
    select
        calls.port_call_id,
        calls.imo,
        calls.port_id,
        calls.port_role,
        calls.arrival_at,
        calls.departure_at,
        calls.last_number - calls.first_number + 1 - coalesce(rejects_in_calls.rejected, 0) as sightings,
        calls.evidence_ids
    from calls
    left join rejects_in_calls on rejects_in_calls.port_call_id = calls.port_call_id
)

select * from final
