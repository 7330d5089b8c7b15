-- How int_sightings is brought up to date when only some days of sightings changed
-- (a nightly run, a re-run or corrected day), instead of computing every sighting of
-- every vessel again (tankerwatch/incremental.py runs the named statements below).
--
-- The window starts at the earliest sighting time of any snapshot loaded or removed
-- since the last build ($window_from). A vessel with sightings from the window on,
-- new or stored, is resumed from a stored row (its resume point) at or before its last
-- stored row, last state-carrying sighting and last AIS position before the window.
-- The rows before that point keep every column and stay stored or not as they were,
-- because what they read forward (next state, next AIS position, end of call, the row
-- after) lies at that point or before it. The point is the first row of its second,
-- stored for a reason its context decides again, so the new build stores it again
-- (`is_sighting_resume_point` in sql/macros.sql). Its rows from the
-- point on are deleted and computed again, with what the point knew of the rows before
-- it (the row before, the last state and AIS position, its sighting number) as context.
-- A change to anything else int_sightings reads (MMSI links, vessel names and
-- draughts, ports) rebuilds everything: that is the `inputs` fingerprint; so does a
-- change to its SQL or to that of a model it reads (int_sighting_places,
-- int_draught_intervals), which tankerwatch/incremental.py adds to the fingerprint.

-- name: resume_table
-- One row per resumed vessel: where its rows are computed again, and what lies before.
create or replace temp table int_sightings__resume (
    imo varchar,
    resume_at timestamptz,
    context struct(
        sighting_number bigint,
        previous_sighting struct(port_id varchar, "at" timestamptz),
        previous_state_sighting struct("at" timestamptz, state varchar),
        previous_ais_at timestamptz
    )
);

-- name: snapshot_times
-- Per snapshot id in $snapshot_ids, its earliest time that can move a sighting: a
-- sighting's own time, or an AIS draught report's (in force for draught_max_age() after it).
-- Read from staging, rejected rows included, so the window is never too late.
select snapshot_id, min(observed_at) as first_at
from (
    select snapshot_id, observed_at from stg_imagery_sightings
    union all
    select snapshot_id, received_at from stg_ais_positions
    union all
    select snapshot_id, received_at from stg_ais_dma
    union all
    select snapshot_id, received_at from stg_ais_static
    union all
    select snapshot_id, least(started_at, ended_at) from stg_gfw_port_visits
)
where list_contains($snapshot_ids, snapshot_id)
group by snapshot_id;

-- name: inputs
-- Fingerprint of everything else int_sightings reads: any change rebuilds all.
select concat_ws(' | ',
    table_fingerprint('int_mmsi_identities'),
    table_fingerprint('int_vessel_names'),
    (select count(*) || ':' || coalesce(bit_xor(hash(imo, summer_draught_m)), 0) from int_vessels),
    table_fingerprint('ref_ports')
) as fingerprint;

-- name: resume
insert into int_sightings__resume
with affected as (
    select imo from int_sighting_identities
    where reject_reason is null and imo is not null and observed_at >= $window_from::timestamptz
    union
    select imo from int_sightings
    where observed_at >= $window_from::timestamptz
),

-- A vessel's resume point almost always lies in the week before the window: only a
-- vessel for which it does not is read whole.
recent_rows as (
    select
        imo,
        observed_at,
        is_sighting_resume_point(
            evidence_kind, observed_at, previous_at, starts_call, state, previous_state, port_id, previous_ais_at
        ) as is_resume_point,
        sighting_resume_by(evidence_kind, observed_at, state, previous_state_at, previous_ais_at) as resume_by,
        sighting_number
    from int_sightings
    where imo in (select imo from affected)
        and observed_at >= $window_from::timestamptz - interval 7 days
        and observed_at < $window_from::timestamptz
),

found_recently as (
    select distinct recent_rows.imo
    from recent_rows
    inner join (
        select imo, arg_max(resume_by, sighting_number) as resume_by from recent_rows group by imo
    ) as bounds on bounds.imo = recent_rows.imo
    where recent_rows.is_resume_point and recent_rows.observed_at <= bounds.resume_by
),

-- the week before the window of every affected vessel, and the older rows of those not
-- found recently: two scans, so that the time filter reaches the table scan (an `or`
-- of the two would read every column of every stored row)
stored as (
    select
        stored_rows.*,
        is_sighting_resume_point(
            evidence_kind, observed_at, previous_at, starts_call, state, previous_state, port_id, previous_ais_at
        ) as is_resume_point,
        sighting_resume_by(evidence_kind, observed_at, state, previous_state_at, previous_ais_at) as resume_by
    from (
        select * from int_sightings
        where imo in (select imo from affected)
            and observed_at >= $window_from::timestamptz - interval 7 days
            and observed_at < $window_from::timestamptz
        union all
        select * from int_sightings
        where imo in (select imo from affected where imo not in (select imo from found_recently))
            and observed_at < $window_from::timestamptz - interval 7 days
    ) as stored_rows
),

resume_points as (
    select stored.imo, arg_max(stored, stored.sighting_number) as point
    from stored
    inner join (
        select imo, arg_max(resume_by, sighting_number) as resume_by from stored group by imo
    ) as bounds on bounds.imo = stored.imo
    where stored.is_resume_point and stored.observed_at <= bounds.resume_by
    group by stored.imo
),

-- a vessel with no resume point is computed again from its first sighting
final as (
    select
        affected.imo,
        coalesce(resume_points.point.observed_at, '-infinity'::timestamptz) as resume_at,
        case when resume_points.point is not null then {
            'sighting_number': point.sighting_number - 1,
            'previous_sighting': case
                when point.previous_at is not null then {'port_id': point.previous_port_id, 'at': point.previous_at}
            end,
            'previous_state_sighting': case
                when point.previous_state_at is not null then {'at': point.previous_state_at, 'state': point.previous_state}
            end,
            'previous_ais_at': point.previous_ais_at
        } end as context
    from affected
    left join resume_points on resume_points.imo = affected.imo
)

select * from final;

-- name: delete
delete from int_sightings
using int_sightings__resume as resume
where int_sightings.imo = resume.imo and int_sightings.observed_at >= resume.resume_at;
