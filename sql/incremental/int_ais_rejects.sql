-- How int_ais_rejects is brought up to date (tankerwatch/incremental.py runs the
-- named statements below). A reject depends on its own AIS message, the MMSI links,
-- and for a DMA row on the other rows with its MMSI, time and position (the first
-- one read is the usable one). So a build deletes and computes again the rejects of
-- every snapshot loaded or removed since the last build ($changed_snapshots), and
-- every reject received from the earliest time of those snapshots on
-- ($window_from). A change to the MMSI links, vessel names or the SQL rebuilds all.

-- name: snapshot_times
-- Per AIS snapshot, its earliest receiver time. A snapshot whose messages all lack
-- one still has rejects, but moves no time window: its time is the far future.
select snapshot_id, coalesce(min(received_at), undated_snapshot_at()) as first_at
from (
    select snapshot_id, received_at from stg_ais_positions
    union all
    select snapshot_id, received_at from stg_ais_dma
)
where list_contains($snapshot_ids, snapshot_id)
group by snapshot_id;

-- name: inputs
select concat_ws(' | ',
    table_fingerprint('int_mmsi_identities'),
    table_fingerprint('int_vessel_names')
) as fingerprint;

-- name: delete
delete from int_ais_rejects
where received_at >= $window_from::timestamptz
    or list_contains(cast($changed_snapshots as varchar[]), snapshot_id);
