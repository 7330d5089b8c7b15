"""Tests of the UK Sanctions List CSV parser on a hand-made file with the list's published header."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.sink import parse_in_memory
from tankerwatch.parsers.uk_sanctions import parse_uk_sanctions_csv

FIXTURE = Path(__file__).parent / "fixtures" / "uk" / "uk_sanctions_list_handmade.csv"
TABLE = "raw_uk_sanctions_ships"

# The 58 columns of the published file, in its order (see PROVENANCE.md).
HEADER = [
    "Last Updated", "Unique ID", "OFSI Group ID", "UN Reference Number", "Name 6", "Name 1", "Name 2",
    "Name 3", "Name 4", "Name 5", "Name type", "Alias strength", "Title", "Name non-latin script",
    "Non-latin script type", "Non-latin script language", "Regime Name", "Designation Type",
    "Designation source", "Sanctions Imposed", "Other Information", "UK Statement of Reasons",
    "Address Line 1", "Address Line 2", "Address Line 3", "Address Line 4", "Address Line 5",
    "Address Line 6", "Address Postal Code", "Address Country", "Phone number", "Website", "Email address",
    "Date Designated", "D.O.B", "Nationality(/ies)", "National Identifier number",
    "National Identifier additional information", "Passport number", "Passport additional information",
    "Position", "Gender", "Town of birth", "Country of birth", "Type of entity", "Subsidiaries",
    "Parent company", "Business registration number (s)", "IMO number", "Current owner/operator (s)",
    "Previous owner/operator (s)", "Current believed flag of ship", "Previous flags", "Type of ship",
    "Tonnage of ship", "Length of ship", "Year Built", "Hull identification number (HIN)",
]

DPRK = "The Democratic People's Republic of Korea (Sanctions) (EU Exit) Regulations 2019"
RUSSIA = "The Russia (Sanctions) (EU Exit) Regulations 2019"

CHON_MA_SAN = {
    "source_row": 3,
    "unique_id": "DPR0101",
    "name": "CHON MA SAN",
    "name_type": "Primary Name",
    "imo_number": "8660313",
    "type_of_ship": "Oil Tanker",
    "tonnage_of_ship": "2101",
    "current_flag": "North Korea",
    "previous_flags": None,
    "current_owner_operator": "Korea Achim Shipping Co",
    "regime_name": DPRK,
    "designation_source": "UN",
    "date_designated": "30/03/2018",
    "sanctions_imposed": "Asset freeze|Shipping sanctions",
    "report_date": "02-Mar-2026",
}


def parse(path: Path):
    return parse_in_memory(parse_uk_sanctions_csv, path, tables=(TABLE,))


def fixture_records() -> list[list[str]]:
    """The fixture's records after its 'Report Date' line: the header, then the data rows."""
    with FIXTURE.open(newline="", encoding="utf-8") as handle:
        next(handle)
        return list(csv.reader(handle))


def write_csv(path: Path, records: list[list[str]], report_line: str | None = "Report Date: 02-Mar-2026",
              newline: str = "\n", bom: bool = False) -> Path:
    out = io.StringIO()
    if report_line is not None:
        out.write(report_line + newline)
    csv.writer(out, lineterminator=newline).writerows(records)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8"))
    return path


def ship_row(**values: str) -> list[str]:
    row = {"Designation Type": "Ship", "Unique ID": "DPR0200", "Name type": "Primary Name", **values}
    return [row.get(column, "") for column in HEADER]


# --- the fixture --------------------------------------------------------------------------


def test_fixture_has_the_published_header():
    assert fixture_records()[0] == HEADER


def test_ship_rows_one_per_name_with_exact_values():
    result = parse(FIXTURE)
    assert result.rejects == []
    table = result.tables[TABLE]
    assert table.schema == pl.Schema(RAW_TABLE_COLUMNS[TABLE])
    rows = table.to_dicts()
    assert rows[0] == CHON_MA_SAN
    assert rows[1] == {**CHON_MA_SAN, "source_row": 4, "name": "CHONMASAN", "name_type": "Alias"}
    # The statement of reasons of RUS9901 holds a line break, so its rows start on lines 6 and 8.
    northern_star = {
        "unique_id": "RUS9901",
        "imo_number": "IMO9305128",
        "type_of_ship": "Crude Oil Tanker",
        "tonnage_of_ship": "58,000",
        "current_flag": "Gabon",
        "previous_flags": "(1) Panama (2) Liberia",
        "current_owner_operator": "Star Ship Management Co., Ltd",
        "regime_name": RUSSIA,
        "designation_source": "UK",
        "date_designated": "31/07/2024",
        "sanctions_imposed": "Shipping sanctions: (see 'Other information')",
        "report_date": "02-Mar-2026",
    }
    assert rows[2] == {"source_row": 6, "name": "NORTHERN STAR 7", "name_type": "Primary Name", **northern_star}
    assert rows[3] == {"source_row": 8, "name": "SEVERNAYA ZVEZDA 7", "name_type": "Alias", **northern_star}
    assert len(rows) == 4


