-- How int_vessel_encounters is brought up to date when only some days of sightings
-- changed (tankerwatch/incremental.py runs the named statements below).
--
-- New or removed sightings from $window_from on (int_sightings' window) can change
-- an encounter that has a sighting from there on, or that a new match can chain to:
-- one ending at most max_time_gap + cluster_gap before the window. They can also
-- change an encounter's state after, when the first state after its last sighting is
-- not yet known or lies in the window. An encounter that is none of these keeps
-- every column. The others are deleted and computed again from the earliest start
-- among them (resume_at), reading sightings from cluster_gap + max_time_gap before
-- it, so that an encounter kept as stored is never computed as a fragment.
-- A change to anything int_sightings was rebuilt for, or to the SQL, rebuilds all.

-- name: snapshot_times
-- same as int_sightings

-- name: inputs
select coalesce(
    (select inputs_fingerprint from incremental_builds where model = 'int_sightings'),
    'int_sightings not built incrementally'
) as fingerprint;

-- name: resume_table
create or replace temp table int_vessel_encounters__resume (resume_at timestamptz);

-- name: resume
insert into int_vessel_encounters__resume
with reach as (
    select $window_from::timestamptz - encounter_max_time_gap() - encounter_cluster_gap() as chainable_from
),

open_encounters as (
    select int_vessel_encounters.started_at
    from int_vessel_encounters
    cross join reach
    where int_vessel_encounters.ended_at >= reach.chainable_from
        or int_vessel_encounters.state_after_a is null
        or int_vessel_encounters.state_after_b is null
        or int_vessel_encounters.state_after_a.observed_at >= $window_from::timestamptz
        or int_vessel_encounters.state_after_b.observed_at >= $window_from::timestamptz
)

select least(reach.chainable_from, coalesce((select min(started_at) from open_encounters), 'infinity'))
from reach;

-- name: delete
delete from int_vessel_encounters
where started_at >= (select min(resume_at) from int_vessel_encounters__resume);
