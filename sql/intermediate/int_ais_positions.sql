-- Every usable AIS position, whatever feed format it came in (NMEA, DMA CSV).
-- grain: one row per usable AIS position message (source_name, snapshot_id, source_row)
-- materialized: view
-- gate window: list_contains($unvalidated_snapshots, snapshot_id)
-- columns:
--   source_name: sources-file name of the feed
--   snapshot_id: snapshot the message was read from
--   source_row: line of the message
--   received_at: receiver time, UTC
--   mmsi: 9-digit MMSI
--   latitude: degrees north
--   longitude: degrees east
--   speed_knots: speed over ground
with nmea as (
    select source_name, snapshot_id, source_row, received_at, mmsi, latitude, longitude, speed_knots
    from stg_ais_positions
    where reject_reason is null
),

dma as (
    select source_name, snapshot_id, source_row, received_at, mmsi, latitude, longitude, speed_knots
    from stg_ais_dma
    where reject_reason is null and has_position
),

final as (
    select * from nmea
    union all
    select * from dma
)

select * from final
