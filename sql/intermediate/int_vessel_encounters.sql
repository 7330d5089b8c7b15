-- Two different vessels sighted together at sea: a sighting of each (imagery or
-- AIS), both outside every port's radius, within max_distance_km (1 km) and
-- max_time_gap (6 hours) of each other. Ships side by side in a port are
-- ordinary, so only meetings at sea can hint at a ship-to-ship transfer
-- (sts_transfers). A pair's matched sightings form one encounter as long as
-- each starts within cluster_gap (12 hours) of the latest sighting of the
-- encounter so far; a longer pause starts a new encounter.
-- Comparing every sighting with every other grows with the square of the log,
-- so sightings are put in buckets first: time bins as wide as max_time_gap and
-- a grid of grid_deg (0.1 degree) cells, longitude wrapping at 180. Two
-- sightings that can match always sit in the same or neighbouring bin and
-- cells, so each is compared only with the sightings of the three bins of its
-- own cell, and of a neighbouring cell only when it lies within max_distance_km
-- of their border (about one sighting in three), then the exact distance and
-- time are checked. That holds while a cell is at least
-- max_distance_km wide: 0.1 degree of longitude is still 1 km at 84.8 degrees
-- latitude, so meetings nearer the poles may be missed, and raising
-- max_distance_km needs grid_deg >= max_distance_km / 10.
-- GFW port-visit ends are not sightings at sea and are left out. AIS positions
-- are thinned to a vessel's first fix in each encounter_ais_slot() (30 minute) slot
-- (its AIS position before lies in an earlier slot): a transfer keeps two hulls
-- alongside for hours, and a fix every few minutes would only multiply the pairs
-- to compare. Each vessel's states around its part of the encounter come from
-- its sequence (int_sightings), for sts_transfers.
-- Built incrementally (sql/incremental/int_vessel_encounters.sql): a nightly build
-- computes again only the encounters new sightings can extend or whose state after
-- is still open, from the earliest of them on ($rebuild_all false, $recompute_from).
-- grain: one row per encounter (encounter_id): a pair of vessels sighted together at sea, with the pair's matched sightings chained by cluster_gap
-- materialized: incremental
-- columns:
--   encounter_id: '<imo_a>-<imo_b>-<started_at yyyymmddThhmmss>'
--   imo_a: the pair's lower IMO number
--   imo_b: the pair's higher IMO number
--   started_at: earliest matched sighting of either vessel, UTC
--   ended_at: latest matched sighting of either vessel, UTC
--   latitude: degrees north of vessel a's sighting in the closest matched pair
--   longitude: degrees east of that sighting
--   min_distance_km: distance of the closest matched pair, km
--   matched_pairs: number of sighting pairs within both limits
--   sighting_ids_a: vessel a's matched sightings, in time order
--   sighting_ids_b: vessel b's matched sightings, in time order
--   state_before_a: vessel a's last state-carrying sighting at or before its first matched sighting {sighting_id, observed_at, state, load_fraction}; sighting_id and load_fraction are null when it is not one of the matched sightings
--   state_after_a: vessel a's first state-carrying sighting at or after its last matched sighting and after its first
--   state_before_b: the same for vessel b
--   state_after_b: the same for vessel b
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
