-- AIS position reports (class A types 1-3, class B types 18-19), with the
-- not-available sentinels turned into nulls or rejects. A view: at regional scale
-- these are tens of millions of rows, computed once inside int_sightings. An
-- exact repeat of a position (same feed, MMSI, time and position) is rejected
-- there, where the positions are in vessel and time order anyway. Implausible values
-- (sql/macros.sql: a receiver time before 1990 or more than a day after the run, as a
-- tag block of c:0 or of 11 digits gives; a coordinate out of range) are rejects.
-- grain: one row per decoded AIS position message (source_name, snapshot_id, source_row)
-- materialized: view
-- gate window: list_contains($unvalidated_snapshots, snapshot_id)
-- columns:
--   source_name: sources-file name of the AIS feed
--   snapshot_id: first 16 hex digits of the landed file's sha256
--   source_row: line of the message's last sentence
--   received_at: receiver time from the NMEA tag block, UTC
--   msg_type: AIS message type
--   mmsi: 9-digit MMSI
--   latitude: degrees north
--   longitude: degrees east
--   speed_knots: speed over ground; null when not available (102.3)
--   course: course over ground; null when not available (360)
--   heading: true heading; null when not available (511)
--   nav_status: navigational status (class A)
--   reject_reason: why the message cannot be a sighting; null when usable
with source as (
    select * from raw_ais_positions
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        received_at,
        msg_type,
        mmsi,
        latitude,
        longitude,
        case when speed_knots < 102.2 then speed_knots end as speed_knots,
        case when course < 360 then course end as course,
        case when heading between 0 and 359 then heading end as heading,
        nav_status,
        case
            when ais_message_reject_reason(received_at, mmsi) is not null then ais_message_reject_reason(received_at, mmsi)
            -- 91 and 181 are AIS's own "not available"; any other value out of range is implausible
            when latitude is null or longitude is null or latitude = 91 or longitude = 181
                then 'position not available (lat ' || coalesce(latitude::varchar, 'null')
                    || ', lon ' || coalesce(longitude::varchar, 'null') || ')'
            else coordinate_problem(latitude, longitude, 'position')
        end as reject_reason
    from source
)

select * from final
