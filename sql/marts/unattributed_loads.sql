-- Loads (empty -> laden transitions) that are not voyages: no load-terminal call lies in their
-- bracket, or their call already holds a load.
with loads as (
    select * from int_load_events where attribution <> 'attributed'
),

final as (
    select
        loads.load_event_id,
        loads.imo,
        int_vessels.vessel_name,
        loads.last_empty_id,
        loads.last_empty_at,
        loads.first_laden_id,
        loads.first_laden_at,
        loads.attribution,
        loads.load_call_id
    from loads
    left join int_vessels on int_vessels.imo = loads.imo
)

select * from final
order by first_laden_at, imo
