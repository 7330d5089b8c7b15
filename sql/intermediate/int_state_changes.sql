-- DOMAIN laden-state rule read along a vessel's sequence: each change of state between its
-- consecutive state-carrying sightings (empty -> laden, laden -> empty), with the last sighting of
-- the old state and the first of the new.
with changes as (
    select
        imo,
        previous_state as state_before,
        state as state_after,
        previous_state_at as last_before_at,
        sighting_id as first_after_id,
        observed_at as first_after_at
    from int_sightings
    where reject_reason is null
        and previous_state is not null
        and state <> previous_state
        and ($rebuild_all or observed_at >= cast($recompute_from as timestamptz))
),

-- the last sighting of the old state, looked up for the changes only: int_sightings
-- keeps each sighting's previous state by time, not by id
last_before as (
    select
        changes.first_after_id,
        max(earlier.sighting_id) as last_before_id
    from changes
    inner join int_sightings as earlier
        on earlier.imo = changes.imo
        and earlier.observed_at = changes.last_before_at
        and earlier.state = changes.state_before
        and earlier.reject_reason is null
        and (earlier.observed_at < changes.first_after_at or earlier.sighting_id < changes.first_after_id)
    group by changes.first_after_id
),

final as (
    select
        changes.imo,
        changes.state_before,
        changes.state_after,
        last_before.last_before_id,
        changes.last_before_at,
        changes.first_after_id,
        changes.first_after_at
    from changes
    -- a change whose old state cannot be found keeps a null id, which its gate rejects
    left join last_before on last_before.first_after_id = changes.first_after_id
)

select * from final
