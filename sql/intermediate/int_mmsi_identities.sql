-- Which IMO each MMSI stands for, from the registry, sanctions lists, AIS static reports and GFW
-- identity records.
with links as (
    select mmsi, imo, 'registry' as origin from int_vessels where mmsi is not null and in_registry
    union all
    select mmsi, imo, 'ofac' from stg_ofac_vessels where reject_reason is null and mmsi is not null and imo is not null
    union all
    select mmsi, imo, 'opensanctions' from stg_opensanctions_vessels where reject_reason is null and mmsi is not null
    union all
    select mmsi, imo, 'ais_static' from int_ais_static_reports where imo is not null
    union all
    select mmsi, imo, 'gfw' from stg_gfw_vessels where reject_reason is null and mmsi is not null and imo is not null
),

final as (
    select
        mmsi,
        case when count(distinct imo) = 1 then min(imo) end as imo,
        list(distinct imo order by imo) as candidate_imos,
        list(distinct origin order by origin) as origins
    from links
    group by mmsi
)

select * from final
