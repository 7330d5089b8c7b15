-- The AIS position messages tankerwatch could not use, with the reason: those the
-- NMEA staging checks reject (no receiver time, no valid MMSI, no position), and
-- usable positions of any feed whose MMSI stands for no vessel or for several. A
-- regional feed's rejects grow with its history, so they are kept apart from
-- `rejects` and built incrementally (sql/incremental/int_ais_rejects.sql): a
-- nightly build computes again the rejects of the snapshots loaded or removed since
-- the last build, and those received from the earliest of their times on (a DMA
-- row can be a repeat of another snapshot's row with the same time).
-- grain: one row per rejected AIS position message and stage (stage, source_name, snapshot_id, source_row)
-- materialized: incremental
-- gate window: list_contains($unvalidated_snapshots, snapshot_id)
-- gate inputs: int_mmsi_identities, int_vessel_names
-- columns:
--   stage: staging or identity
--   table_name: model that rejected the message (stg_ais_positions or int_sighting_identities)
--   source_name: sources-file name of the AIS feed
--   snapshot_id: snapshot the message was read from
--   source_row: line or row of the message
--   record_id: the message's MMSI (staging) or sighting id (identity)
--   reason: why the message was rejected
--   record: the message as JSON, as the rejecting model saw it
--   received_at: receiver time, UTC; null when the message had none
-- Each read filters by time itself, where the filter reaches the table scans: a nightly
-- build reads the feed's new days, not its history ($recompute_from is -infinity in a
-- full build). Applied to their union, it stayed above the identity view's projection.
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
