-- AIS dark periods near the DPRK: a vessel's gap between consecutive AIS positions longer than 12
-- hours (int_ais_gaps) where the last position before it or the first after it lies within
-- max_port_distance_km (100 km) of a DPRK port (ref_ports, country KP).
with gaps as (
    select * from int_ais_gaps
),

dprk_ports as (
    select port_id, port_name, latitude, longitude
    from ref_ports
    where country_iso2 = 'KP'
),

-- only the few long gaps meet the handful of DPRK ports, never the positions themselves
port_distances as (
    select
        gaps.imo,
        gaps.went_dark_at,
        dprk_ports.port_id,
        dprk_ports.port_name,
        haversine_km(gaps.last_latitude, gaps.last_longitude, dprk_ports.latitude, dprk_ports.longitude) as last_km,
        haversine_km(gaps.first_latitude, gaps.first_longitude, dprk_ports.latitude, dprk_ports.longitude) as first_km
    from gaps
    cross join dprk_ports
),

nearest_port as (
    select
        imo,
        went_dark_at,
        port_name,
        least(last_km, first_km) as distance_km,
        case when last_km <= first_km then 'last_position' else 'first_position' end as position_end
    from port_distances
    qualify row_number() over (partition by imo, went_dark_at order by least(last_km, first_km), port_id) = 1
),

near_dprk as (
    select
        gaps.*,
        nearest_port.port_name as nearest_dprk_port,
        nearest_port.distance_km as nearest_dprk_port_km,
        nearest_port.position_end as nearest_dprk_port_end
    from gaps
    inner join nearest_port
        on nearest_port.imo = gaps.imo
        and nearest_port.went_dark_at = gaps.went_dark_at
    where nearest_port.distance_km <= dark_port_max_distance_km()
),

imagery_in_gap as (
    select
        near_dprk.imo,
        near_dprk.went_dark_at,
        list(imagery.sighting_id order by imagery.observed_at, imagery.sighting_id) as imagery_ids
    from near_dprk
    inner join int_sightings as imagery
        on imagery.imo = near_dprk.imo
        and imagery.evidence_kind = 'imagery'
        and imagery.observed_at > near_dprk.went_dark_at
        and imagery.observed_at < near_dprk.reappeared_at
    group by near_dprk.imo, near_dprk.went_dark_at
),

final as (
    select
        near_dprk.imo || '-' || utc_strftime(near_dprk.went_dark_at, '%Y%m%dT%H%M%S') as dark_period_id,
        near_dprk.imo,
        int_vessels.vessel_name,
        near_dprk.went_dark_at,
        near_dprk.reappeared_at,
        epoch(near_dprk.reappeared_at - near_dprk.went_dark_at) / 3600.0 as hours,
        near_dprk.last_latitude,
        near_dprk.last_longitude,
        near_dprk.first_latitude,
        near_dprk.first_longitude,
        near_dprk.nearest_dprk_port,
        near_dprk.nearest_dprk_port_km,
        near_dprk.nearest_dprk_port_end,
        near_dprk.state_before,
        near_dprk.state_after,
        near_dprk.state_before <> near_dprk.state_after as state_changed,
        near_dprk.last_position_id,
        near_dprk.first_position_id,
        imagery_in_gap.imo is not null as seen_by_imagery,
        coalesce(imagery_in_gap.imagery_ids, []::varchar[]) as imagery_ids,
        [near_dprk.last_position_id, near_dprk.first_position_id]
            || coalesce(imagery_in_gap.imagery_ids, []::varchar[]) as evidence_ids
    from near_dprk
    left join imagery_in_gap
        on imagery_in_gap.imo = near_dprk.imo
        and imagery_in_gap.went_dark_at = near_dprk.went_dark_at
    left join int_vessels on int_vessels.imo = near_dprk.imo
)

select * from final
order by went_dark_at, imo
