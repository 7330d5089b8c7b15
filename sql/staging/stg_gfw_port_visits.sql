-- Global Fishing Watch port visits. Each visit becomes evidence that the vessel
-- was at the anchorage at its start and at its end (int_sighting_identities).
-- grain: one row per GFW port-visit event (source_name, event_id)
-- columns:
--   source_name: sources-file name of the GFW source
--   snapshot_id: snapshot the event was read from
--   source_row: record number in the landed answers
--   event_id: GFW event id
--   mmsi: 9-digit MMSI (GFW ssvid)
--   vessel_name: GFW's vessel name, upper-case
--   started_at: visit start, UTC
--   ended_at: visit end, UTC
--   latitude: anchorage latitude, else the event position
--   longitude: anchorage longitude, else the event position
--   anchorage_name: GFW anchorage label
--   confidence: GFW visit confidence (2-4 published)
--   reject_reason: why the visit cannot be used; null when usable
with source as (
    select * from raw_gfw_port_visits
),

typed as (
    select
        source_name,
        snapshot_id,
        source_row,
        clean_text(event_id) as event_id,
        clean_text(ssvid) as ssvid,
        upper(clean_text(vessel_name)) as vessel_name,
        try_cast(start as timestamptz) as started_at,
        try_cast("end" as timestamptz) as ended_at,
        coalesce(anchorage_lat, latitude) as latitude,
        coalesce(anchorage_lon, longitude) as longitude,
        clean_text(anchorage_name) as anchorage_name,
        try_cast(confidence as integer) as confidence
    from source
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        event_id,
        case when is_digits(ssvid, 9) then ssvid end as mmsi,
        vessel_name,
        started_at,
        ended_at,
        latitude,
        longitude,
        anchorage_name,
        confidence,
        case
            when event_id is null then 'port visit has no event id'
            when not is_digits(coalesce(ssvid, ''), 9) then 'port visit has no 9-digit ssvid: ' || coalesce(ssvid, '(none)')
            when started_at is null or ended_at is null then 'port visit has no start or end time'
            when ended_at < started_at then 'port visit ends before it starts'
            when latitude is null or longitude is null or abs(latitude) > 90 or abs(longitude) > 180
                then 'port visit has no position'
        end as reject_reason
    from typed
)

select * from final
