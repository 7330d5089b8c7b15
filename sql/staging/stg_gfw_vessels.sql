-- Global Fishing Watch identity records: what a vessel broadcast (self-reported)
-- or what registries say, linking MMSI, IMO and names.
-- grain: one row per GFW identity record (source_name, snapshot_id, source_row)
-- columns:
--   source_name: sources-file name of the GFW source
--   snapshot_id: snapshot the record was read from
--   source_row: record number in the landed answers
--   gfw_vessel_id: GFW's vessel id
--   info_kind: selfReportedInfo or registryInfo
--   mmsi: 9-digit MMSI (GFW ssvid)
--   imo: IMO when valid by the ship check digit
--   ship_name: name, upper-case
--   call_sign: call sign
--   flag_iso2: flag, ISO 3166 alpha-2
--   transmission_from: first transmission seen
--   transmission_to: last transmission seen
--   reject_reason: why the record links nothing; null when usable
with source as (
    select * from raw_gfw_vessels
),

flags as (
    select distinct upper(country_name) as country_key, iso2 from ref_countries
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
        try_cast(source.transmission_from as timestamptz) as transmission_from,
        try_cast(source.transmission_to as timestamptz) as transmission_to,
        case
            when not is_digits(coalesce(clean_text(source.ssvid), ''), 9) and not is_valid_ship_imo(clean_imo(source.imo))
                then 'GFW record has neither a 9-digit MMSI nor a valid ship IMO'
        end as reject_reason
    from source
    left join flags on flags.country_key = upper(source.flag)
)

select * from final
