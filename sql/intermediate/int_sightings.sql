-- Each vessel's sequence of sightings, and the rows of it a rule reads (the contract beside this
-- file says more).

-- the sightings to compute, where each is (int_sighting_places): all of them, or each
-- resumed vessel's from its resume point
with sightings as (
    select places.*
    from int_sighting_places as places
    left join int_sightings__resume as resume on resume.imo = places.imo
    where places.observed_at >= $recompute_from::timestamptz
        and ($rebuild_all or places.observed_at >= resume.resume_at)
),

-- each run of one reported draught (int_draught_intervals) listed under every hour it
-- touches, for an equality join
draught_hours as (
    select mmsi, draught_m, valid_from, valid_until, hour
    from int_draught_intervals,
        unnest(range(
            floor(epoch(valid_from) / 3600)::bigint,
            floor(epoch(valid_until) / 3600)::bigint + 1
        )) as hours(hour)
    where valid_until >= $recompute_from::timestamptz
),

-- Only what the sequence reads, or cannot be computed again for the stored rows, goes
-- through the sort: every column it carries is copied for every sighting. The port's
-- role and distance, the draught ratio, an imagery row's logged state and fraction and
-- an AIS position's id are added to the stored rows (`final`).
with_states as (
    select
        -- the sighting id, or an AIS position's MMSI: its id is written from it for the stored rows
        coalesce(sightings.sighting_id, sightings.reported_mmsi) as sighting_key,
        sightings.evidence_kind, sightings.source_name, sightings.imo, sightings.observed_at, sightings.latitude,
        sightings.longitude, draught_hours.draught_m, sightings.port_id,
        -- orders sightings at one time, and stands for the id in the neighbour comparisons
        -- of `stored` and of a reject (with its second)
        sighting_tiebreak(
            sightings.evidence_kind, sightings.source_name, sightings.reported_mmsi, sightings.observed_at,
            sightings.sighting_id
        ) as tiebreak,
        sighting_state(
            sightings.evidence_kind, sightings.laden_state, sightings.load_fraction,
            draught_hours.draught_m / int_vessels.summer_draught_m
        ) as state
    from sightings
    left join draught_hours
        on draught_hours.mmsi = sightings.reported_mmsi
        and draught_hours.hour = floor(epoch(sightings.observed_at) / 3600)::bigint
        and sightings.observed_at between draught_hours.valid_from and draught_hours.valid_until
    left join int_vessels on int_vessels.imo = sightings.imo
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
    from with_states
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
            or sequenced.previous_at < sequenced.observed_at - port_call_max_gap()
        ) as starts_call,
        sequenced.port_id is not null and (
            sequenced.next_row is null
            or sequenced.next_row.port_id is distinct from sequenced.port_id
            or sequenced.next_row.at > sequenced.observed_at + port_call_max_gap()
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
