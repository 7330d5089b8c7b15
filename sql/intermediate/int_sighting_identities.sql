-- DOMAIN identity rule applied to every usable sighting (imagery rows, AIS positions, and the
-- start and end of GFW port visits): the IMO it reports; else the IMO its MMSI stands for; else
-- the one hull whose registry name, former name, sanctions name or alias has the same name key.
with imagery as (
    select
        source_name || ':' || sighting_id as sighting_id,
        'imagery' as evidence_kind,
        source_name,
        snapshot_id,
        source_row,
        observed_at,
        latitude,
        longitude,
        imo as reported_imo,
        mmsi as reported_mmsi,
        vessel_name as reported_name,
        laden_state,
        load_fraction,
        imagery_source || '/' || image_id as image_key
    from stg_imagery_sightings
    where reject_reason is null
),

-- an AIS position's id is written in `identified`, after resolution
ais as (
    select
        null::varchar as sighting_id,
        'ais' as evidence_kind,
        source_name,
        snapshot_id,
        source_row,
        received_at as observed_at,
        latitude,
        longitude,
        null::varchar as reported_imo,
        mmsi as reported_mmsi,
        null::varchar as reported_name,
        null::varchar as laden_state,
        null::double as load_fraction,
        null::varchar as image_key
    from int_ais_positions
),

port_visit_ends as (
    select
        source_name || ':' || event_id || ':' || visit_end.label as sighting_id,
        'gfw_port_visit' as evidence_kind,
        source_name,
        snapshot_id,
        source_row,
        visit_end.at as observed_at,
        latitude,
        longitude,
        null::varchar as reported_imo,
        mmsi as reported_mmsi,
        vessel_name as reported_name,
        null::varchar as laden_state,
        null::double as load_fraction,
        null::varchar as image_key
    from (
        select
            *,
            unnest([{'label': 'start', 'at': started_at}, {'label': 'end', 'at': ended_at}]) as visit_end
        from stg_gfw_port_visits
        where reject_reason is null
    )
),

sightings as not materialized (
    select * from imagery
    union all
    select * from ais
    union all
    select * from port_visit_ends
),

-- Candidates per distinct name, not per sighting: millions of AIS positions carry no
-- name, and joining them by sighting id would cost more than resolving every name.
name_matches as (
    select
        int_vessel_names.name_key,
        list(distinct int_vessel_names.imo order by int_vessel_names.imo) as candidate_imos
    from int_vessel_names
    where int_vessel_names.name_key in (
        select vessel_name_key(reported_name) from imagery where reported_name is not null and reported_imo is null
        union
        select vessel_name_key(reported_name) from port_visit_ends where reported_name is not null and reported_imo is null
    )
    group by int_vessel_names.name_key
),

resolved as not materialized (
    select
        sightings.*,
        int_mmsi_identities.imo as mmsi_imo,
        int_mmsi_identities.candidate_imos as mmsi_candidates,
        name_matches.candidate_imos
    from sightings
    left join int_mmsi_identities on int_mmsi_identities.mmsi = sightings.reported_mmsi
    -- the name key is computed only where a name is the way to resolve (not for millions of AIS fixes)
    left join name_matches
        on name_matches.name_key = case
            when sightings.reported_name is not null and sightings.reported_imo is null
                then vessel_name_key(sightings.reported_name)
        end
),

identified as not materialized (
    select
        -- written after resolution, so a reader of the rejects alone (int_ais_rejects) formats
        -- no id for the millions of resolved positions
        case
            when evidence_kind = 'ais'
                then ais_sighting_id(source_name, reported_mmsi, observed_at)
            else sighting_id
        end as sighting_id,
        evidence_kind,
        source_name,
        snapshot_id,
        source_row,
        observed_at,
        latitude,
        longitude,
        reported_imo,
        reported_mmsi,
        reported_name,
        laden_state,
        load_fraction,
        coalesce(
            reported_imo,
            mmsi_imo,
            case when len(candidate_imos) = 1 then candidate_imos[1] end
        ) as imo,
        case
            when reported_imo is not null then 'imo'
            when mmsi_imo is not null then 'mmsi'
            when len(candidate_imos) = 1 then 'name'
        end as resolved_by,
        candidate_imos,
        image_key,
        case
            when reported_imo is not null or mmsi_imo is not null or len(candidate_imos) = 1 then null
            when len(candidate_imos) > 1
                then 'ambiguous vessel name ' || reported_name || ': matches IMOs ' || array_to_string(candidate_imos, ', ')
            when len(mmsi_candidates) > 1
                then 'MMSI ' || reported_mmsi || ' is linked to several IMOs: ' || array_to_string(mmsi_candidates, ', ')
            when reported_name is not null
                then 'unresolved: no IMO, and neither MMSI ' || coalesce(reported_mmsi, '(none)')
                    || ' nor name ' || reported_name || ' matches a known vessel'
            else 'unresolved: MMSI ' || coalesce(reported_mmsi, '(none)') || ' is not linked to any IMO'
        end as reject_reason
    from resolved
),

-- An analyst may log one image of one hull twice (another sighting id, a time a few
-- minutes off): the image counts once, under its lowest sighting id (the first logged),
-- and the repeat is kept as a reject naming it. Only imagery has images, so only the
-- imagery rows are windowed, never the AIS positions.
imagery_repeats as (
    select
        * exclude (reject_reason, first_of_image),
        coalesce(
            reject_reason,
            case when first_of_image <> sighting_id then 'duplicate of ' || first_of_image || ': the same image of the same vessel' end
        ) as reject_reason
    from (
        select
            *,
            case when image_key is not null and imo is not null then first_value(sighting_id) over (
                partition by imo, image_key order by sighting_id
            ) end as first_of_image
        from identified
        where evidence_kind = 'imagery'
    )
),

final as (
    select * from imagery_repeats
    union all
    select * from identified where evidence_kind <> 'imagery'
)

select * from final
