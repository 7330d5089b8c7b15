-- How int_sightings is brought up to date when only some days of sightings changed
-- (a nightly run, a re-run or corrected day), instead of computing every sighting of
-- every vessel again (tankerwatch/incremental.py runs the named statements below).
--
-- The window starts at the earliest sighting time of any snapshot loaded or removed
-- since the last build ($window_from). A vessel with sightings from the window on,
-- new or stored, is resumed from its last stored state-carrying sighting before the
-- window: the rows before that point keep every column, because their forward-looking
-- columns (next state, end of call) point at that sighting or before it. Its rows from
-- the resume point on are deleted and computed again, with the stored row just before
-- the point as context (previous sighting, state and AIS position, sighting number).
-- A change to anything else int_sightings reads (MMSI links, vessel names and
-- draughts, ports, the SQL) rebuilds everything: that is the `inputs` fingerprint.

-- name: resume_table
-- One row per resumed vessel: where its rows are computed again, and what lies before.
create or replace temp table int_sightings__resume (
    imo varchar,
    resume_at timestamptz,
    context struct(
        sighting_number bigint,
        previous_row struct(kind varchar, id varchar, lat double, lon double),
        previous_sighting struct(port_id varchar, "at" timestamptz),
        previous_state_sighting struct("at" timestamptz, state varchar),
        previous_ais_at timestamptz
    )
);

-- name: snapshot_times
-- Per snapshot id in $snapshot_ids, its earliest time that can move a sighting: a
-- sighting's own time, or an AIS draught report's (in force for 24 hours after it).
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
    (select count(*) || ':' || coalesce(bit_xor(hash(to_json(t))), 0) from int_mmsi_identities as t),
    (select count(*) || ':' || coalesce(bit_xor(hash(to_json(t))), 0) from int_vessel_names as t),
    (select count(*) || ':' || coalesce(bit_xor(hash(imo, summer_draught_m)), 0) from int_vessels),
    (select count(*) || ':' || coalesce(bit_xor(hash(to_json(t))), 0) from ref_ports as t)
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

-- A vessel's last state before the window, and the row before that, almost always lie in
-- the week before the window: only a vessel for which they do not is read whole.
recent_rows as (
    select
        imo,
        observed_at,
        case when state is not null then observed_at else previous_state_at end as state_at,
        {
            'at': observed_at, 'id': sighting_id, 'kind': evidence_kind,
            'source': source_name, 'lat': latitude, 'lon': longitude
        } as sequence_key
    from int_sightings
    where imo in (select imo from affected)
        and observed_at >= $window_from::timestamptz - interval 7 days
        and observed_at < $window_from::timestamptz
),

-- no state before the window at all, or a recent row before the last one
found_recently as (
    select imo
    from recent_rows
    group by imo
    having arg_max_null(state_at, sequence_key) is null
        or min(observed_at) < arg_max_null(state_at, sequence_key)
),

-- the week before the window of every affected vessel, and the older rows of those not
-- found recently: two scans, so that the time filter reaches the table scan (an `or`
-- of the two would read every column of every stored row)
stored as (
    select
        stored_rows.*,
        {
            'at': observed_at, 'id': sighting_id, 'kind': evidence_kind,
            'source': source_name, 'lat': latitude, 'lon': longitude
        } as sequence_key
    from (
        select * from int_sightings
        where imo in (select imo from affected)
            and observed_at >= $window_from::timestamptz - interval 7 days
        union all
        select * from int_sightings
        where imo in (select imo from affected where imo not in (select imo from found_recently))
            and observed_at < $window_from::timestamptz - interval 7 days
    ) as stored_rows
),

last_before_window as (
    select
        imo,
        arg_max_null(
            case when state is not null then observed_at else previous_state_at end,
            sequence_key
        ) as last_state_at
    from stored
    where observed_at < $window_from::timestamptz
    group by imo
),

resume_points as (
    select
        affected.imo,
        coalesce(last_before_window.last_state_at, '-infinity'::timestamptz) as resume_at
    from affected
    left join last_before_window on last_before_window.imo = affected.imo
),

last_before_resume as (
    select stored.imo, arg_max(stored, stored.sequence_key) as last_row
    from stored
    inner join resume_points on resume_points.imo = stored.imo
    where stored.observed_at < resume_points.resume_at
    group by stored.imo
),

final as (
    select
        resume_points.imo,
        resume_points.resume_at,
        case when last_before_resume.last_row is not null then {
            'sighting_number': last_row.sighting_number,
            'previous_row': {'kind': last_row.evidence_kind, 'id': last_row.sighting_id, 'lat': last_row.latitude, 'lon': last_row.longitude},
            'previous_sighting': {'port_id': last_row.port_id, 'at': last_row.observed_at},
            'previous_state_sighting': case
                when last_row.state is not null then {'at': last_row.observed_at, 'state': last_row.state}
                when last_row.previous_state_at is not null then {'at': last_row.previous_state_at, 'state': last_row.previous_state}
            end,
            'previous_ais_at': case when last_row.evidence_kind = 'ais' then last_row.observed_at else last_row.previous_ais_at end
        } end as context
    from resume_points
    left join last_before_resume on last_before_resume.imo = resume_points.imo
)

select * from final;

-- name: delete
delete from int_sightings
using int_sightings__resume as resume
where int_sightings.imo = resume.imo and int_sightings.observed_at >= resume.resume_at;
