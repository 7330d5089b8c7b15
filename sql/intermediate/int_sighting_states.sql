-- DOMAIN laden-state rule for every resolved sighting. Imagery: laden and empty
-- as logged; partial is laden when load_fraction >= 0.5, else empty; unknown
-- carries no state. AIS: the latest draught the ship reported (type 5) at or
-- before the position, within 24 hours, against the registry's summer draught:
-- >= 0.8 of it laden, <= 0.6 of it empty, in between no state.
-- grain: one row per resolved sighting (sighting_id)
-- columns:
--   sighting_id: evidence id
--   evidence_kind: imagery or ais
--   imo: ship IMO number
--   observed_at: time of the sighting, UTC
--   latitude: degrees north
--   longitude: degrees east
--   laden_state: imagery laden state as logged
--   load_fraction: imagery load fraction
--   draught_m: AIS draught in force at the position
--   draught_ratio: draught_m / summer draught
--   state: laden, empty, or null when the sighting carries no state
with resolved as (
    select * from int_sighting_identities
    where reject_reason is null
),

draught_reports as (
    select mmsi, received_at, draught_m
    from int_ais_static_reports
    where draught_m is not null
),

with_draught as (
    select
        resolved.*,
        case
            when draught_reports.received_at >= resolved.observed_at - interval 24 hours
                then draught_reports.draught_m
        end as draught_m
    from resolved
    asof left join draught_reports
        on draught_reports.mmsi = resolved.reported_mmsi
        and draught_reports.received_at <= resolved.observed_at
),

final as (
    select
        with_draught.sighting_id,
        with_draught.evidence_kind,
        with_draught.imo,
        with_draught.observed_at,
        with_draught.latitude,
        with_draught.longitude,
        with_draught.laden_state,
        with_draught.load_fraction,
        with_draught.draught_m,
        with_draught.draught_m / int_vessels.summer_draught_m as draught_ratio,
        case
            when with_draught.evidence_kind = 'imagery' then
                case with_draught.laden_state
                    when 'laden' then 'laden'
                    when 'empty' then 'empty'
                    when 'partial' then case when with_draught.load_fraction >= 0.5 then 'laden' else 'empty' end
                end
            when with_draught.draught_m / int_vessels.summer_draught_m >= 0.8 then 'laden'
            when with_draught.draught_m / int_vessels.summer_draught_m <= 0.6 then 'empty'
        end as state
    from with_draught
    left join int_vessels on int_vessels.imo = with_draught.imo
)

select * from final
