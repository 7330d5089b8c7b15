-- What the registry said about each hull over time: a registry row is in force from its updated_at
-- until the next row for the same IMO.
with versions as (
    select
        imo,
        updated_at,
        vessel_name,
        flag_iso2,
        source_name,
        source_row
    from stg_registry_vessels
    where reject_reason is null
    qualify row_number() over (
        partition by imo, updated_at order by snapshot_id desc, source_row desc
    ) = 1
),

ordered as (
    select
        *,
        row_number() over by_time as version_number,
        lead(updated_at) over by_time as next_updated_at
    from versions
    window by_time as (partition by imo order by updated_at nulls first, source_row)
),

final as (
    select
        imo,
        case when version_number = 1 then null else updated_at end as valid_from,
        next_updated_at as valid_to,
        vessel_name,
        flag_iso2,
        source_name,
        source_row
    from ordered
)

select * from final
