-- Two different vessels sighted together at sea: a sighting of each (imagery or AIS), both outside
-- every port's radius, within max_distance_km (1 km) and max_time_gap (6 hours) of each other.
with source as (
    select
        sighting_id,
        imo,
        observed_at,
        latitude,
        longitude,
        -- the states around this sighting; a neighbour's id is left for sts_transfers to look up
        case
            when state is not null
                then {'sighting_id': sighting_id, 'observed_at': observed_at, 'state': state, 'load_fraction': load_fraction}
            when previous_state is not null
                then {'sighting_id': null::varchar, 'observed_at': previous_state_at, 'state': previous_state,
                    'load_fraction': null::double}
        end as state_at_or_before,
        case
            when next_state is not null
                then {'sighting_id': null::varchar, 'observed_at': next_state_at, 'state': next_state, 'load_fraction': null::double}
        end as state_after,
        case
            when state is not null
                then {'sighting_id': sighting_id, 'observed_at': observed_at, 'state': state, 'load_fraction': load_fraction}
            when next_state is not null
                then {'sighting_id': null::varchar, 'observed_at': next_state_at, 'state': next_state, 'load_fraction': null::double}
        end as state_at_or_after
    from int_sightings
    where reject_reason is null
        and is_encounter_sighting(evidence_kind, port_id, previous_ais_at, observed_at)
        -- a recomputed encounter's matches, and the earlier matches of its pair it may chain to
        and (
            $rebuild_all
            or observed_at >= cast($recompute_from as timestamptz) - encounter_cluster_gap() - encounter_max_time_gap()
        )
),

bucketed as (
    select
        source.sighting_id, source.imo, source.observed_at, source.latitude, source.longitude,
        floor(epoch(source.observed_at) / epoch(encounter_max_time_gap()))::bigint as time_bin,
        floor((source.latitude + 90) / encounter_grid_deg())::bigint as lat_cell,
        floor((source.longitude + 180) / encounter_grid_deg())::bigint % round(360 / encounter_grid_deg())::bigint as lon_cell,
        round(360 / encounter_grid_deg())::bigint as lon_cells,
        encounter_max_distance_km() / 111.0 as latitude_reach,
        encounter_max_distance_km() / (111.0 * greatest(
            cos(radians(least(abs(source.latitude) + encounter_max_distance_km() / 111.0, 90))), 0.01
        )) as longitude_reach
    from source
),

-- each sighting once per bucket a match of it can lie in, so that an equality join finds
-- every candidate: the neighbouring time bins, and its own grid cell plus a neighbouring
-- cell only where max_distance_km reaches across the border (most sightings lie well
-- inside one cell); the reach in longitude is taken at the higher of the two latitudes
neighbour_keys as (
    select
        bucketed.*,
        bucketed.time_bin + time_step as key_time_bin,
        bucketed.lat_cell + lat_step as key_lat_cell,
        (bucketed.lon_cell + lon_step + bucketed.lon_cells) % bucketed.lon_cells as key_lon_cell
    from bucketed,
        unnest([-1, 0, 1]) as time_steps(time_step),
        unnest([-1, 0, 1]) as lat_steps(lat_step),
        unnest([-1, 0, 1]) as lon_steps(lon_step)
    where floor((bucketed.latitude + 90 + lat_step * bucketed.latitude_reach) / encounter_grid_deg())
            = floor((bucketed.latitude + 90) / encounter_grid_deg()) + lat_step
        and floor((bucketed.longitude + 180 + lon_step * bucketed.longitude_reach) / encounter_grid_deg())
            = floor((bucketed.longitude + 180) / encounter_grid_deg()) + lon_step
),

candidates as (
    select
        vessel_a.imo as imo_a,
        vessel_b.imo as imo_b,
        vessel_a.sighting_id as sighting_id_a,
        vessel_b.sighting_id as sighting_id_b,
        vessel_a.observed_at as observed_at_a,
        vessel_b.observed_at as observed_at_b,
        vessel_a.latitude,
        vessel_a.longitude,
        haversine_km(vessel_a.latitude, vessel_a.longitude, vessel_b.latitude, vessel_b.longitude) as distance_km
    from neighbour_keys as vessel_a
    inner join bucketed as vessel_b
        on vessel_b.time_bin = vessel_a.key_time_bin
        and vessel_b.lat_cell = vessel_a.key_lat_cell
        and vessel_b.lon_cell = vessel_a.key_lon_cell
        -- each unordered pair once, and never a vessel with itself
        and vessel_a.imo < vessel_b.imo
),

matched as (
    select
        candidates.*,
        least(candidates.observed_at_a, candidates.observed_at_b) as pair_start,
        greatest(candidates.observed_at_a, candidates.observed_at_b) as pair_end
    from candidates
    where candidates.distance_km <= encounter_max_distance_km()
        and candidates.observed_at_b between candidates.observed_at_a - encounter_max_time_gap()
            and candidates.observed_at_a + encounter_max_time_gap()
),

flagged as (
    select
        matched.*,
        case
            when matched.pair_start - max(matched.pair_end) over (
                partition by matched.imo_a, matched.imo_b
                order by matched.pair_start, matched.pair_end, matched.sighting_id_a, matched.sighting_id_b
                rows between unbounded preceding and 1 preceding
            ) <= encounter_cluster_gap() then 0
            else 1
        end as starts_encounter
    from matched
),

grouped as (
    select
        *,
        sum(starts_encounter) over (
            partition by imo_a, imo_b
            order by pair_start, pair_end, sighting_id_a, sighting_id_b
            rows unbounded preceding
        ) as encounter_number
    from flagged
),

encounters as (
    select
        imo_a || '-' || imo_b || '-' || utc_strftime(min(pair_start), '%Y%m%dT%H%M%S') as encounter_id,
        imo_a,
        imo_b,
        min(pair_start) as started_at,
        max(pair_end) as ended_at,
        first(latitude order by distance_km, pair_start, sighting_id_a, sighting_id_b) as latitude,
        first(longitude order by distance_km, pair_start, sighting_id_a, sighting_id_b) as longitude,
        min(distance_km) as min_distance_km,
        count(*) as matched_pairs,
        list_transform(
            list_sort(list(distinct {'observed_at': observed_at_a, 'sighting_id': sighting_id_a})),
            lambda sighting: sighting.sighting_id
        ) as sighting_ids_a,
        list_transform(
            list_sort(list(distinct {'observed_at': observed_at_b, 'sighting_id': sighting_id_b})),
            lambda sighting: sighting.sighting_id
        ) as sighting_ids_b
    from grouped
    group by imo_a, imo_b, encounter_number
),

-- each vessel's states around its part of the encounter, from its first and last matched sighting
final as (
    select
        encounters.*,
        first_a.state_at_or_before as state_before_a,
        case when len(encounters.sighting_ids_a) > 1 then last_a.state_at_or_after else last_a.state_after end
            as state_after_a,
        first_b.state_at_or_before as state_before_b,
        case when len(encounters.sighting_ids_b) > 1 then last_b.state_at_or_after else last_b.state_after end
            as state_after_b
    from encounters
    inner join source as first_a on first_a.sighting_id = encounters.sighting_ids_a[1]
    inner join source as last_a on last_a.sighting_id = encounters.sighting_ids_a[-1]
    inner join source as first_b on first_b.sighting_id = encounters.sighting_ids_b[1]
    inner join source as last_b on last_b.sighting_id = encounters.sighting_ids_b[-1]
    -- an encounter that starts earlier is kept as stored
    where $rebuild_all or encounters.started_at >= cast($recompute_from as timestamptz)
)

select * from final
