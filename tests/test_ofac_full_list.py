"""A whole real OFAC sdn.csv, and the ways OFAC writes a ship's identifiers, through staging to sanctioned_vessels.

The counts here are made by the tests themselves from the raw bytes, by a different method from
the pipeline's (tokens, not regular expressions), so a phrasing the pipeline misses shows up as a
difference rather than as a smaller expected number.
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest
from scenario import Scenario
from stdnum import imo as stdnum_imo

FULL_SDN = Path(__file__).parent / "fixtures" / "ofac" / "sdn_full_2022.csv"
OFAC = "OFAC SDN"


def ship_check_digit_ok(number: str) -> bool:
    # the token as it stands in the file: stdnum alone would also take "IMO 1234567" or inner spaces
    return len(number) == 7 and stdnum_imo.is_valid(number)


def ship_imo(prefix: str) -> str:
    """A valid ship IMO number from six digits."""
    return prefix + stdnum_imo.calc_check_digit(prefix)


def raw_records(path: Path) -> list[list[str]]:
    # latin-1 maps every byte, and the identifiers are ASCII whatever the file's encoding
    records = []
    for line in path.read_bytes().decode("latin-1").split("\r\n"):
        if line.strip() and line.strip() != "\x1a":
            records.append(next(csv.reader([line])))
    return records


def imos_by_tokens(remarks: str) -> list[str]:
    """Check-digit-valid 7-digit numbers within four tokens after the word IMO (not a company's), or
    straight after 'Registration Identification'; a ';' ends the search."""
    tokens = re.findall(r"[A-Za-z]+|[0-9]+|;", remarks)
    found = []
    for i, token in enumerate(tokens):
        if token.upper() == "IMO" and "COMPANY" not in (t.upper() for t in tokens[max(0, i - 2) : i]):
            following = tokens[i + 1 : i + 5]
        elif token == "Identification" and i > 0 and tokens[i - 1] == "Registration":
            following = tokens[i + 1 : i + 2]
        else:
            continue
        for later in following:
            if later == ";":
                break
            if ship_check_digit_ok(later) and later not in found:
                found.append(later)
    for split in re.findall(r"\bIMO([0-9]{7})\b", remarks):  # 'IMO9123456' is one token to the regex above
        if ship_check_digit_ok(split) and split not in found:
            found.append(split)
    return found


@pytest.fixture(scope="module")
def full_list(tmp_path_factory):
    s = Scenario(tmp_path_factory.mktemp("ofac_full"), with_sanctions=False)
    s.source("ofac", "ofac_sdn_csv", "sdn.csv", FULL_SDN.read_bytes())
    s.build()
    return s


@pytest.fixture(scope="module")
def raw_vessels() -> dict[int, list[str]]:
    return {int(r[0]): r for r in raw_records(FULL_SDN) if r[2].strip().lower() == "vessel"}


def test_every_ship_imo_in_the_full_list_is_designated(full_list, raw_vessels):
    expected = {(str(ent), imo) for ent, row in raw_vessels.items() for imo in imos_by_tokens(row[11])}
    designated = set(
        full_list.query("select entry_id, imo from int_sanctions_designations where list_name = ? and imo is not null", [OFAC])
        .iter_rows()
    )
    assert designated == expected
    assert len({imo for _, imo in designated}) == len({imo for _, imo in expected}) > 500
    published = set(
        full_list.query("select imo from sanctioned_vessels where list_contains(lists, ?) and imo is not null", [OFAC])["imo"]
    )
    assert published == {imo for _, imo in expected}


def test_numbers_written_with_two_spaces_after_imo_are_designated(full_list, raw_vessels):
    spaced = {
        match: ent
        for ent, row in raw_vessels.items()
        for match in re.findall(r"IMO {2,}([0-9]{7})", row[11])
    }
    assert spaced  # the 2022 file writes some numbers this way
    rows = full_list.query(
        "select imo, entry_ids from sanctioned_vessels where imo in (select unnest(?::varchar[]))", [list(spaced)]
    )
    assert {imo: ids for imo, ids in rows.iter_rows()} == {imo: [f"{OFAC}: {ent}"] for imo, ent in spaced.items()}


def test_every_vessel_row_is_designated_or_rejected_with_a_reason(full_list, raw_vessels):
    staged = full_list.query("select ent_num, reject_reason from stg_ofac_vessels")
    assert sorted(staged["ent_num"]) == sorted(raw_vessels)
    designated = {int(e) for e in full_list.query("select entry_id from int_sanctions_designations where list_name = ?", [OFAC])["entry_id"]}
    rejected = dict(
        full_list.query("select record_id, reason from rejects where table_name = 'stg_ofac_vessels'").iter_rows()
    )
    rejected = {int(ent): reason for ent, reason in rejected.items()}
    assert designated | set(rejected) == set(raw_vessels)
    assert not designated & set(rejected)
    assert all(rejected.values())
    # BONU 5 gives only a number that is no ship IMO, and nothing else to know the hull by
    assert rejected == {23424: "invalid ship IMO number 15411 (not 7 digits with a valid check digit)"}


def test_vessels_without_imo_are_published_by_mmsi_or_call_sign(full_list, raw_vessels):
    without_imo = {ent: row for ent, row in raw_vessels.items() if not imos_by_tokens(row[11])}
    by_mmsi = {
        m.group(1): ent for ent, row in without_imo.items() if (m := re.search(r"MMSI ([0-9]{9})\b", row[11]))
    }
    by_call_sign = {
        row[5].strip(): ent for ent, row in without_imo.items()
        if ent not in by_mmsi.values() and row[5].strip() not in ("", "-0-")
    }
    assert by_mmsi and by_call_sign
    published = full_list.query("select hull_key, imo, mmsi, call_sign, vessel_name, entry_ids from sanctioned_vessels where imo is null")
    assert {r["mmsi"]: r["entry_ids"] for r in published.iter_rows(named=True) if r["mmsi"]} == {
        mmsi: [f"{OFAC}: {ent}"] for mmsi, ent in by_mmsi.items()
    }
    assert {r["call_sign"]: r["hull_key"] for r in published.iter_rows(named=True) if r["mmsi"] is None} == {
        sign: f"call sign {sign}" for sign in by_call_sign
    }
    # screening by MMSI: one lookup finds the designated hull
    shellest = full_list.query("select vessel_name, call_sign from sanctioned_vessels where mmsi = '273385420'").rows()
    assert shellest == [("SHELLEST", "UBAO8")]


def test_company_numbers_of_entity_rows_key_no_ship(full_list):
    company = {
        number
        for r in raw_records(FULL_SDN)
        if r[2].strip().lower() != "vessel"
        for number in re.findall(r"Company Number IMO ([0-9]{7})", r[11])
    }
    assert company
    designated = set(full_list.query("select imo from int_sanctions_designations where imo is not null")["imo"])
    assert not company & designated


def test_vessels_mart_flags_every_designated_imo_and_no_other(full_list):
    counts = full_list.query(
        "select count(*) filter (where sanctioned is null) as unknown, count(*) filter (where sanctioned) as sanctioned,"
        " count(*) filter (where not sanctioned) as not_sanctioned from vessels"
    ).row(0, named=True)
    designated = full_list.query("select count(distinct imo) as n from int_sanctions_designations").item()
    assert counts["unknown"] == 0 and counts["sanctioned"] == designated


def test_a_list_of_twice_the_full_size_is_read_whole_and_quickly(tmp_path, raw_vessels):
    # the 2026 list is ~18k records: the full 2022 file twice over, the copy under other entry numbers
    records = [line for line in FULL_SDN.read_bytes().split(b"\r\n") if line.strip() and line.strip() != b"\x1a"]
    copies = [re.sub(rb"^([0-9]+),", lambda m: b"%d," % (int(m.group(1)) + 1_000_000), line) for line in records]
    body = b"\r\n".join(records + copies) + b"\r\n\x1a"
    s = Scenario(tmp_path, with_sanctions=False)
    s.source("ofac", "ofac_sdn_csv", "sdn.csv", body)
    started = time.monotonic()
    s.build()
    elapsed = time.monotonic() - started
    staged = s.query("select count(*) as n, count(*) filter (where reject_reason is null) as usable from stg_ofac_vessels").row(0)
    assert staged == (2 * len(raw_vessels), 2 * (len(raw_vessels) - 1))
    assert s.query("select count(*) from raw_ofac_sdn").item() == 2 * len(records)
    assert elapsed < 120, f"building on a {2 * len(records)}-record list took {elapsed:.0f} s"


# --- phrasings, one row each --------------------------------------------------------------


A, B, C, D, E, F, G, H, J, K = (ship_imo(p) for p in (
    "912345", "923456", "934567", "945678", "956789", "967890", "978901", "989012", "890123", "801234"))
COMPANY = ship_imo("512345")  # a company number that happens to pass the ship check


def sdn_line(ent: int, name: str, remarks: str, *, kind: str = "vessel", call_sign: str = "-0- ") -> str:
    sign = call_sign if call_sign == "-0- " else f'"{call_sign}"'
    quoted = remarks if remarks == "-0- " else f'"{remarks}"'
    return f'{ent},"{name}","{kind}","TESTPROG",-0- ,{sign},"Crude Oil Tanker",-0- ,-0- ,"Panama",-0- ,{quoted}'


PHRASINGS = {
    101: ("SPACED", f"Vessel Registration Identification IMO  {A}; Linked To: X."),
    102: ("NUMBER FIRST", f"Identification Number IMO {B}; Linked To: X."),
    103: ("COLON", f"IMO: {C}."),
    104: ("NO DOT", f"Former Vessel Flag Malta; IMO No. {D}; MMSI 123456789."),
    105: ("GLUED", f"Vessel Registration Identification IMO{E}."),
    106: ("SEVERAL", f"Vessel Registration Identification IMO {F}; alt. Vessel Registration Identification IMO {G}."),
    107: ("A LIST", f"IMO numbers {H}, {J}."),
    108: ("NO PREFIX", f"Vessel Registration Identification {K}."),
}


def phrasing_scenario(tmp_path: Path, comments: str | None = None) -> Scenario:
    lines = [sdn_line(ent, name, remarks) for ent, (name, remarks) in PHRASINGS.items()]
    lines += [
        sdn_line(201, "MMSI ONLY", "Vessel Registration Identification RS 150443 (Russia); MMSI 273000111."),
        sdn_line(202, "CALL SIGN ONLY", "-0- ", call_sign="ab1234"),
        sdn_line(203, "BAD CHECK", f"Vessel Registration Identification IMO {A[:6]}{(int(A[6]) + 1) % 10}."),
        sdn_line(204, "NOTHING", "Former Vessel Flag Panama."),
        sdn_line(205, "OWNED", f"Registered owner Company Number IMO {COMPANY}; MMSI 273000222."),
        sdn_line(206, "SHIPPING CO", f"Company Number IMO {COMPANY}; IMO {A}.", kind="-0- "),
        sdn_line(207, "PRIMORYE", "Vessel Registration Identification IMOTION 7654321; call it 9074729."),
        sdn_line(208, "SPLIT", "Secondary sanctions risk: section 1; Vessel Registration Identification IMO"),
    ]
    body = "".join(line + "\r\n" for line in lines) + "\x1a"
    s = Scenario(tmp_path, with_sanctions=False)
    settings = {}
    if comments is not None:
        s.files["comments.csv"] = comments.encode("utf-8")
        settings["comments_url"] = "comments.csv"
    s.source("ofac", "ofac_sdn_csv", "sdn.csv", body, **settings)
    s.build()
    return s


def test_every_phrasing_of_a_ship_imo_is_read(tmp_path):
    s = phrasing_scenario(tmp_path, comments=f'208," {ship_imo("777777")}; MMSI 273000333."\r\n\x1a')
    staged = {r["ent_num"]: r for r in s.query("select * from stg_ofac_vessels").iter_rows(named=True)}
    assert {ent: staged[ent]["imos"] for ent in PHRASINGS} == {
        101: [A], 102: [B], 103: [C], 104: [D], 105: [E], 106: [F, G], 107: [H, J], 108: [K],
    }
    assert staged[104]["mmsi"] == "123456789"
    assert staged[208]["imos"] == [ship_imo("777777")] and staged[208]["mmsi"] == "273000333"
    designated = set(s.query("select entry_id, hull_key from int_sanctions_designations").iter_rows())
    assert designated == {
        ("101", f"IMO {A}"), ("102", f"IMO {B}"), ("103", f"IMO {C}"), ("104", f"IMO {D}"), ("105", f"IMO {E}"),
        ("106", f"IMO {F}"), ("106", f"IMO {G}"), ("107", f"IMO {H}"), ("107", f"IMO {J}"), ("108", f"IMO {K}"),
        ("201", "MMSI 273000111"), ("202", "call sign AB1234"), ("205", "MMSI 273000222"),
        ("208", f"IMO {ship_imo('777777')}"),
    }


def test_company_numbers_and_lookalikes_are_no_ship_imo(tmp_path):
    s = phrasing_scenario(tmp_path)
    staged = {r["ent_num"]: r for r in s.query("select * from stg_ofac_vessels").iter_rows(named=True)}
    assert 206 not in staged  # an entity row: its numbers are never read
    assert staged[205]["imos"] == [] and staged[205]["mmsi"] == "273000222"
    assert staged[207]["imos"] == [] and staged[207]["imo_as_listed"] is None
    assert COMPANY not in set(s.query("select imo from int_sanctions_designations where imo is not null")["imo"])


def test_entries_without_any_identifier_are_rejects_with_their_reason(tmp_path):
    s = phrasing_scenario(tmp_path)
    reasons = dict(s.query("select record_id, reason from rejects where table_name = 'stg_ofac_vessels'").iter_rows())
    bad = f"{A[:6]}{(int(A[6]) + 1) % 10}"
    assert reasons == {
        "203": f"invalid ship IMO number {bad} (not 7 digits with a valid check digit)",
        "204": "OFAC vessel entry has no IMO number in Remarks, no MMSI and no call sign",
        "207": "OFAC vessel entry has no IMO number in Remarks, no MMSI and no call sign",
        # without its SDN_COMMENTS continuation the split entry says 'IMO' and stops
        "208": "OFAC vessel entry has no IMO number in Remarks, no MMSI and no call sign",
    }


def test_sanctioned_vessels_is_keyed_by_hull(tmp_path):
    s = phrasing_scenario(tmp_path)
    published = s.query("select hull_key, imo, mmsi, call_sign, vessel_name, lists from sanctioned_vessels")
    assert published["hull_key"].n_unique() == published.height == 13
    by_key = {r["hull_key"]: r for r in published.iter_rows(named=True)}
    assert by_key["MMSI 273000111"] | {"lists": None} == {
        "hull_key": "MMSI 273000111", "imo": None, "mmsi": "273000111", "call_sign": None,
        "vessel_name": "MMSI ONLY", "lists": None,
    }
    assert by_key["call sign AB1234"]["imo"] is None and by_key["call sign AB1234"]["vessel_name"] == "CALL SIGN ONLY"
    assert by_key[f"IMO {D}"]["mmsi"] == "123456789"
    assert all(r["lists"] == [OFAC] for r in by_key.values())
