-- How stg_ais_static is brought up to date (tankerwatch/incremental.py runs the
-- named statements below). A row is one raw static message checked on its own, so a
-- build deletes the rows of the snapshots loaded or removed since the last build
-- ($changed_snapshots) and checks those snapshots' messages again; the others keep
-- every column. A change to the SQL or the macros rebuilds all.

-- name: snapshot_times
-- Any time marks a snapshot as one to replace; a snapshot whose messages all lack a
-- receiver time is replaced too, with the far future as its time.
select snapshot_id, coalesce(min(received_at), undated_snapshot_at()) as first_at
from raw_ais_static
where list_contains($snapshot_ids, snapshot_id)
group by snapshot_id;

-- name: inputs
-- Nothing but the raw messages and the SQL: no other input.
select 'raw_ais_static' as fingerprint;

-- name: delete
delete from stg_ais_static
where list_contains(cast($changed_snapshots as varchar[]), snapshot_id);
