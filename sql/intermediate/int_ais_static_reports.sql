-- Every usable AIS static report (IMO, name, draught a ship gives for its MMSI), whatever the feed format.
-- Each row comes from one message of one snapshot, so a build replaces the rows of the
-- snapshots loaded or removed since the last one (sql/incremental/int_ais_static_reports.sql).
-- grain: one row per usable AIS static report (source_name, snapshot_id, source_row)
-- materialized: incremental
-- columns:
--   source_name: sources-file name of the feed
--   snapshot_id: snapshot the report was read from
--   source_row: line of the report
--   received_at: receiver time, UTC
--   mmsi: 9-digit MMSI
--   imo: reported IMO when valid by the ship check digit
--   ship_name: reported name, upper-case
--   draught_m: reported draught; null when not available
with nmea as (
    select source_name, snapshot_id, source_row, received_at, mmsi, imo, ship_name, draught_m
    from stg_ais_static
    where reject_reason is null
),

dma as (
    select source_name, snapshot_id, source_row, received_at, mmsi, imo, ship_name, draught_m
    from stg_ais_dma
    where reject_reason is null and (imo is not null or ship_name is not null or draught_m is not null)
),

final as (
    select * from (
        select * from nmea
        union all
        select * from dma
    )
    where $rebuild_all or list_contains(cast($changed_snapshots as varchar[]), snapshot_id)
)

select * from final
