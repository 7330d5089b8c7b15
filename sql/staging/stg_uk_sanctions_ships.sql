-- UK Sanctions List ship designations, one row per name the list gives a ship.
with source as (
    select * from raw_uk_sanctions_ships
),

renamed as (
    select
        source_name,
        snapshot_id,
        source_row,
        clean_text(unique_id) as unique_id,
        clean_imo(imo_number) as imo_as_listed,
        upper(clean_text(name)) as listed_name,
        clean_text(name_type) as name_type,
        clean_text(regime_name) as regime_name,
        clean_text(designation_source) as designation_source,
        clean_text(date_designated) as date_designated_text,
        try_strptime(clean_text(date_designated), '%d/%m/%Y')::date as listed_on,
        clean_text(current_flag) as flag_as_listed
    from source
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        unique_id,
        case when is_valid_ship_imo(imo_as_listed) then imo_as_listed end as imo,
        listed_name,
        name_type,
        regime_name,
        designation_source,
        listed_on,
        flag_as_listed,
        case
            when unique_id is null then 'UK designation row has no Unique ID'
            when imo_as_listed is null then 'UK ship designation has no IMO number'
            when not is_valid_ship_imo(imo_as_listed)
                then 'invalid ship IMO number ' || imo_as_listed || ' (not 7 digits with a valid check digit)'
            when date_designated_text is not null and listed_on is null
                then 'Date Designated is not dd/mm/yyyy: ' || date_designated_text
            else plausible_time_problem(listed_on, 'Date Designated')
        end as reject_reason
    from renamed
)

select * from final
