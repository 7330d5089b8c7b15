-- The resolved sightings the voyage rules read, with what they read of them, computed in one pass
-- over every sighting: what may be tens of millions of AIS positions.
with params as (
    select
        port_call_max_gap() as max_call_gap,
        interval 24 hours as max_draught_age,
        0.8 as laden_draught_ratio,
        0.6 as empty_draught_ratio,
        0.05 as port_cell_deg
),

-- the sightings to compute: all of them, or each resumed vessel's from its resume point
sightings as (
    select
        identities.sighting_id, identities.evidence_kind, identities.source_name, identities.imo,
        identities.reported_mmsi, identities.observed_at, identities.latitude, identities.longitude,
        identities.laden_state, identities.load_fraction
    from (
        -- An AIS position's id is written for the stored rows only (`final`): formatting
        -- it for every position would cost more than the rest of reading them. Read
        -- apart, the AIS positions leave the identities' id column unread.
        select * replace (null::varchar as sighting_id)
        from int_sighting_identities
        where evidence_kind = 'ais'
        union all
        select * from int_sighting_identities
        where evidence_kind <> 'ais'
    ) as identities
    left join int_sightings__resume as resume on resume.imo = identities.imo
    where identities.reject_reason is null
        and identities.observed_at >= $recompute_from::timestamptz
        and ($rebuild_all or identities.observed_at >= resume.resume_at)
),

-- A ship reports the same draught for days. Consecutive reports of one draught, each
-- within max_draught_age of the one before, form a run; the draught in force at a
-- time is its run's from the run's first report until the next run starts or
-- max_draught_age after the run's last report: exactly "the latest report at or
-- before the time, if no older than max_draught_age".
reports as (
    select
        mmsi,
        received_at,
        draught_m,
        lag(draught_m) over by_mmsi as previous_draught_m,
        lag(received_at) over by_mmsi as previous_received_at,
        lead(received_at) over by_mmsi as next_received_at
    from int_ais_static_reports
    cross join params
    -- every report that can be in force from $recompute_from on
    where draught_m is not null and received_at >= $recompute_from::timestamptz - params.max_draught_age
    window by_mmsi as (partition by mmsi order by received_at, draught_m)
),

report_runs as (
    select
        reports.*,
        sum(case
            when previous_draught_m is distinct from draught_m
                or received_at - previous_received_at > params.max_draught_age then 1 else 0
        end) over (partition by mmsi order by received_at, draught_m rows unbounded preceding) as run_number
    from reports
    cross join params
),

draught_intervals as (
    select
        mmsi,
        draught_m,
        min(received_at) as valid_from,
        least(
            max(received_at) + any_value(params.max_draught_age),
            coalesce(arg_max_null(next_received_at, received_at) - interval 1 microsecond, 'infinity'::timestamptz)
        ) as valid_until
    from report_runs
    cross join params
    group by mmsi, run_number, draught_m
),

-- each interval listed under every hour it touches, for an equality join
draught_hours as (
    select mmsi, draught_m, valid_from, valid_until, hour
    from draught_intervals,
        unnest(range(
            floor(epoch(valid_from) / 3600)::bigint,
            floor(epoch(valid_until) / 3600)::bigint + 1
        )) as hours(hour)
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
    ) as reached
    cross join params,
        unnest(range(
            floor((latitude - latitude_reach) / params.port_cell_deg)::bigint,
            floor((latitude + latitude_reach) / params.port_cell_deg)::bigint + 1
        )) as lat_cells(lat_cell),
        unnest(range(
            floor((longitude - longitude_reach) / params.port_cell_deg)::bigint,
            floor((longitude + longitude_reach) / params.port_cell_deg)::bigint + 1
        )) as lon_cells(lon_cell)
    group by lat_cell, lon_cell
),

cell_candidates as (
    select
        lat_cell,
        lon_cell,
        ports[1] as port_1,
        ports[2] as port_2,
        -- a third candidate would be ignored: fail loudly rather than pick wrongly
        case when len(ports) > 2 then error('a grid cell lies near more than two reference ports: ' || ports::varchar) end
            as crowded_cell_check
    from port_cells
),

located as (
    select
        sightings.*,
        draught_hours.draught_m,
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
        -- the nearest port within its radius; at equal distance the lower port id (port_1)
        case
            when within_1 and (not coalesce(within_2, false) or distance_1 <= distance_2) then cell_candidates.port_1.port_id
            when within_2 then cell_candidates.port_2.port_id
        end as port_id
    from sightings
    cross join params
    left join draught_hours
        on draught_hours.mmsi = sightings.reported_mmsi
        and draught_hours.hour = floor(epoch(sightings.observed_at) / 3600)::bigint
        and sightings.observed_at between draught_hours.valid_from and draught_hours.valid_until
    left join cell_candidates
        on cell_candidates.lat_cell = floor(sightings.latitude / params.port_cell_deg)::bigint
        and cell_candidates.lon_cell = floor(sightings.longitude / params.port_cell_deg)::bigint
),

