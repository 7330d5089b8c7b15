-- Every hull any source keys by a valid ship IMO, with its particulars: the registry's latest row
-- first, the sanctions lists (OFAC, OpenSanctions, UK) where the registry is silent.
with registry as (
    select *
    from stg_registry_vessels
    where reject_reason is null
    qualify row_number() over (
        partition by imo order by updated_at desc nulls last, snapshot_id desc, source_row desc
    ) = 1
),

ofac as (
    select
        stg_ofac_vessels.*,
        ref_countries.iso2 as flag_iso2
    from stg_ofac_vessels
    left join (select distinct upper(country_name) as country_key, iso2 from ref_countries) as ref_countries
        on ref_countries.country_key = upper(stg_ofac_vessels.flag_as_listed)
    where stg_ofac_vessels.reject_reason is null and stg_ofac_vessels.imo is not null
    qualify row_number() over (partition by stg_ofac_vessels.imo order by stg_ofac_vessels.ent_num) = 1
),

opensanctions as (
    select * from stg_opensanctions_vessels
    where reject_reason is null
    qualify row_number() over (partition by imo order by source_name, entity_id) = 1
),

uk as (
    select stg_uk_sanctions_ships.*, flags.iso2 as flag_iso2
    from stg_uk_sanctions_ships
    left join (select distinct upper(country_name) as country_key, iso2 from ref_countries) as flags
        on flags.country_key = upper(stg_uk_sanctions_ships.flag_as_listed)
    where reject_reason is null
    qualify row_number() over (
        partition by imo order by (name_type ilike 'primary%') desc, source_name, source_row
    ) = 1
),

all_imos as (
    select imo from registry
    union
    select imo from ofac
    union
    select imo from opensanctions
    union
    select imo from uk
),

final as (
    select
        all_imos.imo,
        coalesce(registry.vessel_name, ofac.listed_name, opensanctions.listed_name, uk.listed_name) as vessel_name,
        coalesce(registry.former_names, []::varchar[]) as former_names,
        coalesce(registry.mmsi, ofac.mmsi, opensanctions.mmsi) as mmsi,
        coalesce(registry.call_sign, ofac.call_sign) as call_sign,
        coalesce(registry.flag_iso2, ofac.flag_iso2, opensanctions.flag_iso2, uk.flag_iso2) as flag_iso2,
        coalesce(registry.vessel_type, ofac.vessel_type, opensanctions.vessel_type) as vessel_type,
        coalesce(registry.dwt, opensanctions.dwt) as dwt,
        registry.gross_tonnage,
        registry.cargo_capacity_m3,
        registry.summer_draught_m,
        registry.build_year,
        registry.owner,
        registry.imo is not null as in_registry
    from all_imos
    left join registry on registry.imo = all_imos.imo
    left join ofac on ofac.imo = all_imos.imo
    left join opensanctions on opensanctions.imo = all_imos.imo
    left join uk on uk.imo = all_imos.imo
)

select * from final
