-- How int_state_changes is brought up to date (tankerwatch/incremental.py runs the
-- named statements below). A change is read off its first sighting of the new state
-- (its state and the vessel's previous state, by time) and the last sighting of the
-- old state. Neither changes unless sightings or draught reports from before the
-- change's first sighting change, so the changes from the window on ($window_from,
-- int_sightings' window) are deleted and computed again; the others keep every
-- column. A change to anything int_sightings was rebuilt for, or to the SQL, rebuilds all.

-- name: snapshot_times
-- same as int_sightings

-- name: inputs
-- same as int_vessel_encounters

-- name: delete
delete from int_state_changes
where first_after_at >= $window_from::timestamptz;
