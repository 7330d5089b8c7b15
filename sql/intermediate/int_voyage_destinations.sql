-- DOMAIN voyage and destination rules: each attributed load is one voyage.
with loads as (
    select
        int_load_events.*,
        load_calls.port_id as load_port_id,
        load_calls.arrival_at as load_arrival_at,
        load_calls.departure_at as load_departure_at,
        load_calls.evidence_ids as load_evidence_ids
    from int_load_events
    inner join int_port_calls as load_calls on load_calls.port_call_id = int_load_events.load_call_id
    where int_load_events.attribution = 'attributed'
),

-- the first empty sighting after a load is the first laden -> empty change after it
unloads as (
    select imo, first_after_id as sighting_id, first_after_at as observed_at
    from int_state_changes
    where state_before = 'laden' and state_after = 'empty'
),

first_empty_after as (
    select
        loads.load_event_id,
        arg_min(unloads.sighting_id, unloads.observed_at) as first_empty_after_id,
        min(unloads.observed_at) as first_empty_after_at
    from loads
    inner join unloads
        on unloads.imo = loads.imo
        and unloads.observed_at > loads.first_laden_at
    group by loads.load_event_id
),

bounded as (
    select
        loads.*,
        first_empty_after.first_empty_after_id,
        first_empty_after.first_empty_after_at
    from loads
    left join first_empty_after on first_empty_after.load_event_id = loads.load_event_id
),

destinations as (
    select
        bounded.load_event_id,
        arg_min(calls.port_call_id, calls.arrival_at) as destination_call_id
    from bounded
    inner join int_port_calls as calls
        on calls.imo = bounded.imo
        and calls.arrival_at > bounded.load_departure_at
        and calls.port_role <> 'load_terminal'
        and (bounded.first_empty_after_at is null or calls.arrival_at <= bounded.first_empty_after_at)
    group by bounded.load_event_id
),

final as (
    select
        bounded.imo || '-' || utc_strftime(bounded.load_departure_at, '%Y%m%dT%H%M%S') as voyage_id,
        bounded.imo,
        bounded.load_event_id,
        bounded.load_call_id,
        bounded.load_port_id,
        bounded.load_arrival_at,
        bounded.load_departure_at,
        bounded.last_empty_id,
        bounded.first_laden_id,
        bounded.first_empty_after_id,
        bounded.first_empty_after_at,
        destinations.destination_call_id,
        destination_calls.port_id as discharge_port_id,
        destination_calls.arrival_at as discharge_arrival_at,
        destination_calls.departure_at as discharge_departure_at,
        case
            when destination_calls.port_role = 'discharge_port' then 'confirmed'
            when destination_calls.port_role is not null then 'other'
            else 'unconfirmed'
        end as destination_status,
        bounded.load_evidence_ids,
        coalesce(destination_calls.evidence_ids, []::varchar[]) as destination_evidence_ids
    from bounded
    left join destinations on destinations.load_event_id = bounded.load_event_id
    left join int_port_calls as destination_calls on destination_calls.port_call_id = destinations.destination_call_id
)

select * from final
