-- DOMAIN volume rule, load part.
with voyages as (
    select
        voyage_id,
        imo,
        load_arrival_at,
        coalesce(discharge_departure_at, first_empty_after_at, 'infinity'::timestamptz) as window_end_at
    from int_voyage_destinations
),

observed as (
    select
        voyages.voyage_id,
        median(states.load_fraction) as median_fraction,
        min(states.load_fraction) as min_fraction,
        max(states.load_fraction) as max_fraction,
        count(*) as observations,
        list(states.sighting_id order by states.observed_at, states.sighting_id) as fraction_evidence_ids
    from voyages
    inner join int_sightings as states
        on states.imo = voyages.imo
        and states.reject_reason is null
        and states.state = 'laden'
        and states.load_fraction is not null
        and states.observed_at between voyages.load_arrival_at and voyages.window_end_at
    group by voyages.voyage_id
),

fractions as (
    select
        voyages.voyage_id,
        voyages.imo,
        coalesce(observed.median_fraction, assumptions.default_load_fraction) as load_fraction,
        case
            when observed.voyage_id is not null
                then greatest(0.0, observed.min_fraction - assumptions.observed_fraction_margin)
            else assumptions.default_load_fraction_low
        end as load_fraction_low,
        case
            when observed.voyage_id is not null
                then least(1.0, observed.max_fraction + assumptions.observed_fraction_margin)
            else assumptions.default_load_fraction_high
        end as load_fraction_high,
        case when observed.voyage_id is not null then 'observed_median' else 'default' end as load_fraction_source,
        coalesce(observed.fraction_evidence_ids, []::varchar[]) as fraction_evidence_ids
    from voyages
    cross join ref_volume_assumptions as assumptions
    left join observed on observed.voyage_id = voyages.voyage_id
),

final as (
    select
        fractions.voyage_id,
        capacities.capacity_bbl,
        capacities.capacity_source,
        fractions.load_fraction,
        fractions.load_fraction_low,
        fractions.load_fraction_high,
        fractions.load_fraction_source,
        fractions.fraction_evidence_ids,
        capacities.capacity_bbl * fractions.load_fraction as volume_bbl,
        capacities.capacity_bbl_low * fractions.load_fraction_low as volume_bbl_low,
        capacities.capacity_bbl_high * fractions.load_fraction_high as volume_bbl_high
    from fractions
    left join int_vessel_capacities as capacities on capacities.imo = fractions.imo
)

select * from final
