-- OFAC SDN vessel entries with the ship IMO read from Remarks. Only rows whose
-- SDN_Type is 'vessel' are read: entity rows carry company IMO numbers
-- ('Company Number IMO ...', or owner IMOs under the same wording), which are
-- never ship IMOs.
-- grain: one row per OFAC SDN entry of type vessel (source_name, ent_num)
-- columns:
--   source_name: sources-file name of the OFAC source
--   snapshot_id: first 16 hex digits of the landed SDN.CSV's sha256
--   source_row: line of SDN.CSV the entry came from
--   ent_num: OFAC entry number
--   listed_name: vessel name as OFAC lists it
--   imo: ship IMO number (7 digits, check digit valid); null when rejected
--   imo_as_listed: the number written after 'Vessel Registration Identification'
--   mmsi: MMSI from Remarks, when given
--   program: OFAC program tags, '] ['-separated as published
--   is_dprk_program: true when any program tag starts with DPRK
--   vessel_type: OFAC vessel type
--   flag_as_listed: OFAC Vess_flag (a country name)
--   call_sign: OFAC call sign
--   remarks: Remarks with the SDN_COMMENTS overflow appended
--   reject_reason: why the entry cannot be keyed by IMO; null when usable
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
        source.call_sign,
        coalesce(source.remarks, '') || coalesce(overflow.continuation, '') as remarks
    from source
    left join overflow
        on overflow.source_name = source.source_name
        and overflow.ent_num = source.ent_num
),

with_identifiers as (
    select
        *,
        nullif(regexp_extract(remarks, 'Vessel Registration Identification (IMO )?([0-9]+)', 2), '') as imo_as_listed,
        nullif(regexp_extract(remarks, 'MMSI ([0-9]{9})', 1), '') as mmsi
    from renamed
),

final as (
    select
        source_name,
        snapshot_id,
        source_row,
        ent_num,
        listed_name,
        case when is_valid_ship_imo(imo_as_listed) then imo_as_listed end as imo,
        imo_as_listed,
        mmsi,
        program,
        is_dprk_program,
        vessel_type,
        flag_as_listed,
        call_sign,
        remarks,
        case
            when imo_as_listed is null then 'OFAC vessel entry has no IMO number in Remarks'
            when not is_valid_ship_imo(imo_as_listed)
                then 'invalid ship IMO number ' || imo_as_listed || ' (not 7 digits with a valid check digit)'
        end as reject_reason
    from with_identifiers
)

select * from final