-- Only what the sequence reads, or cannot be computed again for the stored rows, goes
-- through the sort: every column it carries is copied for every sighting. The port's
-- role and distance, the draught ratio, an imagery row's logged state and fraction and
-- an AIS position's id are added to the stored rows (`final`).
with_states as (
    select
        -- the sighting id, or an AIS position's MMSI: its id is written from it for the stored rows
        coalesce(located.sighting_id, located.reported_mmsi) as sighting_key,
        located.evidence_kind, located.source_name, located.imo, located.observed_at, located.latitude,
        located.longitude, located.draught_m, located.port_id,
        -- orders sightings at one time, and stands for the id in the neighbour comparisons
        -- of `stored` and of a reject (with its second)
        sighting_tiebreak(
            located.evidence_kind, located.source_name, located.reported_mmsi, located.observed_at, located.sighting_id
        ) as tiebreak,
        located.draught_m / int_vessels.summer_draught_m as draught_ratio,
        case
            when located.evidence_kind = 'imagery' then
                case located.laden_state
                    when 'laden' then 'laden'
                    when 'empty' then 'empty'
                    when 'partial' then case when located.load_fraction >= 0.5 then 'laden' else 'empty' end
                end
            when draught_ratio >= params.laden_draught_ratio then 'laden'
            when draught_ratio <= params.empty_draught_ratio then 'empty'
        end as state
    from located
    cross join params
    left join int_vessels on int_vessels.imo = located.imo
),

windowed as (
    select
        *,
        -- an AIS sighting id is feed, MMSI and second; the window orders by its tiebreak, so
        -- a further position of one id directly follows the first
        lag({
            'kind': evidence_kind, 'tiebreak': tiebreak,
            'lat': latitude, 'lon': longitude, 'port_id': port_id, 'at': observed_at, 'state': state
        }) over by_vessel as previous_row,
        row_number() over by_vessel as vessel_row_number,
        lead({
            'tiebreak': tiebreak, 'port_id': port_id, 'at': observed_at, 'state': state
        }) over by_vessel as next_row,
        -- times and states only: a model that cites a neighbour looks it up by vessel,
        -- time and state for its few rows, instead of every row carrying its id and position
        lag(case when state is not null then {'at': observed_at, 'state': state} end ignore nulls) over by_vessel
            as previous_state_sighting,
        lead(case when state is not null then {'at': observed_at, 'state': state} end ignore nulls)
            over by_vessel as next_state_sighting,
        lag(case when evidence_kind = 'ais' then observed_at end ignore nulls) over by_vessel as previous_ais_at,
        -- for which rows are stored (see `stored`): the AIS position after this one, and
        -- the row and the AIS position two before it
        lead(case when evidence_kind = 'ais' then observed_at end ignore nulls) over by_vessel as next_ais_at,
        lag(tiebreak, 2) over by_vessel as second_previous_tiebreak,
        lag(case when evidence_kind = 'ais' then observed_at end, 2 ignore nulls) over by_vessel as second_previous_ais_at
    from (select * exclude (draught_ratio) from with_states) as with_states
    window by_vessel as (partition by imo order by observed_at, tiebreak, latitude, longitude)
),

-- What lies before each row, as plain columns. A lag is null only on a vessel's first
-- row (an ignore-nulls lag also when no earlier row qualifies); there a resumed vessel
-- takes it from its resume context, joined after the sort so the sort does not carry it.
-- Fields, not structs, are chosen: choosing between structs copies them for every row.
-- A resumed vessel's first row is the first of its second, so it is no further
-- position of the row before it: that row's tiebreak and position are not needed.
sequenced as (
    select
        windowed.* exclude (vessel_row_number, previous_state_sighting, previous_ais_at, second_previous_ais_at),
        windowed.vessel_row_number = 1 as first_in_window,
        windowed.vessel_row_number + coalesce(resume.context.sighting_number, 0) as sighting_number,
        if(first_in_window, resume.context.previous_sighting.port_id, windowed.previous_row.port_id) as previous_port_id,
        if(first_in_window, resume.context.previous_sighting.at, windowed.previous_row.at) as previous_at,
        -- a state-carrying sighting always has a time and a state, so the fields coalesce alone
        coalesce(windowed.previous_state_sighting.at, resume.context.previous_state_sighting.at) as previous_state_at,
        coalesce(windowed.previous_state_sighting.state, resume.context.previous_state_sighting.state) as previous_state,
        coalesce(windowed.previous_ais_at, resume.context.previous_ais_at) as previous_ais_at,
        -- the AIS position before the row before, when that row is an AIS position
        coalesce(windowed.second_previous_ais_at, resume.context.previous_ais_at) as second_previous_ais_at
    from windowed
    left join int_sightings__resume as resume on resume.imo = windowed.imo
),

