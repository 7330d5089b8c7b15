-- UN Security Council Consolidated List designations, typed.
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
