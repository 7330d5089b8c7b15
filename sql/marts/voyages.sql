-- Loaded voyages out of the load terminals: the published answer to "which tankers loaded where,
-- how much, and where did it go".
with voyages as (
    select * from int_voyage_destinations
),

registry_on_load_date as (
    select
        voyages.voyage_id,
        history.vessel_name,
        history.flag_iso2
    from voyages
    inner join int_vessel_registry_history as history
        on history.imo = voyages.imo
        and (history.valid_from is null or history.valid_from <= voyages.load_departure_at)
        and (history.valid_to is null or history.valid_to > voyages.load_departure_at)
),

sanctions_on_load_date as (
    select
        voyages.voyage_id,
        list(distinct designations.list_name order by designations.list_name) as sanctions_lists
    from voyages
    inner join int_sanctions_designations as designations
        on designations.imo = voyages.imo
        and (designations.listed_on is null or designations.listed_on <= cast(voyages.load_departure_at as date))
    group by voyages.voyage_id
),

final as (
    select
        voyages.voyage_id,
        voyages.imo,
        coalesce(registry_on_load_date.vessel_name, int_vessels.vessel_name) as vessel_name,
        coalesce(registry_on_load_date.flag_iso2, int_vessels.flag_iso2) as flag,
        load_ports.port_name as load_port,
        voyages.load_arrival_at,
        voyages.load_departure_at,
        discharge_ports.port_name as discharge_port,
        voyages.discharge_arrival_at,
        voyages.destination_status,
        voyages.destination_status = 'confirmed'
            or (
                voyages.destination_status = 'unconfirmed'
                and (
                    coalesce(registry_on_load_date.flag_iso2, int_vessels.flag_iso2) = 'KP'
                    or sanctions_on_load_date.voyage_id is not null
                )
            ) as counts_toward_cap,
        cast(round(volumes.capacity_bbl) as bigint) as capacity_bbl,
        volumes.capacity_source,
        volumes.load_fraction,
        volumes.load_fraction_source,
        -- whole barrels, rounded half away from zero per voyage, so the cap tracker's total is the sum of
        -- the published volumes
        cast(round(volumes.volume_bbl) as bigint) as volume_bbl,
        cast(round(volumes.volume_bbl_low) as bigint) as volume_bbl_low,
        cast(round(volumes.volume_bbl_high) as bigint) as volume_bbl_high,
        sanctions_on_load_date.voyage_id is not null as sanctioned,
        coalesce(sanctions_on_load_date.sanctions_lists, []::varchar[]) as sanctions_lists,
        voyages.load_call_id,
        voyages.destination_call_id,
        list_distinct_in_order(
            [voyages.last_empty_id, voyages.first_laden_id]
            || voyages.load_evidence_ids
            || volumes.fraction_evidence_ids
            || voyages.destination_evidence_ids
            || [voyages.first_empty_after_id]
        ) as evidence_ids
    from voyages
    left join int_vessels on int_vessels.imo = voyages.imo
    left join ref_ports as load_ports on load_ports.port_id = voyages.load_port_id
    left join ref_ports as discharge_ports on discharge_ports.port_id = voyages.discharge_port_id
    left join int_voyage_volumes as volumes on volumes.voyage_id = voyages.voyage_id
    left join registry_on_load_date on registry_on_load_date.voyage_id = voyages.voyage_id
    left join sanctions_on_load_date on sanctions_on_load_date.voyage_id = voyages.voyage_id
)

select * from final
order by load_departure_at, imo
