-- Vessel particulars from the registry source(s), typed and checked.
with source as (
    select * from raw_registry_vessels
),

renamed as (
    select
        source_name,
        snapshot_id,
        source_row,
        clean_imo(imo) as imo_as_listed,
        upper(clean_text(name)) as vessel_name,
        list_filter(
            list_transform(string_split(coalesce(former_names, ''), ';'), lambda n: upper(trim(n))),
            lambda n: n <> ''
        ) as former_names,
        clean_text(mmsi) as mmsi,
        clean_text(call_sign) as call_sign,
        clean_text(flag) as flag_as_listed,
        clean_text(vessel_type) as vessel_type,
        clean_text(dwt) as dwt_text,
        clean_text(gross_tonnage) as gross_tonnage_text,
        clean_text(cargo_capacity_m3) as cargo_capacity_m3_text,
        clean_text(summer_draught_m) as summer_draught_m_text,
        clean_text(build_year) as build_year_text,
        clean_text(owner) as owner,
        clean_text(updated_at) as updated_at_text
    from source
),

flags as (
    select distinct upper(country_name) as country_key, iso2 from ref_countries
),

typed as (
    select
        renamed.*,
        case
            when regexp_full_match(flag_as_listed, '[A-Za-z]{2}') then upper(flag_as_listed)
            else flags.iso2
        end as flag_iso2,
        try_cast(replace(dwt_text, ',', '') as double) as dwt,
        try_cast(replace(gross_tonnage_text, ',', '') as double) as gross_tonnage,
        try_cast(replace(cargo_capacity_m3_text, ',', '') as double) as cargo_capacity_m3,
        try_cast(summer_draught_m_text as double) as summer_draught_m,
        try_cast(build_year_text as integer) as build_year,
        try_cast(updated_at_text as timestamptz) as updated_at
    from renamed
    left join flags on flags.country_key = upper(renamed.flag_as_listed)
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        case when is_valid_ship_imo(imo_as_listed) then imo_as_listed end as imo,
        vessel_name,
        former_names,
        mmsi,
        call_sign,
        flag_iso2,
        flag_as_listed,
        vessel_type,
        dwt,
        gross_tonnage,
        cargo_capacity_m3,
        summer_draught_m,
        build_year,
        owner,
        updated_at,
        case
            when imo_as_listed is null then 'registry row has no IMO number'
            when not is_valid_ship_imo(imo_as_listed)
                then 'invalid ship IMO number ' || imo_as_listed || ' (not 7 digits with a valid check digit)'
            when vessel_name is null then 'registry row has no vessel name'
            when mmsi_problem(mmsi) is not null then mmsi_problem(mmsi)
            when flag_as_listed is not null and flag_iso2 is null then 'unknown flag state: ' || flag_as_listed
            when positive_quantity_problem(dwt_text, dwt, 'dwt') is not null then positive_quantity_problem(dwt_text, dwt, 'dwt')
            when positive_quantity_problem(gross_tonnage_text, gross_tonnage, 'gross_tonnage') is not null
                then positive_quantity_problem(gross_tonnage_text, gross_tonnage, 'gross_tonnage')
            when positive_quantity_problem(cargo_capacity_m3_text, cargo_capacity_m3, 'cargo_capacity_m3') is not null
                then positive_quantity_problem(cargo_capacity_m3_text, cargo_capacity_m3, 'cargo_capacity_m3')
            when positive_quantity_problem(summer_draught_m_text, summer_draught_m, 'summer_draught_m') is not null
                then positive_quantity_problem(summer_draught_m_text, summer_draught_m, 'summer_draught_m')
            when build_year_text is not null and build_year is null then 'build_year is not a year: ' || build_year_text
            when updated_at_text is not null and updated_at is null then 'updated_at is not a date: ' || updated_at_text
            when utc_offset_problem(updated_at_text, 'updated_at') is not null then utc_offset_problem(updated_at_text, 'updated_at')
            when plausible_time_problem(updated_at, 'updated_at') is not null then plausible_time_problem(updated_at, 'updated_at')
        end as reject_reason
    from typed
)

select * from final
