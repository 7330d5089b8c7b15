-- Global Fishing Watch identity records: what a vessel broadcast (self-reported) or what
-- registries say, linking MMSI, IMO and names.
with source as (
    select * from raw_gfw_vessels
),

flags as (
    select distinct upper(country_name) as country_key, iso2 from ref_countries
),

typed as (
    select
        source.*,
        clean_text(source.ssvid) as ssvid_text,
        clean_text(source.transmission_from) as transmission_from_text,
        clean_text(source.transmission_to) as transmission_to_text,
        try_cast(source.transmission_from as timestamptz) as transmission_from_at,
        try_cast(source.transmission_to as timestamptz) as transmission_to_at
    from source
),

final as (
    select
        source.source_name,
        source.snapshot_id,
        source.source_row,
        source.gfw_vessel_id,
        source.info_kind,
        case when is_digits(clean_text(source.ssvid), 9) then clean_text(source.ssvid) end as mmsi,
        case when is_valid_ship_imo(clean_imo(source.imo)) then clean_imo(source.imo) end as imo,
        upper(clean_text(source.shipname)) as ship_name,
        clean_text(source.callsign) as call_sign,
        flags.iso2 as flag_iso2,
        source.transmission_from_at as transmission_from,
        source.transmission_to_at as transmission_to,
        coalesce(
            case
                when not is_digits(coalesce(source.ssvid_text, ''), 9) and not is_valid_ship_imo(clean_imo(source.imo))
                    then 'GFW record has neither a 9-digit MMSI nor a valid ship IMO'
            end,
            mmsi_problem(source.ssvid_text),
            case
                when source.transmission_from_text is not null and source.transmission_from_at is null
                    then 'transmission_from is not an ISO 8601 time: ' || source.transmission_from_text
                when source.transmission_to_text is not null and source.transmission_to_at is null
                    then 'transmission_to is not an ISO 8601 time: ' || source.transmission_to_text
            end,
            utc_offset_problem(source.transmission_from_text, 'transmission_from'),
            utc_offset_problem(source.transmission_to_text, 'transmission_to'),
            plausible_time_problem(source.transmission_from_at, 'transmission_from'),
            plausible_time_problem(source.transmission_to_at, 'transmission_to')
        ) as reject_reason
    from typed as source
    left join flags on flags.country_key = upper(source.flag)
)

select * from final
