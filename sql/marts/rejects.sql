-- Every input record tankerwatch could not use, with the reason: nothing is dropped silently.
with parse_failures as (
    select
        'parse' as stage,
        'raw_' || kind as table_name,
        source_name,
        snapshot_id,
        source_row,
        null::varchar as record_id,
        reason,
        raw as record
    from raw_parse_rejects
),

staging_rejects as (
    select 'staging', 'stg_ofac_vessels', source_name, snapshot_id, source_row, ent_num::varchar, reject_reason, to_json(stg_ofac_vessels)::varchar
    from stg_ofac_vessels where reject_reason is not null
    union all
    select 'staging', 'stg_un_designations', source_name, snapshot_id, source_row, reference_number, reject_reason, to_json(stg_un_designations)::varchar
    from stg_un_designations where reject_reason is not null
    union all
    select 'staging', 'stg_registry_vessels', source_name, snapshot_id, source_row, imo, reject_reason, to_json(stg_registry_vessels)::varchar
    from stg_registry_vessels where reject_reason is not null
    union all
    select 'staging', 'stg_imagery_sightings', source_name, snapshot_id, source_row, sighting_id, reject_reason, to_json(stg_imagery_sightings)::varchar
    from stg_imagery_sightings where reject_reason is not null
    union all
    select 'staging', 'stg_ais_static', source_name, snapshot_id, source_row, mmsi, reject_reason, to_json(stg_ais_static)::varchar
    from stg_ais_static where reject_reason is not null
    union all
    select 'staging', 'stg_ais_dma', source_name, snapshot_id, source_row, mmsi, reject_reason, to_json(stg_ais_dma)::varchar
    from stg_ais_dma where reject_reason is not null
    union all
    select 'staging', 'stg_opensanctions_vessels', source_name, snapshot_id, source_row, entity_id, reject_reason, to_json(stg_opensanctions_vessels)::varchar
    from stg_opensanctions_vessels where reject_reason is not null
    union all
    select 'staging', 'stg_uk_sanctions_ships', source_name, snapshot_id, source_row, unique_id, reject_reason, to_json(stg_uk_sanctions_ships)::varchar
    from stg_uk_sanctions_ships where reject_reason is not null
    union all
    select 'staging', 'stg_gfw_vessels', source_name, snapshot_id, source_row, gfw_vessel_id, reject_reason, to_json(stg_gfw_vessels)::varchar
    from stg_gfw_vessels where reject_reason is not null
    union all
    select 'staging', 'stg_gfw_port_visits', source_name, snapshot_id, source_row, event_id, reject_reason, to_json(stg_gfw_port_visits)::varchar
    from stg_gfw_port_visits where reject_reason is not null
    union all
    select 'staging', 'stg_opensanctions_designations', source_name, snapshot_id, source_row, sanction_id, reject_reason, to_json(stg_opensanctions_designations)::varchar
    from stg_opensanctions_designations where reject_reason is not null
),

identity_rejects as (
    select
        'identity',
        'int_sighting_identities',
        source_name,
        snapshot_id,
        source_row,
        sighting_id,
        reject_reason,
        to_json(int_sighting_identities)::varchar
    from int_sighting_identities
    where reject_reason is not null
        -- an AIS identity reject is int_ais_rejects'; a row of no known kind is listed here
        and evidence_kind is distinct from 'ais'
),

ais_position_rejects as (
    select stage, table_name, source_name, snapshot_id, source_row, record_id, reason, record
    from int_ais_rejects
),

sequence_rejects as (
    select
        *,
        to_json(int_sightings)::varchar as record,
        row_number() over (
            partition by sighting_id, latitude, longitude order by sighting_number
        ) as copy_number
    from int_sightings
    where reject_reason is not null
),

repeated_ids as (
    select distinct
        sighting_id,
        utc_second(observed_at) as observed_second
    from sequence_rejects
    where evidence_kind = 'ais'
),

repeated_messages as (
    select
        positions.source_name,
        positions.snapshot_id,
        positions.source_row,
        positions.latitude,
        positions.longitude,
        ais_sighting_id(positions.source_name, positions.mmsi, positions.received_at) as sighting_id
    from int_ais_positions as positions
    where positions.received_at >= (select to_timestamp(min(observed_second)) from repeated_ids)
        and positions.received_at < (select to_timestamp(max(observed_second) + 1) from repeated_ids)
        and utc_second(positions.received_at) in (select observed_second from repeated_ids)
),

further_messages as (
    select
        *,
        row_number() over (
            partition by sighting_id, latitude, longitude order by snapshot_id, source_row
        ) - case when position_number_in_id_first_group then 1 else 0 end as copy_number
    from (
        select
            messages.*,
            row_number() over (
                partition by messages.sighting_id
                order by messages.latitude, messages.longitude, messages.snapshot_id, messages.source_row
            ) as position_number,
            first_value(messages.latitude) over by_id = messages.latitude
                and first_value(messages.longitude) over by_id = messages.longitude
                as position_number_in_id_first_group
        from repeated_messages as messages
        semi join repeated_ids using (sighting_id)
        window by_id as (
            partition by messages.sighting_id
            order by messages.latitude, messages.longitude, messages.snapshot_id, messages.source_row
        )
    )
),

repeated_positions as (
    select
        'sequence',
        'int_sightings',
        rejected.source_name,
        messages.snapshot_id,
        messages.source_row,
        rejected.sighting_id,
        rejected.reject_reason,
        rejected.record
    from sequence_rejects as rejected
    left join further_messages as messages
        on messages.sighting_id = rejected.sighting_id
        and messages.latitude = rejected.latitude
        and messages.longitude = rejected.longitude
        and messages.copy_number = rejected.copy_number
        and messages.position_number > 1
),

final as (
    select * from parse_failures
    union all
    select * from staging_rejects
    union all
    select * from identity_rejects
    union all
    select * from ais_position_rejects
    union all
    select * from repeated_positions
)

select * from final
order by stage, table_name, source_name, snapshot_id, source_row
