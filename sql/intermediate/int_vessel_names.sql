-- Every name a hull is known by, for resolving sightings that carry no IMO.
with registry_names as (
    select imo, vessel_name, 'registry' as origin from int_vessels where in_registry
    union all
    select imo, unnest(former_names), 'registry_former' from int_vessels
),

ofac_names as (
    select imo, listed_name, 'ofac' from stg_ofac_vessels where reject_reason is null and imo is not null
    union all
    select stg_ofac_vessels.imo, stg_ofac_vessel_aliases.alias, 'ofac_alias'
    from stg_ofac_vessel_aliases
    inner join stg_ofac_vessels
        on stg_ofac_vessels.source_name = stg_ofac_vessel_aliases.source_name
        and stg_ofac_vessels.ent_num = stg_ofac_vessel_aliases.ent_num
    where stg_ofac_vessels.reject_reason is null and stg_ofac_vessels.imo is not null
),

list_names as (
    select imo, listed_name, 'opensanctions' from stg_opensanctions_vessels where reject_reason is null
    union all
    select imo, unnest(other_names), 'opensanctions' from stg_opensanctions_vessels where reject_reason is null
    union all
    select imo, listed_name, 'uk_sanctions' from stg_uk_sanctions_ships where reject_reason is null
),

tracking_names as (
    select distinct imo, ship_name, 'ais' from int_ais_static_reports
    where imo is not null and ship_name is not null
    union all
    select distinct imo, ship_name, 'gfw' from stg_gfw_vessels
    where reject_reason is null and imo is not null and ship_name is not null
),

all_names as (
    select * from registry_names
    union all
    select * from ofac_names
    union all
    select * from list_names
    union all
    select * from tracking_names
),

final as (
    select
        imo,
        min(vessel_name) as vessel_name,
        vessel_name_key(vessel_name) as name_key,
        list(distinct origin order by origin) as origins
    from all_names
    where vessel_name_key(vessel_name) is not null
    group by imo, vessel_name_key(vessel_name)
)

select * from final
