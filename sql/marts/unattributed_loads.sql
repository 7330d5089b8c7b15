-- Loads (empty -> laden transitions) that are not voyages: no load-terminal call
-- lies in their bracket, or their call already holds a load. Reported so an
-- analyst can look, never counted toward the cap.
-- grain: one row per load event that is not a voyage (load_event_id)
-- columns:
--   load_event_id: '<imo>-<first laden time>'
--   imo: ship IMO number
--   vessel_name: current name
--   last_empty_id: last empty sighting before the load
--   last_empty_at: its time, UTC
--   first_laden_id: first laden sighting after it
--   first_laden_at: its time, UTC
--   attribution: unattributed or duplicate_in_call
--   load_call_id: for duplicate_in_call, the call that already holds a load
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
