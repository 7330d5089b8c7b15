"""Tests of the analysts' imagery sightings log parser on hand-made files in its CSV format."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.imagery import parse_imagery_csv
from tankerwatch.parsers.sink import parse_in_memory
from tests.textfiles import write_lines

TABLE = "raw_imagery_sightings"
HEADER = (
    "sighting_id,observed_at,source,image_id,latitude,longitude,vessel_name,imo,mmsi,"
    "laden_state,load_fraction,confidence,notes"
)
GOOD_LINES = [
    HEADER,
    "S-0001,2024-03-12T10:41:00+10:00,Planet,20240312_004100_24a3,42.7452,133.0712,Chon Ma San,8660313,,empty,,high,"
    "high freeboard at berth 3",
    "S-0002,2024-03-14T02:05:00Z,Sentinel-2,S2B_MSIL1C_20240314,42.7460,133.0705,CHON-MA-SAN,,445123000,"
    'laden,0.9,medium,'
    '"low freeboard, hull dark"',
    "S-0003,2024-03-20 09:00+09:00,Maxar,,41.7702,129.8199,  chonmasan ,,,unknown,,low,",
]




def test_good_file_parses_with_exact_values(tmp_path: Path) -> None:
    result = parse_in_memory(parse_imagery_csv, write_lines(tmp_path / "sightings.csv", GOOD_LINES))

    assert result.rejects == []
    frame = result.tables[TABLE]
    assert frame.schema == pl.Schema(RAW_TABLE_COLUMNS[TABLE])
    rows = frame.to_dicts()
    assert rows[0] == {
        "source_row": 2,
        "sighting_id": "S-0001",
        "observed_at": "2024-03-12T10:41:00+10:00",
        "source": "Planet",
        "image_id": "20240312_004100_24a3",
        "latitude": "42.7452",
        "longitude": "133.0712",
        "vessel_name": "Chon Ma San",
        "imo": "8660313",
        "mmsi": None,
        "laden_state": "empty",
        "load_fraction": None,
        "confidence": "high",
        "notes": "high freeboard at berth 3",
    }
    # Values stay as written: no timestamp normalisation or number typing here.
    assert rows[1]["observed_at"] == "2024-03-14T02:05:00Z"
    assert rows[1]["load_fraction"] == "0.9"
    assert rows[1]["notes"] == "low freeboard, hull dark"
    assert rows[1]["imo"] is None and rows[1]["mmsi"] == "445123000"
    assert rows[2]["vessel_name"] == "chonmasan"
    assert rows[2]["image_id"] is None and rows[2]["notes"] is None
    assert frame["source_row"].to_list() == [2, 3, 4]


def test_missing_column_raises_naming_it(tmp_path: Path) -> None:
    header = HEADER.replace("laden_state,", "")
    path = write_lines(tmp_path / "sightings.csv", [header])
    with pytest.raises(ParseError, match="laden_state") as excinfo:
        parse_in_memory(parse_imagery_csv, path)
    assert "sightings.csv" in str(excinfo.value)


def test_short_row_is_reject_other_rows_parse(tmp_path: Path) -> None:
    short = "S-0009,2024-03-15T00:00:00Z,Planet,img9,42.74,133.07"
    lines = [GOOD_LINES[0], GOOD_LINES[1], short, GOOD_LINES[2]]

    result = parse_in_memory(parse_imagery_csv, write_lines(tmp_path / "s.csv", lines))

    assert result.tables[TABLE]["sighting_id"].to_list() == ["S-0001", "S-0002"]
    assert result.tables[TABLE]["source_row"].to_list() == [2, 4]
    assert len(result.rejects) == 1
    reject = result.rejects[0]
    assert (reject.source_row, reject.raw) == (3, short)
    assert "6 fields" in reject.reason and "13" in reject.reason


def test_quoted_newline_keeps_physical_line_numbers(tmp_path: Path) -> None:
    multi = 'S-0004,2024-03-21T00:00:00Z,Planet,img4,42.7,133.0,KUM UN SAN 3,,,laden,0.8,low,"two tankers\nabreast"'
    lines = [HEADER, multi, GOOD_LINES[1], "S-0005,bad"]

    result = parse_in_memory(parse_imagery_csv, write_lines(tmp_path / "s.csv", lines))

    frame = result.tables[TABLE]
    assert frame["source_row"].to_list() == [2, 4]
    assert frame["notes"].to_list()[0] == "two tankers\nabreast"
    assert [(r.source_row, r.raw) for r in result.rejects] == [(5, "S-0005,bad")]


def test_bom_and_crlf(tmp_path: Path) -> None:
    result = parse_in_memory(parse_imagery_csv, write_lines(tmp_path / "s.csv", GOOD_LINES, newline="\r\n", bom=True))

    assert result.rejects == []
    frame = result.tables[TABLE]
    assert frame["sighting_id"].to_list() == ["S-0001", "S-0002", "S-0003"]
    assert frame["notes"].to_list() == ["high freeboard at berth 3", "low freeboard, hull dark", None]


def test_html_page_raises(tmp_path: Path) -> None:
    page = ["  <html>", "<body><h1>Service Unavailable</h1></body>", "</html>"]
    with pytest.raises(ParseError, match="HTML"):
        parse_in_memory(parse_imagery_csv, write_lines(tmp_path / "sightings.csv", page))


def test_empty_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "sightings.csv"
    path.write_bytes(b"")
    with pytest.raises(ParseError, match="empty"):
        parse_in_memory(parse_imagery_csv, path)
