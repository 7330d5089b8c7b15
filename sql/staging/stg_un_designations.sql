-- UN Security Council Consolidated List designations, typed. The list has no
-- vessel records: DPRK owner and manager companies name their tankers in the
-- comments, which int_sanctions_designations reads.
-- A listing date before 1990 or more than a day after the run (sql/macros.sql) rejects
-- the record, rather than being nulled: a designation with no listing date counts on
-- every date (DOMAIN), a stronger claim than the list makes, and a date the publisher
-- got that wrong puts the record's other fields in doubt. No list tankerwatch reads
-- designated anything before 1990 (the UN Consolidated List's entries date from 1999,
-- its DPRK regime from 2006), so such a date is a default or a typing error; the record
-- and the reason are in `rejects`, where an analyst reviewing the list finds the hull.
-- grain: one row per UN list record (source_name, reference_number)
-- columns:
--   source_name: sources-file name of the UN source
--   snapshot_id: first 16 hex digits of the landed XML's sha256
--   source_row: ordinal of the record in the XML
--   reference_number: UN reference, e.g. KPe.066
--   record_type: entity or individual
--   listed_name: name of the designated entity or individual
--   un_list_type: sanctions regime, e.g. DPRK
--   listed_on: date of listing
--   comments: COMMENTS1, whitespace collapsed
--   reject_reason: why the record cannot be used; null when usable
with source as (
    select * from raw_un_designations
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        clean_text(reference_number) as reference_number,
        record_type,
        upper(clean_text(name)) as listed_name,
        upper(clean_text(un_list_type)) as un_list_type,
        try_cast(clean_text(listed_on) as date) as listed_on,
        comments,
        case
            when clean_text(reference_number) is null then 'UN record has no REFERENCE_NUMBER'
            when clean_text(listed_on) is not null and try_cast(clean_text(listed_on) as date) is null
                then 'LISTED_ON is not a date: ' || listed_on
            else plausible_time_problem(try_cast(clean_text(listed_on) as date), 'LISTED_ON')
        end as reject_reason
    from source
)

select * from final
