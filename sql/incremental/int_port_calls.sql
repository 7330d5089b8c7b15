-- How int_port_calls is brought up to date when only some days of sightings changed
-- (tankerwatch/incremental.py runs the named statements below).
--
-- A call is read off its bounds in int_sightings: the sightings that start and end it,
-- its imagery, and the reject rows between. Of the rows before the window ($window_from,
-- int_sightings' window) only the last one of a vessel can change a bound, and only
-- when the next sighting is new and at most 5 days (the port-call gap) after it: a call
-- that ended more than 5 days before the window keeps every column. The others are
-- deleted and computed again from the earliest arrival among them (resume_at), so no
-- call is computed from part of its bounds. A change to anything int_sightings was
-- rebuilt for, or to the SQL, rebuilds all.

-- name: snapshot_times
-- same as int_sightings

-- name: inputs
-- same as int_vessel_encounters

-- name: resume_table
create or replace temp table int_port_calls__resume (resume_at timestamptz);

-- name: resume
insert into int_port_calls__resume
with reach as (
    select $window_from::timestamptz - port_call_max_gap() as changeable_from
)

select least(
    reach.changeable_from,
    coalesce(
        (select min(arrival_at) from int_port_calls where departure_at >= reach.changeable_from),
        'infinity'::timestamptz
    )
)
from reach;

-- name: delete
delete from int_port_calls
where arrival_at >= (select min(resume_at) from int_port_calls__resume);
