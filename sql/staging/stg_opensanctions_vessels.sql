-- OpenSanctions Vessel entities, keyed by their ship IMO.
with source as (
    select * from raw_opensanctions_vessels
),

renamed as (
    select
        source_name,
        snapshot_id,
        source_row,
        entity_id,
        list_filter(list_transform(coalesce(imo_numbers, []), lambda n: clean_imo(n)), lambda n: n is not null) as imo_candidates,
        upper(trim(coalesce(names[1], caption))) as listed_name,
        list_distinct(list_transform(
            coalesce(names[2:], []) || coalesce(aliases, []) || coalesce(previous_names, []),
            lambda n: upper(trim(n))
        )) as other_names,
        list_filter(coalesce(mmsis, []), lambda m: is_digits(trim(m), 9))[1] as mmsi,
        list_filter(coalesce(mmsis, []), lambda m: mmsi_problem(trim(m)) is not null)[1] as bad_mmsi,
        upper(trim(flags[1])) as flag_iso2,
        vessel_types[1] as vessel_type,
        try_cast(replace(deadweight_tonnage[1], ',', '') as double) as dwt,
        clean_text(deadweight_tonnage[1]) as dwt_text,
        datasets
    from source
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        entity_id,
        list_filter(imo_candidates, lambda n: is_valid_ship_imo(n))[1] as imo,
        listed_name,
        other_names,
        mmsi,
        flag_iso2,
        vessel_type,
        dwt,
        datasets,
        case
            when len(imo_candidates) = 0 then 'OpenSanctions vessel has no imoNumber'
            when len(list_filter(imo_candidates, lambda n: is_valid_ship_imo(n))) = 0
                then 'invalid ship IMO number ' || array_to_string(imo_candidates, ', ') || ' (not 7 digits with a valid check digit)'
            when bad_mmsi is not null then mmsi_problem(trim(bad_mmsi))
            else positive_quantity_problem(dwt_text, dwt, 'deadweightTonnage')
        end as reject_reason
    from renamed
)

select * from final
