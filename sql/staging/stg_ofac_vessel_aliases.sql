-- Other names OFAC gives its vessel entries: ALT.CSV rows (a.k.a., f.k.a., n.k.a.) and the
-- a.k.a./f.k.a. names written into Remarks.
with vessels as (
    select source_name, ent_num, remarks from stg_ofac_vessels
),

from_alt as (
    select
        raw_ofac_alt.source_name,
        raw_ofac_alt.ent_num,
        upper(trim(raw_ofac_alt.alt_name)) as alias,
        lower(trim(raw_ofac_alt.alt_type)) as alias_type,
        'alt_csv' as origin
    from raw_ofac_alt
    inner join vessels
        on vessels.source_name = raw_ofac_alt.source_name
        and vessels.ent_num = raw_ofac_alt.ent_num
    where raw_ofac_alt.alt_name is not null
),

from_remarks as (
    select
        source_name,
        ent_num,
        upper(trim(regexp_extract(mention, '''([^'']+)''', 1))) as alias,
        replace(lower(left(mention, 6)), '.', '') as alias_type,
        'remarks' as origin
    from (
        select
            source_name,
            ent_num,
            unnest(regexp_extract_all(remarks, '[afn]\.k\.a\. ''[^'']+''')) as mention
        from vessels
    )
),

final as (
    select distinct * from from_alt
    union
    select distinct * from from_remarks
)

select * from final
