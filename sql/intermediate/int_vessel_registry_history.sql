-- What the registry said about each hull over time: a registry row is in force
-- from its updated_at until the next row for the same IMO. A reflagged or
-- renamed hull thus has its flag and name as of any date. The earliest row
-- also stands for the time before it: the registry says nothing earlier.
-- grain: one row per IMO and registry version (imo, valid_from)
-- columns:
--   imo: ship IMO number
--   valid_from: when this version came into force; null for the earliest version
--   valid_to: when the next version came into force; null for the latest
--   vessel_name: name in this version
--   flag_iso2: flag in this version, ISO 3166 alpha-2
--   source_name: registry source of the version
--   source_row: line of the registry row
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
