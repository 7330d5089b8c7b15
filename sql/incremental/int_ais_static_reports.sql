-- How int_ais_static_reports is brought up to date (tankerwatch/incremental.py runs
-- the named statements below). A report is one usable static message (NMEA or DMA) of
-- one snapshot, so a build deletes the reports of the snapshots loaded or removed since
-- the last build ($changed_snapshots) and reads those snapshots again; the others keep
-- every column. A change to the SQL or the macros rebuilds all.

-- name: snapshot_times
-- Any time marks a snapshot as one to replace; one without receiver times is replaced
-- too, with the far future as its time.
select snapshot_id, coalesce(min(received_at), undated_snapshot_at()) as first_at
from (
    select snapshot_id, received_at from stg_ais_static
    union all
    select snapshot_id, received_at from stg_ais_dma
)
where list_contains($snapshot_ids, snapshot_id)
group by snapshot_id;

-- name: inputs
-- Nothing but the staged messages and the SQL: no other input.
select 'stg_ais_static, stg_ais_dma' as fingerprint;

-- name: delete
delete from int_ais_static_reports
where list_contains(cast($changed_snapshots as varchar[]), snapshot_id);
