-- Every hull any source keys by a valid IMO, with particulars, capacity and activity.
with names as (
    select
        int_vessel_names.imo,
        list(distinct int_vessel_names.vessel_name order by int_vessel_names.vessel_name) as names
    from int_vessel_names
    group by int_vessel_names.imo
),

-- int_sightings stores the rows rules read, not every sighting, but numbers them all
-- (reject rows too) and stores each vessel's last row and every reject row
sighting_counts as (
    select imo, max(sighting_number) - count(reject_reason) as sightings from int_sightings group by imo
),

voyage_counts as (
    select imo, count(*) as voyages from voyages group by imo
),

final as (
    select
        int_vessels.imo,
        int_vessels.vessel_name,
        int_vessels.former_names,
        list_filter(
            coalesce(names.names, []::varchar[]),
            lambda n: n <> int_vessels.vessel_name and not list_contains(int_vessels.former_names, n)
        ) as other_names,
        int_vessels.mmsi,
        int_vessels.call_sign,
        int_vessels.flag_iso2 as flag,
        int_vessels.vessel_type,
        int_vessels.dwt,
        int_vessels.gross_tonnage,
        int_vessels.cargo_capacity_m3,
        int_vessels.summer_draught_m,
        int_vessels.build_year,
        int_vessels.owner,
        int_vessels.in_registry,
        cast(round(int_vessel_capacities.capacity_bbl) as bigint) as capacity_bbl,
        int_vessel_capacities.capacity_source,
        int_vessels.imo in (select imo from int_sanctions_designations where imo is not null) as sanctioned,
        coalesce(sighting_counts.sightings, 0) as sightings,
        coalesce(voyage_counts.voyages, 0) as voyages
    from int_vessels
    left join names on names.imo = int_vessels.imo
    left join int_vessel_capacities on int_vessel_capacities.imo = int_vessels.imo
    left join sighting_counts on sighting_counts.imo = int_vessels.imo
    left join voyage_counts on voyage_counts.imo = int_vessels.imo
)

select * from final
order by imo
