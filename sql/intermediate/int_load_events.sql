-- DOMAIN load rule: in a vessel's time-ordered sightings that carry a state, each
-- empty -> laden transition is a load. It belongs to the load-terminal call that
-- contains, or lies between, the last empty and the first laden sighting (the
-- latest such call when there are several). A load with no terminal call in
-- that bracket is unattributed: reported, never counted. A terminal call holds
-- at most one load; a second transition in the same call (noise) is reported as
-- a duplicate. The vessel's previous state-carrying sighting is read off its
-- sequence in int_sightings.
-- grain: one row per empty -> laden transition (load_event_id)
-- columns:
--   load_event_id: '<imo>-<first laden time yyyymmddThhmmss>'
--   imo: ship IMO number
--   last_empty_id: the last empty sighting before the load
--   last_empty_at: its time, UTC
--   first_laden_id: the first laden sighting after it
--   first_laden_at: its time, UTC
--   load_call_id: the load-terminal call the load belongs to; null when unattributed
--   attribution: attributed, unattributed, or duplicate_in_call
with steps as (
    select
        imo || '-' || utc_strftime(observed_at, '%Y%m%dT%H%M%S') as load_event_id,
        imo,
        previous_state_at as last_empty_at,
        sighting_id as first_laden_id,
        observed_at as first_laden_at
    from int_sightings
    where reject_reason is null and previous_state = 'empty' and state = 'laden'
),

-- the last empty sighting's id: the vessel's empty sighting at that time that precedes the
-- first laden one in the sequence (the highest id of those, as the sequence orders them)
transitions as (
    select
        steps.load_event_id,
        steps.imo,
        max(empties.sighting_id) as last_empty_id,
        steps.last_empty_at,
        steps.first_laden_id,
        steps.first_laden_at
    from steps
    inner join int_sightings as empties
        on empties.imo = steps.imo
        and empties.observed_at = steps.last_empty_at
        and empties.state = 'empty'
        and empties.reject_reason is null
        and (empties.observed_at < steps.first_laden_at or empties.sighting_id < steps.first_laden_id)
    group by steps.load_event_id, steps.imo, steps.last_empty_at, steps.first_laden_id, steps.first_laden_at
),

attributed as (
    select
        transitions.*,
        terminal_calls.port_call_id as load_call_id
    from transitions
    left join int_port_calls as terminal_calls
        on terminal_calls.imo = transitions.imo
        and terminal_calls.port_role = 'load_terminal'
        and terminal_calls.arrival_at <= transitions.first_laden_at
        and terminal_calls.departure_at >= transitions.last_empty_at
    qualify row_number() over (
        partition by transitions.load_event_id order by terminal_calls.departure_at desc nulls last
    ) = 1
),

final as (
    select
        load_event_id,
        imo,
        last_empty_id,
        last_empty_at,
        first_laden_id,
        first_laden_at,
        load_call_id,
        case
            when load_call_id is null then 'unattributed'
            when row_number() over (partition by load_call_id order by first_laden_at) > 1 then 'duplicate_in_call'
            else 'attributed'
        end as attribution
    from attributed
)

select * from final
