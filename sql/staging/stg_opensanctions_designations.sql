-- OpenSanctions Sanction entities that designate a Vessel entity of the same
-- export. The listing date is the earliest listingDate, else the earliest
-- startDate; a partial date ('2018', '2018-03') counts from the last day of
-- that period, so a hull is never called sanctioned before the list says so.
-- A listing date before 1990 or more than a day after the run (sql/macros.sql) rejects
-- the record, rather than being nulled: a designation with no listing date counts on
-- every date (DOMAIN), a stronger claim than the list makes, and a date the publisher
-- got that wrong puts the record's other fields in doubt. No list tankerwatch reads
-- designated anything before 1990 (the UN Consolidated List's entries date from 1999,
-- its DPRK regime from 2006), so such a date is a default or a typing error; the record
-- and the reason are in `rejects`, where an analyst reviewing the list finds the hull.
-- grain: one row per Sanction entity and sanctioned vessel (source_name, sanction_id, vessel_entity_id)
-- columns:
--   source_name: sources-file name of the OpenSanctions export
--   snapshot_id: snapshot the sanction was read from
--   source_row: line of the export
--   sanction_id: the Sanction entity's id
--   vessel_entity_id: the sanctioned Vessel entity's id
--   authority: sanctioning authority
--   program: sanctions program
--   listed_on: date of listing (see above); null when none is given
--   reject_reason: why the designation cannot be used; null when usable
with sanctions as (
    select
        source_name,
        snapshot_id,
        source_row,
        entity_id as sanction_id,
        unnest(sanctioned_ids) as vessel_entity_id,
        authorities[1] as authority,
        programs[1] as program,
        list_sort(coalesce(listing_dates, [])) as listing_dates,
        list_sort(coalesce(start_dates, [])) as start_dates
    from raw_opensanctions_sanctions
),

dated as (
    select
        *,
        coalesce(listing_dates[1], start_dates[1]) as date_text
    from sanctions
),

typed as (
    select
        *,
        case
            when regexp_full_match(date_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}.*') then try_cast(left(date_text, 10) as date)
            when regexp_full_match(date_text, '[0-9]{4}-[0-9]{2}')
                then last_day(try_cast(date_text || '-01' as date))
            when regexp_full_match(date_text, '[0-9]{4}') then try_cast(date_text || '-12-31' as date)
        end as listed_on
    from dated
),

final as (
    select
        dated.source_name,
        dated.snapshot_id,
        dated.source_row,
        dated.sanction_id,
        dated.vessel_entity_id,
        dated.authority,
        dated.program,
        dated.listed_on,
        case
            when dated.date_text is not null and dated.listed_on is null
                then 'listing date is not a date (YYYY, YYYY-MM or YYYY-MM-DD): ' || dated.date_text
            else plausible_time_problem(dated.listed_on, 'listing date')
        end as reject_reason
    from typed as dated
    inner join raw_opensanctions_vessels as vessels
        on vessels.source_name = dated.source_name
        and vessels.entity_id = dated.vessel_entity_id
)

select * from final
