-- Port calls of every resolved vessel at the reference ports (DOMAIN port-call rule).
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
