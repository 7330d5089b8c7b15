-- AIS static and voyage data: the IMO, name and draught a ship reports for its MMSI.
-- Each row is one raw message checked on its own, so a build replaces the rows of the
-- snapshots loaded or removed since the last one (sql/incremental/stg_ais_static.sql).
-- A receiver time before 1990 or more than a day after the run is a reject
-- (sql/macros.sql), as of the run that stored the snapshot's rows.
-- grain: one row per decoded AIS static message (source_name, snapshot_id, source_row)
-- materialized: incremental
-- columns:
--   source_name: sources-file name of the AIS feed
--   snapshot_id: first 16 hex digits of the landed file's sha256
--   source_row: line of the message's last sentence
--   received_at: receiver time from the NMEA tag block, UTC
--   msg_type: AIS message type (5, 19 or 24)
--   mmsi: 9-digit MMSI
--   imo: reported IMO when valid by the ship check digit
--   imo_as_reported: reported IMO as transmitted
--   ship_name: reported name, upper-case
--   call_sign: reported call sign
--   ship_type: AIS ship type code (80-89 tanker)
--   draught_m: reported draught; null when not available (0)
--   destination: reported destination
--   reject_reason: why the message cannot be used; null when usable
with source as (
    select * from raw_ais_static
    where $rebuild_all or list_contains(cast($changed_snapshots as varchar[]), snapshot_id)
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        received_at,
        msg_type,
        mmsi,
        case when is_valid_ship_imo(imo) then imo end as imo,
        imo as imo_as_reported,
        upper(clean_text(ship_name)) as ship_name,
        clean_text(call_sign) as call_sign,
        ship_type,
        case when draught_m > 0 then draught_m end as draught_m,
        clean_text(destination) as destination,
        ais_message_reject_reason(received_at, mmsi) as reject_reason
    from source
)

select * from final
