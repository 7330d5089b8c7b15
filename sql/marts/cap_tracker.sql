-- DOMAIN cap rule: per calendar year, the volume of voyages counting toward the cap, dated by load
-- departure, against the UNSCR 2397 cap (refined products 500,000 bbl; crude 4,000,000 when the
-- product is crude).
with counted as (
    select
        year(load_departure_at) as year,
        cast(load_departure_at as date) as load_date,
        volume_bbl,
        volume_bbl_low,
        volume_bbl_high
    from voyages
    where counts_toward_cap
),

daily as (
    select
        year,
        load_date,
        count(*) as voyages,
        sum(volume_bbl) as volume_bbl,
        sum(volume_bbl_low) as volume_bbl_low,
        sum(volume_bbl_high) as volume_bbl_high
    from counted
    group by year, load_date
),

cumulative as (
    select
        daily.*,
        sum(volume_bbl) over by_date as cumulative_bbl,
        sum(volume_bbl_low) over by_date as cumulative_bbl_low,
        sum(volume_bbl_high) over by_date as cumulative_bbl_high
    from daily
    window by_date as (partition by year order by load_date rows unbounded preceding)
),

final as (
    select
        cumulative.year,
        cast(round(ref_volume_assumptions.cap_bbl) as bigint) as cap_bbl,
        cast(sum(cumulative.voyages) as bigint) as voyages,
        -- sums of the voyages' whole barrels (a sum of bigints is a hugeint in DuckDB)
        cast(sum(cumulative.volume_bbl) as bigint) as delivered_bbl,
        cast(sum(cumulative.volume_bbl_low) as bigint) as delivered_bbl_low,
        cast(sum(cumulative.volume_bbl_high) as bigint) as delivered_bbl_high,
        min(cumulative.load_date) filter (where cumulative.cumulative_bbl > ref_volume_assumptions.cap_bbl) as breach_date,
        min(cumulative.load_date) filter (where cumulative.cumulative_bbl_low > ref_volume_assumptions.cap_bbl) as breach_date_low,
        min(cumulative.load_date) filter (where cumulative.cumulative_bbl_high > ref_volume_assumptions.cap_bbl) as breach_date_high
    from cumulative
    cross join ref_volume_assumptions
    group by cumulative.year, ref_volume_assumptions.cap_bbl
)

select * from final
order by year
