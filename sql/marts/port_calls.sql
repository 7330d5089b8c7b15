-- Port calls of every resolved vessel at the reference ports (DOMAIN port-call rule).
-- grain: one row per port call (port_call_id)
-- columns:
--   port_call_id: '<imo>-<port_id>-<arrival yyyymmddThhmmss>'
--   imo: ship IMO number
--   vessel_name: current name
--   port_id: port of the call
--   port_name: port name
--   port_country: ISO 3166 alpha-2 of the port
--   port_role: load_terminal, discharge_port or other
--   arrival_at: first sighting of the call, UTC
--   departure_at: last sighting of the call, UTC
--   sightings: sightings in the call
--   evidence_ids: the call's imagery sightings and its first and last sighting, in time order
with calls as (
    select * from int_port_calls
),

final as (
    select
        calls.port_call_id,
        calls.imo,
        int_vessels.vessel_name,
        calls.port_id,
        ref_ports.port_name,
        ref_ports.country_iso2 as port_country,
        calls.port_role,
        calls.arrival_at,
        calls.departure_at,
        calls.sightings,
        calls.evidence_ids
    from calls
    left join ref_ports on ref_ports.port_id = calls.port_id
    left join int_vessels on int_vessels.imo = calls.imo
)

select * from final
order by arrival_at, imo
