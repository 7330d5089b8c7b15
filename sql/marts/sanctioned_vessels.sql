-- Hulls designated by any loaded sanctions list, with their voyages.
with designations as (
    select * from int_sanctions_designations
),

by_vessel as (
    select
        hull_key,
        min(imo) as imo,
        min(mmsi) as listed_mmsi,
        min(call_sign) as listed_call_sign,
        list(distinct listed_name order by listed_name) as listed_names,
        list(distinct list_name order by list_name) as lists,
        list(distinct program order by program) as programs,
        list(distinct list_name || ': ' || entry_id order by list_name || ': ' || entry_id) as entry_ids,
        min(listed_on) as earliest_listed_on,
        bool_and(listed_on is not null) as listing_date_known
    from designations
    group by hull_key
),

voyage_totals as (
    select
        imo,
        count(*) as voyages,
        cast(coalesce(sum(volume_bbl) filter (where counts_toward_cap), 0) as bigint) as volume_bbl
    from voyages
    group by imo
),

final as (
    select
        by_vessel.hull_key,
        by_vessel.imo,
        coalesce(int_vessels.mmsi, by_vessel.listed_mmsi) as mmsi,
        coalesce(int_vessels.call_sign, by_vessel.listed_call_sign) as call_sign,
        coalesce(int_vessels.vessel_name, by_vessel.listed_names[1]) as vessel_name,
        by_vessel.listed_names,
        int_vessels.flag_iso2 as flag,
        by_vessel.lists,
        by_vessel.programs,
        by_vessel.entry_ids,
        by_vessel.earliest_listed_on,
        by_vessel.listing_date_known,
        coalesce(voyage_totals.voyages, 0) as voyages,
        coalesce(voyage_totals.volume_bbl, 0) as volume_bbl
    from by_vessel
    left join int_vessels on int_vessels.imo = by_vessel.imo
    left join voyage_totals on voyage_totals.imo = by_vessel.imo
)

select * from final
order by voyages desc, imo nulls last, hull_key
