-- OpenSanctions Vessel entities, keyed by their ship IMO. FtM properties are
-- lists; the first valid ship IMO keys the entity, and numbers are read as
-- written ('IMO8604917', '8604917'). Implausible values (sql/macros.sql) reject the
-- entity, as in every other source: an MMSI that is not 9 digits, a deadweight that is
-- not a finite positive number.
-- grain: one row per OpenSanctions Vessel entity (source_name, entity_id)
-- columns:
--   source_name: sources-file name of the OpenSanctions export
--   snapshot_id: snapshot the entity was read from
--   source_row: line of the export
--   entity_id: OpenSanctions entity id
--   imo: ship IMO number (check digit valid); null when rejected
--   listed_name: the entity's first name, upper-case
--   other_names: every other name, alias and previous name, upper-case
--   mmsi: first 9-digit MMSI
--   flag_iso2: first flag, ISO 3166 alpha-2
--   vessel_type: first type
--   dwt: first deadweight tonnage (t)
--   datasets: OpenSanctions datasets naming the entity
--   reject_reason: why the entity cannot be keyed by IMO; null when usable
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
