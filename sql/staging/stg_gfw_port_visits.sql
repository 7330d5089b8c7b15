-- Global Fishing Watch port visits.
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
        clean_text(start) as start_text,
        clean_text("end") as end_text,
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
            when utc_offset_problem(start_text, 'port visit start') is not null then utc_offset_problem(start_text, 'port visit start')
            when utc_offset_problem(end_text, 'port visit end') is not null then utc_offset_problem(end_text, 'port visit end')
            when plausible_time_problem(started_at, 'port visit start') is not null
                then plausible_time_problem(started_at, 'port visit start')
            when plausible_time_problem(ended_at, 'port visit end') is not null
                then plausible_time_problem(ended_at, 'port visit end')
            when ended_at < started_at then 'port visit ends before it starts'
            when latitude is null or longitude is null then 'port visit has no position'
            else coordinate_problem(latitude, longitude, 'port visit position')
        end as reject_reason
    from typed
)

select * from final