def test_two_ship_designations_each_with_a_primary_name_and_an_alias():
    table = parse(FIXTURE).tables[TABLE]
    grouped = table.group_by("unique_id", maintain_order=True).agg("name_type")
    assert grouped.rows() == [("DPR0101", ["Primary Name", "Alias"]), ("RUS9901", ["Primary Name", "Alias"])]


def test_other_designation_types_are_counted_not_kept():
    assert parse(FIXTURE).stats == {"designation_type:Individual": 1, "designation_type:Entity": 1}


# --- header matching ----------------------------------------------------------------------


def test_columns_are_matched_by_name_not_position(tmp_path: Path):
    header, *rows = fixture_records()
    order = list(reversed(range(len(header))))
    # Case and whitespace of the names do not matter either.
    renamed = ["  " + header[i].upper().replace(" ", "  ") + " " for i in order]
    shuffled = [renamed] + [[row[i] for i in order] for row in rows]
    result = parse(write_csv(tmp_path / "uk.csv", shuffled))
    assert result.rejects == []
    assert result.tables[TABLE].equals(parse(FIXTURE).tables[TABLE])


@pytest.mark.parametrize("column", ["IMO number", "Name 6", "Designation Type", "Current owner/operator (s)"])
def test_missing_required_column_raises_naming_it(tmp_path: Path, column: str):
    header, *rows = fixture_records()
    keep = [i for i, name in enumerate(header) if name != column]
    path = write_csv(tmp_path / "uk.csv", [[record[i] for i in keep] for record in [header, *rows]])
    with pytest.raises(ParseError) as error:
        parse(path)
    assert repr(column) in str(error.value)
    assert str(path) in str(error.value)


def test_name_parts_join_in_the_lists_order(tmp_path: Path):
    row = ship_row(**{"Name 6": "KUM UN SAN", "Name 1": " NO ", "Name 3": "3", "Name 5": "  "})
    table = parse(write_csv(tmp_path / "uk.csv", [HEADER, row])).tables[TABLE]
    assert table["name"].to_list() == ["KUM UN SAN NO 3"]


def test_ship_row_without_any_name_keeps_a_null_name(tmp_path: Path):
    table = parse(write_csv(tmp_path / "uk.csv", [HEADER, ship_row()])).tables[TABLE]
    assert table.select("source_row", "unique_id", "name").rows() == [(3, "DPR0200", None)]


# --- faulty rows and files ----------------------------------------------------------------


def test_short_row_and_row_without_designation_type_are_rejects(tmp_path: Path):
    good = ship_row(**{"Name 6": "SAEBYOL"})
    short = good[:20]
    untyped = ship_row(**{"Name 6": "MYSTERY", "Designation Type": " "})
    path = write_csv(tmp_path / "uk.csv", [HEADER, good, short, untyped, good])
    result = parse(path)
    assert result.tables[TABLE]["source_row"].to_list() == [3, 6]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [(r.source_row, r.raw) for r in result.rejects] == [(4, lines[3]), (5, lines[4])]
    assert "20 fields" in result.rejects[0].reason and "58" in result.rejects[0].reason
    assert result.rejects[1].reason == "Line 5 has no Designation Type."


def test_file_without_report_date_line(tmp_path: Path):
    path = write_csv(tmp_path / "uk.csv", [HEADER, ship_row(**{"Name 6": "SAEBYOL"})], report_line=None)
    table = parse(path).tables[TABLE]
    assert table.select("source_row", "name", "report_date").rows() == [(2, "SAEBYOL", None)]


def test_bom_and_crlf(tmp_path: Path):
    header, *rows = fixture_records()
    path = write_csv(tmp_path / "uk.csv", [header, *rows], newline="\r\n", bom=True)
    result = parse(path)
    table = result.tables[TABLE]
    assert table.row(0, named=True) == CHON_MA_SAN
    assert table["source_row"].to_list() == [3, 4, 6, 8]
    assert not any("\r" in (v or "") for col in table.select(pl.col(pl.String)).iter_columns() for v in col)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"Report Date: 02-Mar-2026\n", "empty"),
        (b"<!DOCTYPE html>\n<html><body>Service Unavailable</body></html>\n", "HTML"),
        (b"ent_num,SDN_Name,SDN_Type\n36,AEROCARIBBEAN AIRLINES,-0-\n", "not the UK Sanctions List CSV"),
    ],
)
def test_file_that_is_not_the_list_raises(tmp_path: Path, content: bytes, match: str):
    path = tmp_path / "UK-Sanctions-List.csv"
    path.write_bytes(content)
    with pytest.raises(ParseError, match=match):
        parse(path)
