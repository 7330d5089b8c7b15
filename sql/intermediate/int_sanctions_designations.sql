-- Sanctions designations of hulls, keyed by IMO where the list gives one.
with ofac_hulls as (
    select
        source_name,
        ent_num,
        listed_name,
        program,
        -- an MMSI or call sign cannot be told apart between several IMOs of one entry
        case when len(imos) <= 1 then mmsi end as mmsi,
        case when len(imos) <= 1 then call_sign end as call_sign,
        unnest(case when len(imos) = 0 then [null::varchar] else imos end) as imo
    from stg_ofac_vessels
    where reject_reason is null
),

ofac as (
    select
        'OFAC SDN' as list_name,
        source_name,
        ent_num::varchar as entry_id,
        coalesce('IMO ' || imo, 'MMSI ' || mmsi, 'call sign ' || call_sign) as hull_key,
        imo,
        mmsi,
        call_sign,
        listed_name,
        program,
        null::date as listed_on,
        case
            when imo is not null then 'OFAC vessel entry, IMO in Remarks'
            when mmsi is not null then 'OFAC vessel entry without IMO, MMSI in Remarks'
            else 'OFAC vessel entry without IMO or MMSI, call sign'
        end as basis
    from ofac_hulls
),

un_entries as (
    select * from stg_un_designations
    where reject_reason is null and un_list_type = 'DPRK' and record_type = 'entity'
),

name_phrases as (
    select distinct name_tokens(vessel_name) as phrase, name_key
    from int_vessel_names
    where length(name_key) >= 4
),

comment_tokens as (
    -- A numbered sibling ('KUM UN SAN 3') is not a mention of 'KUM UN SAN'. Single-word
    -- names must be written in capitals, as the list writes vessel names, so that an
    -- alias such as LEADERSHIP does not match the word 'leadership'.
    select
        un_entries.*,
        name_tokens(comments) as any_case,
        ' ' || trim(regexp_replace(strip_accents(coalesce(comments, '')), '[^A-Za-z0-9]+', ' ', 'g')) || ' ' as as_written
    from un_entries
),

un_mentions as (
    select
        comment_tokens.source_name,
        comment_tokens.reference_number,
        comment_tokens.listed_name as entity_name,
        comment_tokens.listed_on,
        name_phrases.name_key,
        trim(name_phrases.phrase) as mentioned_name
    from comment_tokens
    inner join name_phrases
        on contains(
            regexp_replace(
                case when contains(trim(name_phrases.phrase), ' ') then comment_tokens.any_case else comment_tokens.as_written end,
                name_phrases.phrase || '[0-9]+ ',
                ' ',
                'g'
            ),
            name_phrases.phrase
        )
),

un_resolved as (
    select
        un_mentions.*,
        list(distinct int_vessel_names.imo order by int_vessel_names.imo) as candidate_imos
    from un_mentions
    inner join int_vessel_names on int_vessel_names.name_key = un_mentions.name_key
    group by all
),

un as (
    select
        'UN SC Consolidated List' as list_name,
        source_name,
        reference_number as entry_id,
        'IMO ' || candidate_imos[1] as hull_key,
        candidate_imos[1] as imo,
        null::varchar as mmsi,
        null::varchar as call_sign,
        mentioned_name as listed_name,
        'DPRK' as program,
        listed_on,
        'named in the comments of ' || reference_number || ' ' || entity_name as basis
    from un_resolved
    where len(candidate_imos) = 1
),

opensanctions as (
    select
        'OpenSanctions (' || coalesce(designations.authority, 'unknown authority') || ')' as list_name,
        designations.source_name,
        designations.sanction_id as entry_id,
        'IMO ' || vessels.imo as hull_key,
        vessels.imo,
        vessels.mmsi,
        null::varchar as call_sign,
        vessels.listed_name,
        coalesce(designations.program, designations.authority) as program,
        designations.listed_on,
        'OpenSanctions Sanction entity ' || designations.sanction_id || ' of vessel ' || vessels.entity_id as basis
    from stg_opensanctions_designations as designations
    inner join stg_opensanctions_vessels as vessels
        on vessels.source_name = designations.source_name
        and vessels.entity_id = designations.vessel_entity_id
    where vessels.reject_reason is null and designations.reject_reason is null
),

uk as (
    select
        'UK Sanctions List' as list_name,
        source_name,
        unique_id as entry_id,
        'IMO ' || imo as hull_key,
        imo,
        null::varchar as mmsi,
        null::varchar as call_sign,
        min(listed_name) filter (where name_type ilike 'primary%') as listed_name,
        min(regime_name) as program,
        min(listed_on) as listed_on,
        'UK ship designation ' || unique_id as basis
    from stg_uk_sanctions_ships
    where reject_reason is null
    group by source_name, unique_id, imo
),

final as (
    select * from ofac
    union all
    select distinct * from un
    union all
    select * from opensanctions
    union all
    select * from uk
)

select * from final
