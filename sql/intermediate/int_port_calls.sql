-- DOMAIN port-call rule: a vessel's consecutive sightings at one port, with no
-- sighting elsewhere in between and no gap over 5 days, form one call; arrival is
-- the first sighting, departure the last.
-- grain: one row per port call (port_call_id)
-- columns:
--   port_call_id: '<imo>-<port_id>-<arrival yyyymmddThhmmss>'
--   imo: ship IMO number
--   port_id: port of the call
--   port_role: load_terminal, discharge_port or other
--   arrival_at: first sighting of the call, UTC
--   departure_at: last sighting of the call, UTC
--   sightings: number of sightings in the call
--   evidence_ids: the sightings of the call, in time order
with ordered as (
    select
        *,
        lag(port_id) over by_vessel as previous_port_id,
        lag(observed_at) over by_vessel as previous_observed_at,
        lag(sighting_id) over by_vessel as previous_sighting_id
    from int_sightings_at_ports
    window by_vessel as (partition by imo order by observed_at, sighting_id)
),

flagged as (
    select
        *,
        case
            when previous_sighting_id is null then 1
            when port_id is null or previous_port_id is null then 1
            when port_id <> previous_port_id then 1
            when observed_at - previous_observed_at > interval 5 days then 1
            else 0
        end as starts_call
    from ordered
),

grouped as (
    select
        *,
        sum(starts_call) over (partition by imo order by observed_at, sighting_id rows unbounded preceding) as call_number
    from flagged
),

final as (
    select
        imo || '-' || port_id || '-' || strftime(min(observed_at), '%Y%m%dT%H%M%S') as port_call_id,
        imo,
        port_id,
        any_value(port_role) as port_role,
        min(observed_at) as arrival_at,
        max(observed_at) as departure_at,
        count(*) as sightings,
        list(sighting_id order by observed_at, sighting_id) as evidence_ids
    from grouped
    where port_id is not null
    group by imo, call_number, port_id
)

select * from final