judged as (
    select
        sequenced.*,
        sequenced.port_id is not null and (
            sequenced.previous_at is null
            or sequenced.previous_port_id is distinct from sequenced.port_id
            or sequenced.previous_at < sequenced.observed_at - params.max_call_gap
        ) as starts_call,
        sequenced.port_id is not null and (
            sequenced.next_row is null
            or sequenced.next_row.port_id is distinct from sequenced.port_id
            or sequenced.next_row.at > sequenced.observed_at + params.max_call_gap
        ) as ends_call,
        sequenced.evidence_kind = 'ais'
            and sequenced.previous_row.kind = 'ais'
            and sequenced.previous_row.tiebreak = sequenced.tiebreak
            and utc_second(sequenced.previous_row.at) = utc_second(sequenced.observed_at)
            as is_further_position,
        -- the row before is itself a further position of the row before it
        sequenced.previous_row.kind = 'ais'
            and sequenced.previous_row.tiebreak = sequenced.second_previous_tiebreak as follows_further_position,
        sequenced.evidence_kind = 'ais' and sequenced.next_row.tiebreak = sequenced.tiebreak as has_further_position,
        -- the row before is a sighting int_vessel_encounters compares (imagery at sea, or an
        -- AIS position at sea that is its vessel's first in its slot)
        not coalesce(follows_further_position, false) and is_encounter_sighting(
            sequenced.previous_row.kind, sequenced.previous_row.port_id, sequenced.second_previous_ais_at,
            sequenced.previous_row.at
        ) as follows_encounter_sighting
    from sequenced
    cross join params
),

-- Which rows are stored: a row per AIS position would be most of the cost of the model
-- (tens of millions of rows, written once each), while the models downstream read only
-- the rows below. Each rule names its reader; a rule of those models that reads another
-- row of a vessel's sequence needs it added here. Every sighting is still numbered
-- (sighting_number), and the vessel's last row is kept, so vessels counts them all.
stored as (
    select *
    from judged
    where
        -- imagery and GFW port visits: few, and read by several rules
        evidence_kind <> 'ais'
        -- rejects (rejects), and the rows either side of a run of them (int_port_calls)
        or is_further_position
        or has_further_position
        or follows_further_position
        -- where port calls start and end (int_port_calls)
        or starts_call
        or ends_call
        -- the first and last sighting of each run of one state (int_state_changes), the
        -- state-carrying sightings either side of a run without state, and the sighting
        -- after a compared one (int_vessel_encounters cites them through sts_transfers)
        or (state is not null and (previous_state is distinct from state or next_state_sighting.state is distinct from state))
        or (state is not null and previous_row is not null and previous_row.state is null)
        or (state is not null and next_row is not null and next_row.state is null)
        or follows_encounter_sighting
        -- the sightings int_vessel_encounters compares: at sea, a vessel's first AIS fix in
        -- each slot (imagery is stored above)
        or is_encounter_sighting(evidence_kind, port_id, previous_ais_at, observed_at)
        -- the AIS positions either side of a gap (int_ais_gaps)
        or (evidence_kind = 'ais' and previous_ais_at < observed_at - ais_dark_min_gap())
        or (evidence_kind = 'ais' and next_ais_at > observed_at + ais_dark_min_gap())
        -- the vessel's last row: its sighting number counts its sightings (vessels)
        or next_row is null
),

final as (
    select
        stored.sighting_id,
        stored.evidence_kind,
        stored.source_name,
        stored.imo,
        stored.observed_at,
        stored.latitude,
        stored.longitude,
        imagery.laden_state,
        imagery.load_fraction,
        stored.draught_m,
        stored.draught_m / int_vessels.summer_draught_m as draught_ratio,
        stored.state,
        stored.port_id,
        ref_ports.role as port_role,
        haversine_km(stored.latitude, stored.longitude, ref_ports.latitude, ref_ports.longitude) as distance_km,
        stored.sighting_number,
        stored.starts_call,
        stored.ends_call,
        stored.previous_at,
        stored.previous_port_id,
        stored.previous_state_at,
        stored.previous_state,
        stored.next_state_sighting.at as next_state_at,
        stored.next_state_sighting.state as next_state,
        stored.previous_ais_at,
        case
            when stored.is_further_position
                then case
                    when stored.previous_row.lat = stored.latitude and stored.previous_row.lon = stored.longitude
                        then 'repeat of AIS position ' || stored.sighting_id || ' (same feed, MMSI, time and position)'
                    -- format, not ||: DuckDB would cast every row's coordinates to text for these few
                    else format(
                        'another AIS position of {} in the same second, at {}, {} (after one at {}, {}; the first by position is kept)',
                        stored.sighting_id, stored.latitude, stored.longitude,
                        stored.previous_row.lat, stored.previous_row.lon
                    )
                end
        end as reject_reason
    from (
        select
            *,
            case
                when evidence_kind = 'ais' then ais_sighting_id(source_name, sighting_key, observed_at)
                else sighting_key
            end as sighting_id
        from stored
    ) as stored
    left join (
        select sighting_id, laden_state, load_fraction from int_sighting_identities
        where evidence_kind = 'imagery' and reject_reason is null
    ) as imagery on imagery.sighting_id = stored.sighting_id
    left join int_vessels on int_vessels.imo = stored.imo
    left join ref_ports on ref_ports.port_id = stored.port_id
)

select * from final
