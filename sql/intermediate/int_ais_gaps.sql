-- Every gap longer than ais_dark_min_gap() (12 hours) between a vessel's consecutive AIS
-- positions, with the positions that bound it and their states; ais_dark_periods keeps those near
-- the DPRK.
with consecutive as (
    -- each AIS position with the vessel's AIS position before it (int_sightings' sequence)
    select
        imo,
        previous_ais_at as went_dark_at,
        sighting_id as first_position_id,
        observed_at as reappeared_at,
        latitude as first_latitude,
        longitude as first_longitude,
        state as state_after
    from int_sightings
    where evidence_kind = 'ais'
        and reject_reason is null
        and ($rebuild_all or observed_at >= cast($recompute_from as timestamptz))
),

gap_ends as (
    select consecutive.*
    from consecutive
    -- timestamps compared, not intervals: this reads every AIS position
    where consecutive.went_dark_at < consecutive.reappeared_at - ais_dark_min_gap()
),

-- the last position before a gap, looked up for the few gaps only
last_positions as (
    select
        gap_ends.imo,
        gap_ends.went_dark_at,
        max(positions.sighting_id) as last_position_id,
        arg_max_null(positions.latitude, positions.sighting_id) as last_latitude,
        arg_max_null(positions.longitude, positions.sighting_id) as last_longitude,
        arg_max_null(positions.state, positions.sighting_id) as state_before
    from gap_ends
    inner join int_sightings as positions
        on positions.imo = gap_ends.imo
        and positions.observed_at = gap_ends.went_dark_at
        and positions.evidence_kind = 'ais'
        and positions.reject_reason is null
    group by gap_ends.imo, gap_ends.went_dark_at
),

final as (
    select
        gap_ends.imo,
        gap_ends.went_dark_at,
        gap_ends.reappeared_at,
        last_positions.last_position_id,
        last_positions.last_latitude,
        last_positions.last_longitude,
        last_positions.state_before,
        gap_ends.first_position_id,
        gap_ends.first_latitude,
        gap_ends.first_longitude,
        gap_ends.state_after
    from gap_ends
    inner join last_positions
        on last_positions.imo = gap_ends.imo
        and last_positions.went_dark_at = gap_ends.went_dark_at
)

select * from final
