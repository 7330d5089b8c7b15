-- AIS static and voyage data: the IMO, name and draught a ship reports for its MMSI.
with source as (
    select * from raw_ais_static
    where $rebuild_all or list_contains(cast($changed_snapshots as varchar[]), snapshot_id)
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        received_at,
        msg_type,
        mmsi,
        case when is_valid_ship_imo(imo) then imo end as imo,
        imo as imo_as_reported,
        upper(clean_text(ship_name)) as ship_name,
        clean_text(call_sign) as call_sign,
        ship_type,
        case when draught_m > 0 then draught_m end as draught_m,
        clean_text(destination) as destination,
        ais_message_reject_reason(received_at, mmsi) as reject_reason
    from source
)

select * from final
