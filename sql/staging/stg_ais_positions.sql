-- AIS position reports (class A types 1-3, class B types 18-19), with the not-available sentinels
-- turned into nulls or rejects.
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
