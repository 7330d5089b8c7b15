-- Every usable AIS static report (IMO, name, draught a ship gives for its MMSI), whatever the feed
-- format.
with nmea as (
    select source_name, snapshot_id, source_row, received_at, mmsi, imo, ship_name, draught_m
    from stg_ais_static
    where reject_reason is null
),

dma as (
    select source_name, snapshot_id, source_row, received_at, mmsi, imo, ship_name, draught_m
    from stg_ais_dma
    where reject_reason is null and (imo is not null or ship_name is not null or draught_m is not null)
),

final as (
    select * from (
        select * from nmea
        union all
        select * from dma
    )
    where $rebuild_all or list_contains(cast($changed_snapshots as varchar[]), snapshot_id)
)

select * from final
