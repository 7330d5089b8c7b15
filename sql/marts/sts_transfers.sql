-- Encounters at sea (int_vessel_encounters: two hulls within 1 km and 6 hours, outside every port)
-- that look like a ship-to-ship transfer: across the encounter one vessel goes laden -> empty (the
-- giver) and the other empty -> laden (the receiver).
with encounters as (
    select * from int_vessel_encounters
),

sides as (
    select
        encounter_id, started_at, ended_at, imo_a as imo,
        state_before_a as state_before, state_after_a as state_after
    from encounters
    union all
    select
        encounter_id, started_at, ended_at, imo_b as imo,
        state_before_b as state_before, state_after_b as state_after
    from encounters
),

crossing_sides as (
    select
        sides.encounter_id,
        sides.imo,
        sides.state_before.state || '_to_' || sides.state_after.state as crossing,
        sides.state_before.sighting_id as known_before_id,
        sides.state_before.observed_at as before_at,
        sides.state_before.state as before_state,
        sides.state_before.load_fraction as before_load_fraction,
        sides.state_after.sighting_id as known_after_id,
        sides.state_after.observed_at as after_at,
        sides.state_after.state as after_state
    from sides
    where sides.state_before.observed_at >= sides.started_at - sts_state_window()
        and sides.state_after.observed_at <= sides.ended_at + sts_state_window()
        and sides.state_before.state <> sides.state_after.state
),

-- a state sighting outside the encounter is known by vessel, time and state: it is
-- looked up for these few rows (of that instant, the last id before, the first after)
unknown_sightings as (
    select distinct imo, before_at as observed_at, before_state as state
    from crossing_sides
    where known_before_id is null
    union
    select distinct imo, after_at, after_state
    from crossing_sides
    where known_after_id is null
),

looked_up as (
    select
        unknown_sightings.imo,
        unknown_sightings.observed_at,
        unknown_sightings.state,
        max(sightings.sighting_id) as last_id,
        arg_max_null(sightings.load_fraction, sightings.sighting_id) as last_load_fraction,
        min(sightings.sighting_id) as first_id
    from unknown_sightings
    inner join int_sightings as sightings
        on sightings.imo = unknown_sightings.imo
        and sightings.observed_at = unknown_sightings.observed_at
        and sightings.state = unknown_sightings.state
        and sightings.reject_reason is null
    group by unknown_sightings.imo, unknown_sightings.observed_at, unknown_sightings.state
),

crossings as (
    select
        crossing_sides.encounter_id,
        crossing_sides.imo,
        crossing_sides.crossing,
        coalesce(crossing_sides.known_before_id, before_sightings.last_id) as before_id,
        crossing_sides.before_at,
        case
            when crossing_sides.known_before_id is not null then crossing_sides.before_load_fraction
            else before_sightings.last_load_fraction
        end as before_load_fraction,
        coalesce(crossing_sides.known_after_id, after_sightings.first_id) as after_id,
        crossing_sides.after_at
    from crossing_sides
    left join looked_up as before_sightings
        on before_sightings.imo = crossing_sides.imo
        and before_sightings.observed_at = crossing_sides.before_at
        and before_sightings.state = crossing_sides.before_state
    left join looked_up as after_sightings
        on after_sightings.imo = crossing_sides.imo
        and after_sightings.observed_at = crossing_sides.after_at
        and after_sightings.state = crossing_sides.after_state
),

transfers as (
    select
        encounters.*,
        givers.imo as giver_imo,
        givers.before_id as giver_laden_id,
        givers.before_at as giver_laden_at,
        givers.before_load_fraction as giver_load_fraction,
        givers.after_id as giver_empty_id,
        givers.after_at as giver_empty_at,
        receivers.imo as receiver_imo,
        receivers.before_id as receiver_empty_id,
        receivers.before_at as receiver_empty_at,
        receivers.after_id as receiver_laden_id,
        receivers.after_at as receiver_laden_at
    from encounters
    inner join crossings as givers
        on givers.encounter_id = encounters.encounter_id
        and givers.crossing = 'laden_to_empty'
    inner join crossings as receivers
        on receivers.encounter_id = encounters.encounter_id
        and receivers.crossing = 'empty_to_laden'
),

volumes as (
    select
        transfers.encounter_id,
        capacities.capacity_bbl,
        coalesce(capacities.capacity_source, 'unknown') as capacity_source,
        coalesce(transfers.giver_load_fraction, assumptions.default_load_fraction) as load_fraction,
        case when transfers.giver_load_fraction is not null then 'observed' else 'default' end as load_fraction_source,
        capacities.capacity_bbl_low * coalesce(
            greatest(0.0, transfers.giver_load_fraction - assumptions.observed_fraction_margin),
            assumptions.default_load_fraction_low
        ) as volume_bbl_low,
        capacities.capacity_bbl_high * coalesce(
            least(1.0, transfers.giver_load_fraction + assumptions.observed_fraction_margin),
            assumptions.default_load_fraction_high
        ) as volume_bbl_high
    from transfers
    cross join ref_volume_assumptions as assumptions
    left join int_vessel_capacities as capacities on capacities.imo = transfers.giver_imo
),

evidence as (
    select
        transfers.encounter_id,
        [transfers.giver_laden_id, transfers.receiver_empty_id]
            || transfers.sighting_ids_a
            || transfers.sighting_ids_b
            || [transfers.giver_empty_id, transfers.receiver_laden_id] as listed_ids
    from transfers
),

final as (
    select
        transfers.encounter_id,
        transfers.giver_imo,
        givers.vessel_name as giver_name,
        transfers.receiver_imo,
        receivers.vessel_name as receiver_name,
        transfers.started_at,
        transfers.ended_at,
        transfers.latitude,
        transfers.longitude,
        transfers.min_distance_km,
        transfers.giver_laden_id,
        transfers.giver_laden_at,
        transfers.giver_empty_id,
        transfers.giver_empty_at,
        transfers.receiver_empty_id,
        transfers.receiver_empty_at,
        transfers.receiver_laden_id,
        transfers.receiver_laden_at,
        cast(round(volumes.capacity_bbl) as bigint) as capacity_bbl,
        volumes.capacity_source,
        volumes.load_fraction,
        volumes.load_fraction_source,
        -- whole barrels, rounded half away from zero, as the voyages' volumes
        cast(round(volumes.capacity_bbl * volumes.load_fraction) as bigint) as volume_bbl,
        cast(round(volumes.volume_bbl_low) as bigint) as volume_bbl_low,
        cast(round(volumes.volume_bbl_high) as bigint) as volume_bbl_high,
        -- keeps the before / during / after order
        list_distinct_in_order(evidence.listed_ids) as evidence_ids
    from transfers
    inner join volumes on volumes.encounter_id = transfers.encounter_id
    inner join evidence on evidence.encounter_id = transfers.encounter_id
    left join int_vessels as givers on givers.imo = transfers.giver_imo
    left join int_vessels as receivers on receivers.imo = transfers.receiver_imo
)

select * from final
order by started_at, encounter_id
