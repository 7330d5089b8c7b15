-- DOMAIN volume rule, capacity part: capacity_bbl = cargo_capacity_m3 x 6.2898 when known, else
-- dwt x cargo share (0.95) x barrels per tonne of the product (diesel 7.46 by default;
-- ref_volume_assumptions).
with assumptions as (
    select * from ref_volume_assumptions
),

measured as (
    select
        int_vessels.imo,
        case
            when cargo_capacity_m3 is not null then cargo_capacity_m3 * assumptions.barrels_per_m3
            when dwt is not null then dwt * assumptions.cargo_share_of_dwt * assumptions.barrels_per_tonne
        end as capacity_bbl,
        case
            when cargo_capacity_m3 is not null then cargo_capacity_m3 * assumptions.barrels_per_m3
            when dwt is not null then dwt * assumptions.cargo_share_of_dwt_low * assumptions.barrels_per_tonne
        end as capacity_bbl_low,
        case
            when cargo_capacity_m3 is not null then cargo_capacity_m3 * assumptions.barrels_per_m3
            when dwt is not null then dwt * assumptions.cargo_share_of_dwt_high * assumptions.barrels_per_tonne
        end as capacity_bbl_high,
        case
            when cargo_capacity_m3 is not null then 'cargo_capacity_m3'
            when dwt is not null then 'dwt'
        end as capacity_source
    from int_vessels
    cross join assumptions
),

fleet as (
    select
        median(capacity_bbl) as capacity_bbl,
        median(capacity_bbl_low) as capacity_bbl_low,
        median(capacity_bbl_high) as capacity_bbl_high
    from measured
    where capacity_source is not null
),

final as (
    select
        measured.imo,
        coalesce(measured.capacity_bbl, fleet.capacity_bbl) as capacity_bbl,
        coalesce(measured.capacity_bbl_low, fleet.capacity_bbl_low) as capacity_bbl_low,
        coalesce(measured.capacity_bbl_high, fleet.capacity_bbl_high) as capacity_bbl_high,
        coalesce(
            measured.capacity_source,
            case when fleet.capacity_bbl is not null then 'fleet_median' else 'unknown' end
        ) as capacity_source
    from measured
    cross join fleet
)

select * from final
