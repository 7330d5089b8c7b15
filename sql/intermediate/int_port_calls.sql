-- DOMAIN port-call rule: a vessel's consecutive sightings at one port, with no
-- sighting elsewhere in between and no gap over 5 days, form one call; arrival is
-- the first sighting, departure the last. The call's evidence is every imagery
-- sighting of it plus its first and last sighting of any kind: an AIS-tracked stay
-- holds thousands of fixes, and the two that bound it prove the call. Where a
-- call starts and ends is read off the vessel's sequence in int_sightings
-- (starts_call, ends_call), so only those sightings and imagery are read here.
-- Built incrementally (sql/incremental/int_port_calls.sql): a call ending more than 5
-- days before the window cannot change, so a nightly build computes again only the
-- calls from the earliest arrival among the others.
-- grain: one row per port call (port_call_id)
-- materialized: incremental
-- columns:
--   port_call_id: '<imo>-<port_id>-<arrival yyyymmddThhmmss>'
--   imo: ship IMO number
--   port_id: port of the call
--   port_role: load_terminal, discharge_port or other
--   arrival_at: first sighting of the call, UTC
--   departure_at: last sighting of the call, UTC
--   sightings: number of sightings in the call (reject rows, such as a repeated AIS position, not counted)
--   evidence_ids: the call's imagery sightings and its first and last sighting, in time order
-- a repeated AIS position (a reject row beside its original) may carry its original's
-- bound: the two are one sighting here
with bounds as (
    select
        sighting_id, imo, port_id, port_role, observed_at,
        min(sighting_number) as first_number,
        max(sighting_number) as last_number,
        bool_or(starts_call) as starts_call,
        bool_or(ends_call) as ends_call
    from int_sightings
    where port_id is not null
        and (starts_call or ends_call or evidence_kind = 'imagery')
        and ($rebuild_all or observed_at >= cast($recompute_from as timestamptz))
    group by sighting_id, imo, port_id, port_role, observed_at
    -- a bound only reject rows carry (another position of a sighting id, at another port) bounds no call
    having bool_or(reject_reason is null)
),

-- int_sightings numbers every row of a vessel's sequence, its reject rows too
rejected_rows as (
    select imo, sighting_number
    from int_sightings
    where reject_reason is not null
),

numbered as (
    select
        *,
        sum(case when starts_call then 1 else 0 end) over (
            partition by imo order by observed_at, sighting_id rows unbounded preceding
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
