"""Tests of the Danish Maritime Authority AIS CSV parser: real rows, the older 22-column layout, faulty rows."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.ais_dma import parse_ais_dma_csv
from tankerwatch.parsers.sink import parse_in_memory
from tests.textfiles import write_lines

FIXTURE = Path(__file__).parent / "fixtures" / "ais" / "aisdk-2023-03-18_head10.csv"
TABLE = "raw_ais_dma"
ANTENNA = ("a", "b", "c", "d")


def parse(path: Path):
    return parse_in_memory(parse_ais_dma_csv, path, tables=(TABLE,))


def fixture_lines() -> list[str]:
    return FIXTURE.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def dma() -> pl.DataFrame:
    result = parse(FIXTURE)
    assert result.rejects == []
    return result.tables[TABLE]


def test_header_and_nine_rows(dma: pl.DataFrame):
    # The reference calls it "10 rows": the header line and nine AIS rows.
    assert fixture_lines()[0].startswith("# Timestamp,Type of mobile,MMSI,")
    assert dma.schema == pl.Schema(RAW_TABLE_COLUMNS[TABLE])
    assert dma["source_row"].to_list() == list(range(2, 11))
    assert dma["mmsi"].to_list() == [
        "2190064", "352002266", "211551940", "219030190", "255619000",
        "219554000", "219472000", "219007401", "241580000",
    ]


def test_static_only_row_keeps_latitude_91_as_written(dma: pl.DataFrame):
    assert dma.filter(pl.col("source_row") == 8).row(0, named=True) == {
        "source_row": 8,
        "timestamp": "18/03/2023 00:00:00",
        "type_of_mobile": "Class A",
        "mmsi": "219472000",
        "latitude": "91",
        "longitude": "0",
        "navigational_status": "Unknown value",
        "rot": "",
        "sog": "",
        "cog": "",
        "heading": "",
        "imo": "9686429",
        "callsign": "OWMI2",
        "name": "GUARDVESSEL ADVANCER",
        "ship_type": "Other",
        "cargo_type": "",
        "width": "8",
        "length": "23",
        "position_fixing_device": "GPS",
        "draught": "1.9",
        "destination": "GUARD VESSEL FEMARN",
        "eta": "11/03/2023 21:00:00",
        "data_source_type": "AIS",
        "a": "16",
        "b": "7",
        "c": "5",
        "d": "3",
    }


def test_empty_and_unknown_cells_are_kept_as_written(dma: pl.DataFrame):
    base_station = dma.row(0, named=True)
    assert (base_station["type_of_mobile"], base_station["imo"], base_station["ship_type"]) == (
        "Base Station", "Unknown", "Undefined",
    )
    assert (base_station["rot"], base_station["callsign"], base_station["a"]) == ("", "", "")
    moving = dma.row(1, named=True)
    assert (moving["rot"], moving["sog"], moving["cog"], moving["heading"]) == ("0.7", "12.5", "241.8", "241")
    assert dma.select(pl.all().null_count()).row(0) == (0,) * dma.width


def test_older_22_column_file_leaves_antenna_columns_null(tmp_path: Path, dma: pl.DataFrame):
    lines = [",".join(line.split(",")[:22]) for line in fixture_lines()]
    result = parse(write_lines(tmp_path / "aisdk_old.csv", lines))
    assert result.rejects == []
    old = result.tables[TABLE]
    assert old.schema == pl.Schema(RAW_TABLE_COLUMNS[TABLE])
    assert old.select(pl.col(ANTENNA).null_count()).row(0) == (9, 9, 9, 9)
    assert old.drop(ANTENNA).equals(dma.drop(ANTENNA))


def test_columns_matched_by_name(tmp_path: Path, dma: pl.DataFrame):
    split = [line.split(",") for line in fixture_lines()]
    order = list(reversed(range(len(split[0]))))
    # Without the '#' and in another case the header still names the same columns.
    split[0][0] = "timestamp"
    lines = [",".join(cells[i].upper() if n == 0 else cells[i] for i in order) for n, cells in enumerate(split)]
    result = parse(write_lines(tmp_path / "shuffled.csv", lines))
    assert result.rejects == []
    assert result.tables[TABLE].equals(dma)


def test_short_row_is_rejected_and_the_rest_parse(tmp_path: Path):
    lines = fixture_lines()
    short = "18/03/2023 00:00:01,Class A,219000001,55.1,"
    path = write_lines(tmp_path / "aisdk.csv", lines[:3] + [short] + lines[3:], newline="\r\n")
    result = parse(path)
    assert result.tables[TABLE]["source_row"].to_list() == [2, 3] + list(range(5, 12))
    [reject] = result.rejects
    assert (reject.source_row, reject.raw) == (4, short)
    assert reject.reason == (
        "Line 4 has 5 fields but the header has 26, so its values cannot be assigned to columns."
    )


def test_missing_required_column_raises_naming_it(tmp_path: Path):
    split = [line.split(",") for line in fixture_lines()]
    drop = split[0].index("Draught")
    lines = [",".join(c for i, c in enumerate(cells) if i != drop) for cells in split]
    with pytest.raises(ParseError, match="'Draught'"):
        parse(write_lines(tmp_path / "aisdk.csv", lines))


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"<html><body>404 Not Found</body></html>\n", "HTML"),
        (b"mmsi,lat,lon\n219472000,55.1,11.2\n", "not a DMA AIS CSV"),
    ],
)
def test_file_that_is_not_dma_raises(tmp_path: Path, content: bytes, match: str):
    path = tmp_path / "aisdk.csv"
    path.write_bytes(content)
    with pytest.raises(ParseError, match=match):
        parse(path)
