-- DOMAIN port rule: where each usable sighting is (the contract beside this file says more).
-- A view: int_sightings computes its rows once and stores the few a rule reads.
with sightings as (
    select
        sighting_id, evidence_kind, source_name, snapshot_id, imo, reported_mmsi, observed_at, latitude, longitude,
        laden_state, load_fraction
    from (
        -- read apart, the AIS positions leave the identities' id column unread
        select * replace (null::varchar as sighting_id)
        from int_sighting_identities
        where evidence_kind = 'ais'
        union all
        select * from int_sighting_identities
        where evidence_kind <> 'ais'
    )
    where reject_reason is null
),

-- the reference ports under every grid cell their box touches, as at most two
-- candidate columns per cell (a cell near three ports fails the build)
port_cells as (
    select
        lat_cell,
        lon_cell,
        list({
            'port_id': port_id,
            'latitude': latitude,
            'longitude': longitude,
            'radius_km': radius_km
        } order by port_id) as ports
    from (
        select
            ref_ports.*,
            radius_km / 111.0 as latitude_reach,
            radius_km / (111.0 * greatest(cos(radians(latitude)), 0.01)) as longitude_reach
        from ref_ports
    ) as reached,
        unnest(range(
            floor((latitude - latitude_reach) / port_cell_deg())::bigint,
            floor((latitude + latitude_reach) / port_cell_deg())::bigint + 1
        )) as lat_cells(lat_cell),
        unnest(range(
            floor((longitude - longitude_reach) / port_cell_deg())::bigint,
            floor((longitude + longitude_reach) / port_cell_deg())::bigint + 1
        )) as lon_cells(lon_cell)
    group by lat_cell, lon_cell
),

cell_candidates as (
    select
        lat_cell,
        lon_cell,
        ports[1] as port_1,
        ports[2] as port_2
    from port_cells
    -- a third candidate would be ignored: fail loudly rather than pick wrongly (a filter, so
    -- that the check runs: a column nobody reads would be planned away)
    where case
        when len(ports) > 2 then error('a grid cell lies near more than two reference ports: ' || ports::varchar)
    end is null
),

located as (
    select
        sightings.*,
        -- measured only where the cell has a candidate: a position out at sea has none, and
        -- the trigonometry over every position costs more than the join
        case when cell_candidates.port_1 is not null then haversine_km(
            sightings.latitude, sightings.longitude, cell_candidates.port_1.latitude, cell_candidates.port_1.longitude
        ) end as distance_1,
        case when cell_candidates.port_2 is not null then haversine_km(
            sightings.latitude, sightings.longitude, cell_candidates.port_2.latitude, cell_candidates.port_2.longitude
        ) end as distance_2,
        distance_1 <= cell_candidates.port_1.radius_km as within_1,
        distance_2 <= cell_candidates.port_2.radius_km as within_2,
        cell_candidates.port_1,
        cell_candidates.port_2
    from sightings
    left join cell_candidates
        on cell_candidates.lat_cell = floor(sightings.latitude / port_cell_deg())::bigint
        and cell_candidates.lon_cell = floor(sightings.longitude / port_cell_deg())::bigint
),

final as (
    select
        sighting_id, evidence_kind, source_name, snapshot_id, imo, reported_mmsi, observed_at, latitude, longitude,
        laden_state, load_fraction,
        -- the nearest port within its radius; at equal distance the lower port id (port_1)
        case
            when within_1 and (not coalesce(within_2, false) or distance_1 <= distance_2) then port_1.port_id
            when within_2 then port_2.port_id
        end as port_id
    from located
)

select * from final
