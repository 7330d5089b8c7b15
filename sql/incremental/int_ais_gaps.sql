-- How int_ais_gaps is brought up to date (tankerwatch/incremental.py runs the named
-- statements below). A gap is read off the AIS position that ends it (its time, the
-- time of the position before, its state) and the position that starts it. Neither
-- changes unless positions or draught reports from before the gap's end change, so
-- the gaps ending from the window on ($window_from, int_sightings' window) are
-- deleted and computed again; the others keep every column. A change to anything
-- int_sightings was rebuilt for, or to the SQL, rebuilds all.

-- name: snapshot_times
-- same as int_sightings

-- name: inputs
-- same as int_vessel_encounters

-- name: delete
delete from int_ais_gaps
where reappeared_at >= $window_from::timestamptz;
