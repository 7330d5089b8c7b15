-- DOMAIN port rule: a sighting within a port's radius is at that port; where
-- radii overlap, the nearest port wins. Sightings elsewhere keep a null port:
-- they still end a port call.
-- grain: one row per resolved sighting (sighting_id)
-- columns:
--   sighting_id: evidence id
--   evidence_kind: imagery or ais
--   imo: ship IMO number
--   observed_at: time of the sighting, UTC
--   latitude: degrees north
--   longitude: degrees east
--   state: laden, empty or null
--   load_fraction: imagery load fraction
--   port_id: port the sighting is at; null at sea
--   port_role: load_terminal, discharge_port or other
--   distance_km: distance to that port's reference point
with sightings as (
    select * from int_sighting_states
),

candidates as (
    select
        sightings.sighting_id,
        ref_ports.port_id,
        ref_ports.role as port_role,
        haversine_km(sightings.latitude, sightings.longitude, ref_ports.latitude, ref_ports.longitude) as distance_km,
        ref_ports.radius_km
    from sightings
    inner join ref_ports
        -- cheap box first: one degree of latitude is 111 km, and longitude degrees shrink with latitude
        on abs(sightings.latitude - ref_ports.latitude) <= ref_ports.radius_km / 111.0
        and abs(sightings.longitude - ref_ports.longitude)
            <= ref_ports.radius_km / (111.0 * greatest(cos(radians(ref_ports.latitude)), 0.01))
),

nearest as (
    select *
    from candidates
    where distance_km <= radius_km
    qualify row_number() over (partition by sighting_id order by distance_km, port_id) = 1
),

final as (
    select
        sightings.sighting_id,
        sightings.evidence_kind,
        sightings.imo,
        sightings.observed_at,
        sightings.latitude,
        sightings.longitude,
        sightings.state,
        sightings.load_fraction,
        nearest.port_id,
        nearest.port_role,
        nearest.distance_km
    from sightings
    left join nearest on nearest.sighting_id = sightings.sighting_id
)

select * from final
