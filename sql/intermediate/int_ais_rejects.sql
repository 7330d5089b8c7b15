-- The AIS position messages tankerwatch could not use, with the reason: those the NMEA staging
-- checks reject (no receiver time, no valid MMSI, no position), and usable positions of any feed
-- whose MMSI stands for no vessel or for several.
with staging_rejects as (
    select
        'staging' as stage,
        'stg_ais_positions' as table_name,
        source_name,
        snapshot_id,
        source_row,
        mmsi as record_id,
        reject_reason as reason,
        to_json(stg_ais_positions)::varchar as record,
        received_at
    from stg_ais_positions
    where reject_reason is not null
        and (
            received_at >= cast($recompute_from as timestamptz)
            -- a message without a receiver time is in no window: its snapshot brings it
            or (received_at is null and ($rebuild_all or list_contains(cast($changed_snapshots as varchar[]), snapshot_id)))
        )
),

identity_rejects as (
    select
        'identity' as stage,
        'int_sighting_identities' as table_name,
        source_name,
        snapshot_id,
        source_row,
        sighting_id as record_id,
        reject_reason as reason,
        to_json(int_sighting_identities)::varchar as record,
        observed_at as received_at
    from int_sighting_identities
    where evidence_kind = 'ais'
        and reject_reason is not null
        and observed_at >= cast($recompute_from as timestamptz)
),

final as (
    select * from staging_rejects
    union all
    select * from identity_rejects
)

select * from final
