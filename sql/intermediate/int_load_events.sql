-- DOMAIN load rule: in a vessel's time-ordered sightings that carry a state, each empty -> laden
-- transition is a load.
with transitions as (
    select
        imo || '-' || utc_strftime(first_after_at, '%Y%m%dT%H%M%S') as load_event_id,
        imo,
        last_before_id as last_empty_id,
        last_before_at as last_empty_at,
        first_after_id as first_laden_id,
        first_after_at as first_laden_at
    from int_state_changes
    where state_before = 'empty' and state_after = 'laden'
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
