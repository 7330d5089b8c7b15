-- Analysts' satellite-imagery sightings, typed and checked. observed_at must carry an explicit UTC
-- offset (analysts log local times); it is normalised to UTC.
with source as (
    select * from raw_imagery_sightings
),

renamed as (
    select
        source_name,
        snapshot_id,
        source_row,
        clean_text(sighting_id) as sighting_id,
        clean_text(observed_at) as observed_at_text,
        clean_text(source) as imagery_source,
        clean_text(image_id) as image_id,
        clean_text(latitude) as latitude_text,
        clean_text(longitude) as longitude_text,
        clean_text(vessel_name) as vessel_name,
        clean_imo(imo) as imo_as_listed,
        clean_text(mmsi) as mmsi,
        lower(clean_text(laden_state)) as laden_state,
        clean_text(load_fraction) as load_fraction_text,
        lower(clean_text(confidence)) as confidence,
        clean_text(notes) as notes
    from source
),

typed as (
    select
        *,
        case
            when regexp_matches(observed_at_text, '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$')
                then try_cast(observed_at_text as timestamptz)
        end as observed_at,
        try_cast(latitude_text as double) as latitude,
        try_cast(longitude_text as double) as longitude,
        try_cast(load_fraction_text as double) as load_fraction
    from renamed
),

checked as (
    select
        *,
        case
            when sighting_id is null then 'sighting has no sighting_id'
            when observed_at_text is null then 'observed_at is empty'
            when not regexp_matches(observed_at_text, '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$')
                then 'observed_at has no UTC offset: ' || observed_at_text
            when observed_at is null then 'observed_at is not an ISO 8601 time: ' || observed_at_text
            when utc_offset_problem(observed_at_text, 'observed_at') is not null then utc_offset_problem(observed_at_text, 'observed_at')
            when plausible_time_problem(observed_at, 'observed_at') is not null then plausible_time_problem(observed_at, 'observed_at')
            when latitude is null or not isfinite(latitude) or latitude not between -90 and 90
                then 'latitude is not a number in -90..90: ' || coalesce(latitude_text, '(empty)')
            when longitude is null or not isfinite(longitude) or longitude not between -180 and 180
                then 'longitude is not a number in -180..180: ' || coalesce(longitude_text, '(empty)')
            when coordinate_problem(latitude, longitude, 'position') is not null then coordinate_problem(latitude, longitude, 'position')
            when imo_as_listed is not null and not is_valid_ship_imo(imo_as_listed)
                then 'invalid ship IMO number ' || imo_as_listed || ' (not 7 digits with a valid check digit)'
            when mmsi_problem(mmsi) is not null then mmsi_problem(mmsi)
            when laden_state is null or laden_state not in ('empty', 'partial', 'laden', 'unknown')
                then 'laden_state is not one of empty, partial, laden, unknown: ' || coalesce(laden_state, '(empty)')
            when fraction_problem(load_fraction_text, load_fraction, 'load_fraction') is not null
                then fraction_problem(load_fraction_text, load_fraction, 'load_fraction')
            when imo_as_listed is null and mmsi is null and vessel_name is null
                then 'sighting names no vessel (no imo, mmsi or vessel_name)'
        end as reject_reason
    from typed
),

numbered as (
    select
        *,
        row_number() over (partition by source_name, sighting_id order by snapshot_id, source_row) as copy_number
    from checked
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        sighting_id,
        observed_at,
        imagery_source,
        image_id,
        latitude,
        longitude,
        vessel_name,
        imo_as_listed as imo,
        mmsi,
        laden_state,
        load_fraction,
        confidence,
        notes,
        coalesce(
            reject_reason,
            case when sighting_id is not null and copy_number > 1 then 'duplicate sighting_id ' || sighting_id end
        ) as reject_reason
    from numbered
)

select * from final
