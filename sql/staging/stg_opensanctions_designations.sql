-- OpenSanctions Sanction entities that designate a Vessel entity of the same export.
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
