"""Tests of the OpenSanctions FtM parser: real export lines, hand-made Vessel and Sanction entities, deltas."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.opensanctions import parse_opensanctions_ftm
from tankerwatch.parsers.sink import TableSink, parse_in_memory

FIXTURES = Path(__file__).parent / "fixtures" / "opensanctions"
EU_FSF = FIXTURES / "entities_ftm_sample_eu_fsf_2024.json"
DELTA = FIXTURES / "entities_delta_sample_2024.json"
INDEX = FIXTURES / "index_excerpt_20240613.json"

VESSELS = "raw_opensanctions_vessels"
SANCTIONS = "raw_opensanctions_sanctions"


def parse(path: Path):
    return parse_in_memory(parse_opensanctions_ftm, path, tables=(VESSELS, SANCTIONS))


def ftm_line(data: dict) -> str:
    # OpenSanctions writes each entity without spaces.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


# A Vessel built from the FtM property names in FORMATS-sanctions.md: every property the
# contract maps, plus some it does not (country, registrationNumber, programId, notes).
VESSEL = {
    "id": "tw-vessel-chon-ma-san",
    "caption": "CHON MA SAN",
    "schema": "Vessel",
    "properties": {
        "name": ["CHON MA SAN"],
        "alias": ["CHONMASAN"],
        "weakAlias": ["CMS"],
        "previousName": ["WISDOM STAR", "SOLAR STAR"],
        "imoNumber": ["IMO8660313"],
        "mmsi": ["445123000"],
        "callSign": ["HMZE"],
        "flag": ["kp"],
        "pastFlags": ["mn", "tg"],
        "type": ["Oil Products Tanker"],
        "deadweightTonnage": ["3150"],
        "grossRegisteredTonnage": ["2101"],
        "tonnage": ["2300"],
        "buildDate": ["1983"],
        "topics": ["sanction"],
        "country": ["kp"],
        "registrationNumber": ["R-0001"],
        "programId": ["UN-SCDPRK"],
        "notes": ["Hand-made test entity."],
    },
    "referents": ["ofac-23729"],
    "datasets": ["us_ofac_sdn", "un_sc_sanctions"],
    "first_seen": "2018-02-23T00:00:00",
    "last_seen": "2024-06-13T12:01:02",
    "last_change": "2023-07-14T20:00:27",
    "target": True,
}
SPARSE_VESSEL = {
    "id": "tw-vessel-yu-jong-2",
    "schema": "Vessel",
    "properties": {"name": ["YU JONG 2"], "imoNumber": ["IMO8604917"]},
}
SANCTION = {
    "id": "tw-sanction-un-chon-ma-san",
    "caption": "UN 1718",
    "schema": "Sanction",
    "properties": {
        "entity": ["tw-vessel-chon-ma-san"],
        "authority": ["United Nations Security Council"],
        "program": ["UN 1718 DPRK sanctions"],
        "programId": ["UN-SCDPRK"],
        "startDate": ["2018-03-30"],
        "listingDate": ["2018-03-30"],
        "endDate": [],
        "provisions": ["Asset freeze"],
        "unscId": ["KPe.061"],
    },
    "datasets": ["un_sc_sanctions"],
    "first_seen": "2018-03-30T00:00:00",
    "last_seen": "2024-06-13T12:01:02",
    "target": False,
}
PERSON = {"id": "tw-person-1", "schema": "Person", "properties": {"name": ["KIM"]}, "datasets": ["x"]}

EXPECTED_VESSEL = {
    "entity_id": "tw-vessel-chon-ma-san",
    "caption": "CHON MA SAN",
    "names": ["CHON MA SAN"],
    "aliases": ["CHONMASAN", "CMS"],
    "previous_names": ["WISDOM STAR", "SOLAR STAR"],
    "imo_numbers": ["IMO8660313"],
    "mmsis": ["445123000"],
    "call_signs": ["HMZE"],
    "flags": ["kp"],
    "past_flags": ["mn", "tg"],
    "vessel_types": ["Oil Products Tanker"],
    "deadweight_tonnage": ["3150"],
    "gross_tonnage": ["2101", "2300"],
    "build_dates": ["1983"],
    "topics": ["sanction"],
    "datasets": ["us_ofac_sdn", "un_sc_sanctions"],
    "first_seen": "2018-02-23T00:00:00",
    "last_seen": "2024-06-13T12:01:02",
}
EXPECTED_SANCTION = {
    "entity_id": "tw-sanction-un-chon-ma-san",
    "sanctioned_ids": ["tw-vessel-chon-ma-san"],
    "authorities": ["United Nations Security Council"],
    "programs": ["UN 1718 DPRK sanctions", "UN-SCDPRK"],
    "start_dates": ["2018-03-30"],
    "listing_dates": ["2018-03-30"],
    "end_dates": [],
    "datasets": ["un_sc_sanctions"],
}


# --- the real export lines ------------------------------------------------------------------


def test_real_eu_fsf_lines_hold_no_vessel_or_sanction_and_are_counted_per_schema():
    # The reference lines are Organization, Person, Person, Address: no Vessel among them.
    assert len(EU_FSF.read_bytes().splitlines()) == 4
    result = parse(EU_FSF)
    assert result.rejects == []
    for name in (VESSELS, SANCTIONS):
        assert result.tables[name].height == 0
        assert result.tables[name].schema == pl.Schema(RAW_TABLE_COLUMNS[name])
    assert result.stats == {"schema:Organization": 1, "schema:Person": 2, "schema:Address": 1}


def test_real_delta_line_is_an_add_of_a_person():
    result = parse(DELTA)
    assert result.rejects == []
    assert result.stats == {"op:ADD": 1, "schema:Person": 1}
    assert result.tables[VESSELS].height == 0


def test_pretty_printed_index_json_is_not_an_export():
    with pytest.raises(ParseError) as error:
        parse(INDEX)
    message = str(error.value)
    assert str(INDEX) in message
    assert "not an OpenSanctions FollowTheMoney export" in message
    assert "line 1" in message and "index.json" in message


# --- hand-made Vessel and Sanction entities --------------------------------------------------


@pytest.fixture()
def hand_file(tmp_path: Path) -> Path:
    return write(
        tmp_path / "entities.ftm.json",
        [
            ftm_line(VESSEL),  # 1
            ftm_line(PERSON),  # 2
            "",  # 3: blank lines are not records
            ftm_line(SANCTION),  # 4
            '{"id":"broken","schema":"Vessel","properties":{"name":["CUT OFF',  # 5: truncated JSON
            ftm_line(SPARSE_VESSEL),  # 6
            '["not", "an", "object"]',  # 7
            ftm_line({"id": "no-schema", "properties": {}}),  # 8
            ftm_line({**SPARSE_VESSEL, "id": "bad-prop", "properties": {"name": "NOT A LIST"}}),  # 9
        ],
        newline="\r\n",
    )


def test_vessel_properties_map_to_the_contract_as_lists(hand_file: Path):
    result = parse(hand_file)
    vessels = result.tables[VESSELS]
    assert vessels.schema == pl.Schema(RAW_TABLE_COLUMNS[VESSELS])
    rows = vessels.to_dicts()
    assert [r["source_row"] for r in rows] == [1, 6]
    assert rows[0] == {"source_row": 1, **EXPECTED_VESSEL}
    # Absent properties are empty lists, absent top-level strings are null.
    assert rows[1] == {
        "source_row": 6,
        "entity_id": "tw-vessel-yu-jong-2",
        "caption": None,
        "names": ["YU JONG 2"],
        "aliases": [],
        "previous_names": [],
        "imo_numbers": ["IMO8604917"],
        "mmsis": [],
        "call_signs": [],
        "flags": [],
        "past_flags": [],
        "vessel_types": [],
        "deadweight_tonnage": [],
        "gross_tonnage": [],
        "build_dates": [],
        "topics": [],
        "datasets": [],
        "first_seen": None,
        "last_seen": None,
    }


def test_sanction_properties_map_to_the_contract_as_lists(hand_file: Path):
    sanctions = parse(hand_file).tables[SANCTIONS]
    assert sanctions.schema == pl.Schema(RAW_TABLE_COLUMNS[SANCTIONS])
    assert sanctions.to_dicts() == [{"source_row": 4, **EXPECTED_SANCTION}]


def test_other_schemas_are_counted_and_bad_lines_rejected_with_their_line(hand_file: Path):
    result = parse(hand_file)
    assert result.stats == {"schema:Person": 1}
    lines = hand_file.read_bytes().decode("utf-8").split("\r\n")
    by_row = {r.source_row: r for r in result.rejects}
    assert sorted(by_row) == [5, 7, 8, 9]
    for row, reject in by_row.items():
        assert reject.raw == lines[row - 1]
    assert by_row[5].reason.startswith("Not valid JSON")
    assert by_row[7].reason == "Not a JSON object but a JSON list."
    assert by_row[8].reason == "Not an FtM entity: no schema."
    assert by_row[9].reason == "Not an FtM entity: property 'name' is not a list of strings."


def test_delta_file(tmp_path: Path):
    path = write(
        tmp_path / "delta.json",
        [
            ftm_line({"op": "ADD", "entity": VESSEL}),
            ftm_line({"op": "MOD", "entity": SANCTION}),
            ftm_line({"op": "DEL", "entity": {"id": "tw-vessel-gone"}}),
            ftm_line({"op": "MOD", "entity": PERSON}),
            ftm_line({"op": "UPSERT", "entity": SPARSE_VESSEL}),
            ftm_line({"op": "ADD"}),
            ftm_line({"op": "DEL", "entity": {"id": "tw-sanction-gone"}}),
        ],
    )
    result = parse(path)
    assert result.tables[VESSELS].to_dicts() == [{"source_row": 1, **EXPECTED_VESSEL}]
    assert result.tables[SANCTIONS].to_dicts() == [{"source_row": 2, **EXPECTED_SANCTION}]
    assert result.stats == {"op:ADD": 1, "op:MOD": 2, "op:DEL": 2, "schema:Person": 1}
    assert [(r.source_row, r.reason) for r in result.rejects] == [
        (5, "Delta line with op 'UPSERT'; expected ADD, MOD or DEL."),
        (6, "Delta ADD line without an entity object."),
    ]


def test_batches_spilled_to_parquet_give_the_same_rows(tmp_path: Path):
    lines = [ftm_line({**VESSEL, "id": f"v{i}"}) for i in range(5)] + [ftm_line(SANCTION)]
    path = write(tmp_path / "entities.ftm.json", lines)
    sink = TableSink(spill_dir=tmp_path / "parts", batch_rows=2)
    parse_opensanctions_ftm(path, sink)
    sink.close()
    assert len(sink.parts(VESSELS)) == 3
    assert sink.rows(VESSELS) == 5 and sink.rows(SANCTIONS) == 1
    assert sink.frame(VESSELS).equals(parse(path).tables[VESSELS])
    assert sink.frame(VESSELS)["entity_id"].to_list() == ["v0", "v1", "v2", "v3", "v4"]


def test_bom_before_the_first_line(tmp_path: Path):
    path = tmp_path / "entities.ftm.json"
    path.write_bytes(b"\xef\xbb\xbf" + ftm_line(SPARSE_VESSEL).encode() + b"\n")
    result = parse(path)
    assert result.rejects == []
    assert result.tables[VESSELS]["entity_id"].to_list() == ["tw-vessel-yu-jong-2"]


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n", "HTML"),
        (b'{"datasets": []}\n', "no id, schema, properties"),
    ],
)
def test_file_that_is_not_an_export_raises(tmp_path: Path, content: bytes, match: str):
    path = tmp_path / "entities.ftm.json"
    path.write_bytes(content)
    with pytest.raises(ParseError, match=match):
        parse(path)
