-- DOMAIN port-call rule: a vessel's consecutive sightings at one port, with no
-- sighting elsewhere in between and no gap over 5 days, form one call; arrival is
-- the first sighting, departure the last. The call's evidence is every imagery
-- sighting of it plus its first and last sighting of any kind: an AIS-tracked stay
-- holds thousands of fixes, and the two that bound it prove the call.
-- grain: one row per port call (port_call_id)
-- columns:
--   port_call_id: '<imo>-<port_id>-<arrival yyyymmddThhmmss>'
--   imo: ship IMO number
--   port_id: port of the call
--   port_role: load_terminal, discharge_port or other
--   arrival_at: first sighting of the call, UTC
--   departure_at: last sighting of the call, UTC
--   sightings: number of sightings in the call
--   evidence_ids: the call's imagery sightings and its first and last sighting, in time order
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

bounded as (
    select
        *,
        row_number() over by_call = 1 as is_first_of_call,
        row_number() over by_call_backwards = 1 as is_last_of_call
    from grouped
    where port_id is not null
    window
        by_call as (partition by imo, call_number order by observed_at, sighting_id),
        by_call_backwards as (partition by imo, call_number order by observed_at desc, sighting_id desc)
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
        list(sighting_id order by observed_at, sighting_id) filter (
            where evidence_kind = 'imagery' or is_first_of_call or is_last_of_call
        ) as evidence_ids
    from bounded
    group by imo, call_number, port_id
)

select * from final
