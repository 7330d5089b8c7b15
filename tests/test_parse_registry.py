"""Tests of the vessel registry CSV parser on hand-made files in the registry_csv format."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.registry import parse_registry_csv
from tankerwatch.parsers.sink import parse_in_memory
from tests.textfiles import write_lines

TABLE = "raw_registry_vessels"
HEADER = (
    "imo,name,former_names,mmsi,call_sign,flag,vessel_type,dwt,gross_tonnage,"
    "cargo_capacity_m3,summer_draught_m,build_year,owner,updated_at"
)
# Three ships as a registry would list them: a quoted owner with a comma, a
# former-names list, cells padded with spaces, and empty cells.
GOOD_LINES = [
    HEADER,
    '8916293,SIN PHYONG 9,CHONG RIM 2;CHONG RIM NO 2,445280000,HMYB,KP,oil products tanker,3400,2149,3900,5.6,1990,'
    '"Korea Chongrim Shipping Co., Ltd",2024-05-01T00:00:00Z',
    " 8604917 , YU JONG 2 ,,,, Democratic People's Republic of Korea ,tanker,,,,,,,2024-05-01",
    "9066978,PAEK MA,,,,KP,tanker,,,,,,,",
]




def test_good_file_parses_with_exact_values(tmp_path: Path) -> None:
    result = parse_in_memory(parse_registry_csv, write_lines(tmp_path / "registry.csv", GOOD_LINES))

    assert result.rejects == []
    frame = result.tables[TABLE]
    assert list(result.tables) == [TABLE]
    assert frame.schema == pl.Schema(RAW_TABLE_COLUMNS[TABLE])
    rows = frame.to_dicts()
    assert rows[0] == {
        "source_row": 2,
        "imo": "8916293",
        "name": "SIN PHYONG 9",
        "former_names": "CHONG RIM 2;CHONG RIM NO 2",
        "mmsi": "445280000",
        "call_sign": "HMYB",
        "flag": "KP",
        "vessel_type": "oil products tanker",
        "dwt": "3400",
        "gross_tonnage": "2149",
        "cargo_capacity_m3": "3900",
        "summer_draught_m": "5.6",
        "build_year": "1990",
        "owner": "Korea Chongrim Shipping Co., Ltd",
        "updated_at": "2024-05-01T00:00:00Z",
    }
    # Cells are stripped, empty cells are null, and nothing is typed.
    assert rows[1] == {
        "source_row": 3,
        "imo": "8604917",
        "name": "YU JONG 2",
        "former_names": None,
        "mmsi": None,
        "call_sign": None,
        "flag": "Democratic People's Republic of Korea",
        "vessel_type": "tanker",
        "dwt": None,
        "gross_tonnage": None,
        "cargo_capacity_m3": None,
        "summer_draught_m": None,
        "build_year": None,
        "owner": None,
        "updated_at": "2024-05-01",
    }
    assert rows[2]["source_row"] == 4
    assert rows[2]["imo"] == "9066978"
    assert rows[2]["updated_at"] is None


def test_columns_in_any_order_and_extra_columns_ignored(tmp_path: Path) -> None:
    columns = HEADER.split(",")
    shuffled = list(reversed(columns)) + ["remarks"]
    values = dict(zip(columns, GOOD_LINES[3].split(",")))
    values["remarks"] = "not in the contract"
    line = ",".join(values[c] for c in shuffled)

    result = parse_in_memory(parse_registry_csv, write_lines(tmp_path / "r.csv", [",".join(shuffled), line]))

    assert result.rejects == []
    row = result.tables[TABLE].row(0, named=True)
    assert row["imo"] == "9066978"
    assert row["name"] == "PAEK MA"
    assert row["flag"] == "KP"
    assert "remarks" not in result.tables[TABLE].columns


def test_missing_column_raises_naming_it_and_the_file(tmp_path: Path) -> None:
    header = HEADER.replace(",cargo_capacity_m3", "").replace(",owner", "")
    path = write_lines(tmp_path / "no_capacity.csv", [header, "8916293,SIN PHYONG 9,,,,KP,tanker,3400,2149,5.6,1990,"])

    with pytest.raises(ParseError) as excinfo:
        parse_in_memory(parse_registry_csv, path)

    message = str(excinfo.value)
    assert "cargo_capacity_m3" in message
    assert "owner" in message
    assert "no_capacity.csv" in message


def test_short_and_long_rows_are_rejects_with_line_numbers(tmp_path: Path) -> None:
    short = "8122347,NAM SAN 8,,,,KP,tanker"
    long = GOOD_LINES[3] + ",surplus"
    lines = [HEADER, GOOD_LINES[1], short, GOOD_LINES[3], long]

    result = parse_in_memory(parse_registry_csv, write_lines(tmp_path / "r.csv", lines))

    frame = result.tables[TABLE]
    assert frame["imo"].to_list() == ["8916293", "9066978"]
    assert frame["source_row"].to_list() == [2, 4]
    assert [(r.source_row, r.raw) for r in result.rejects] == [(3, short), (5, long)]
    assert "7 fields" in result.rejects[0].reason and "14" in result.rejects[0].reason
    assert "15 fields" in result.rejects[1].reason


def test_bom_and_crlf(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.csv", GOOD_LINES, newline="\r\n", bom=True)

    result = parse_in_memory(parse_registry_csv, path)

    assert result.rejects == []
    frame = result.tables[TABLE]
    assert frame["imo"].to_list() == ["8916293", "8604917", "9066978"]
    assert frame["updated_at"].to_list()[:2] == ["2024-05-01T00:00:00Z", "2024-05-01"]
    assert not any("\r" in (v or "") for col in frame.select(pl.col(pl.String)).iter_columns() for v in col)


def test_reject_line_numbers_count_blank_lines_and_crlf(tmp_path: Path) -> None:
    lines = [HEADER, "", GOOD_LINES[1], "8122347,NAM SAN 8"]
    result = parse_in_memory(parse_registry_csv, write_lines(tmp_path / "r.csv", lines, newline="\r\n"))

    assert result.tables[TABLE]["source_row"].to_list() == [3]
    assert [(r.source_row, r.raw) for r in result.rejects] == [(4, "8122347,NAM SAN 8")]


def test_html_page_raises(tmp_path: Path) -> None:
    page = ["<!DOCTYPE html>", "<html><head><title>404 Not Found</title></head>", "<body>Not Found</body></html>"]
    with pytest.raises(ParseError, match="HTML"):
        parse_in_memory(parse_registry_csv, write_lines(tmp_path / "registry.csv", page))


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n"])
def test_empty_file_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "registry.csv"
    path.write_bytes(content)
    with pytest.raises(ParseError, match="empty"):
        parse_in_memory(parse_registry_csv, path)


def test_header_only_gives_empty_table(tmp_path: Path) -> None:
    # A table with no rows only appears when asked for by name.
    result = parse_in_memory(parse_registry_csv, write_lines(tmp_path / "r.csv", [HEADER]), tables=(TABLE,))
    assert result.rejects == []
    assert result.tables[TABLE].height == 0
    assert result.tables[TABLE].schema == pl.Schema(RAW_TABLE_COLUMNS[TABLE])


def test_not_utf8_raises_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    cp1252_line = "9999999,SEÑOR,,,,PA,tanker,,,,,,,\n".encode("cp1252")
    path.write_bytes((HEADER + "\n" + GOOD_LINES[3] + "\n").encode() + cp1252_line)
    with pytest.raises(ParseError, match="line 3"):
        parse_in_memory(parse_registry_csv, path)
