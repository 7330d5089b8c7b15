-- Danish Maritime Authority AIS rows, typed.
with source as (
    select * from raw_ais_dma
),

typed as (
    select
        source_name,
        snapshot_id,
        source_row,
        try_strptime(clean_text(timestamp), '%d/%m/%Y %H:%M:%S') as received_local,
        case when length(clean_text(mmsi)) < 9 then lpad(clean_text(mmsi), 9, '0') else clean_text(mmsi) end as mmsi,
        try_cast(clean_text(latitude) as double) as latitude_value,
        try_cast(clean_text(longitude) as double) as longitude_value,
        try_cast(clean_text(sog) as double) as speed_knots,
        clean_text(sog) as speed_text,
        try_cast(clean_text(cog) as double) as course,
        clean_text(cog) as course_text,
        try_cast(clean_text(heading) as integer) as heading,
        clean_imo(case when lower(clean_text(imo)) = 'unknown' then null else imo end) as imo_as_reported,
        upper(case when lower(clean_text(name)) = 'unknown' then null else clean_text(name) end) as ship_name,
        case when lower(clean_text(callsign)) = 'unknown' then null else clean_text(callsign) end as call_sign,
        clean_text(ship_type) as ship_type,
        try_cast(clean_text(draught) as double) as draught_value,
        -- a draught of 0 is AIS's "not available"
        case when try_cast(clean_text(draught) as double) = 0 then null else clean_text(draught) end as draught_text,
        case when lower(clean_text(destination)) = 'unknown' then null else clean_text(destination) end as destination,
        clean_text(timestamp) as timestamp_text
    from source
),

numbered as (
    select
        *,
        row_number() over (
            partition by source_name, mmsi, received_local, latitude_value, longitude_value
            order by snapshot_id, source_row
        ) as copy_number
    from typed
),

positioned as (
    select
        *,
        coalesce(is_plausible_coordinate(latitude_value, longitude_value), false) as has_position,
        -- latitude 91 or longitude 181 (or none) is DMA's "no position"
        latitude_value is null or longitude_value is null or latitude_value = 91 or longitude_value = 181 as no_position_given
    from numbered
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        timezone('UTC', received_local) as received_at,
        mmsi,
        has_position,
        case when has_position then latitude_value end as latitude,
        case when has_position then longitude_value end as longitude,
        case when isfinite(speed_knots) and speed_knots between 0 and 102.2 then speed_knots end as speed_knots,
        case when isfinite(course) and course >= 0 and course < 360 then course end as course,
        case when heading between 0 and 359 then heading end as heading,
        case when is_valid_ship_imo(imo_as_reported) then imo_as_reported end as imo,
        ship_name,
        call_sign,
        ship_type,
        case when isfinite(draught_value) and draught_value > 0 then draught_value end as draught_m,
        destination,
        coalesce(
            case when received_local is null then 'timestamp is not dd/mm/YYYY HH:MM:SS: ' || coalesce(timestamp_text, '(empty)') end,
            ais_message_reject_reason(timezone('UTC', received_local), mmsi),
            case when not has_position and not no_position_given then coordinate_problem(latitude_value, longitude_value, 'position') end,
            non_negative_problem(speed_text, speed_knots, 'SOG'),
            non_negative_problem(course_text, course, 'COG'),
            positive_quantity_problem(draught_text, draught_value, 'draught'),
            case when copy_number > 1 then 'duplicate AIS row (same MMSI, time and position as an earlier row)' end
        ) as reject_reason
    from positioned
)

select * from final
