-- Every usable AIS position, whatever feed format it came in (NMEA, DMA CSV).
with nmea as (
    select source_name, snapshot_id, source_row, received_at, mmsi, latitude, longitude, speed_knots
    from stg_ais_positions
    where reject_reason is null
),

dma as (
    select source_name, snapshot_id, source_row, received_at, mmsi, latitude, longitude, speed_knots
    from stg_ais_dma
    where reject_reason is null and has_position
),

final as (
    select * from nmea
    union all
    select * from dma
)

select * from final
