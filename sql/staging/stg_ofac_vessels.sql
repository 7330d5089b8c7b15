-- OFAC SDN entries of type vessel with every identifier their Remarks give.
with source as (
    select * from raw_ofac_sdn
    where lower(sdn_type) = 'vessel'
),

overflow_lines as (
    -- real SDN_COMMENTS files repeat some lines verbatim: each distinct text counts once
    select source_name, ent_num, remarks_continuation, min(source_row) as first_row
    from raw_ofac_sdn_comments
    group by source_name, ent_num, remarks_continuation
),

overflow as (
    select source_name, ent_num, string_agg(remarks_continuation, '' order by first_row) as continuation
    from overflow_lines
    group by source_name, ent_num
),

renamed as (
    select
        source.source_name,
        source.snapshot_id,
        source.source_row,
        source.ent_num,
        upper(trim(source.sdn_name)) as listed_name,
        source.program,
        source.program like '%DPRK%' as is_dprk_program,
        source.vessel_type,
        source.vessel_flag as flag_as_listed,
        source.call_sign as call_sign_as_listed,
        coalesce(source.remarks, '') || coalesce(overflow.continuation, '') as remarks
    from source
    left join overflow
        on overflow.source_name = source.source_name
        and overflow.ent_num = source.ent_num
),

imo_mentions as (
    -- every place the Remarks attach numbers to IMO, in the order written
    select
        *,
        list_filter(
            regexp_extract_all(
                remarks,
                '(?i)(\bcompany\s+(?:number\s+|no\.?\s+)?)?\bIMO([^0-9A-Za-z;]+(?:[A-Za-z]{1,12}\.?[^0-9A-Za-z;]*){0,2})?[0-9]+'
                || '(?:\s*(?:,|/|&|\band\b|\bor\b)\s*(?:IMO\s*)?[0-9]{7}\b)*'
                || '|Registration Identification\s+[0-9]+'
            ),
            lambda mention: not regexp_matches(mention, '(?i)^company\b')
        ) as mentions
    from renamed
),

with_identifiers as (
    select
        * exclude (mentions),
        list_distinct_in_order(list_filter(numbers, lambda n: is_valid_ship_imo(n))) as imos,
        nullif(array_to_string(list_distinct_in_order(numbers), ', '), '') as imo_as_listed
    from (
        select
            *,
            flatten(list_transform(mentions, lambda mention: regexp_extract_all(mention, '[0-9]+'))) as numbers,
            nullif(
                regexp_extract(remarks, '(?i)\bMMSI\b[^0-9A-Za-z;]*(?:[A-Za-z]{1,12}\.?[^0-9A-Za-z;]*)?([0-9]+)', 1), ''
            ) as mmsi_as_listed,
            nullif(upper(trim(call_sign_as_listed)), '') as call_sign
        from imo_mentions
    )
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        ent_num,
        listed_name,
        imos[1] as imo,
        imos,
        imo_as_listed,
        case when is_digits(mmsi_as_listed, 9) then mmsi_as_listed end as mmsi,
        program,
        is_dprk_program,
        vessel_type,
        flag_as_listed,
        call_sign,
        remarks,
        case
            when len(imos) > 0 or is_digits(mmsi_as_listed, 9) or call_sign is not null then null
            when imo_as_listed is not null
                then 'invalid ship IMO number ' || imo_as_listed || ' (not 7 digits with a valid check digit)'
                    || coalesce('; MMSI ' || mmsi_as_listed || ' is not 9 digits', '')
            when mmsi_as_listed is not null
                then 'OFAC vessel entry has no IMO number or call sign, and its MMSI ' || mmsi_as_listed || ' is not 9 digits'
            else 'OFAC vessel entry has no IMO number in Remarks, no MMSI and no call sign'
        end as reject_reason
    from with_identifiers
)

select * from final
