"""Parser for the UK FCDO Sanctions List CSV (kind ``uk_sanctions_csv``): the name rows of ship designations."""

from __future__ import annotations

from pathlib import Path

from tankerwatch.errors import ParseError
from tankerwatch.parsers.csv_table import CsvRecords, field_count_reason, looks_like_html
from tankerwatch.parsers.sink import TableSink

TABLE = "raw_uk_sanctions_ships"

_REPORT_DATE = "report date:"
_DESIGNATION_TYPE = "Designation Type"
_SHIP = "ship"

# Contract column -> the list's column. Headers are matched by name, case-insensitively
# and with whitespace runs collapsed, so a reordered or re-spaced header still parses.
_COLUMNS = {
    "unique_id": "Unique ID",
    "name_type": "Name type",
    "imo_number": "IMO number",
    "type_of_ship": "Type of ship",
    "tonnage_of_ship": "Tonnage of ship",
    "current_flag": "Current believed flag of ship",
    "previous_flags": "Previous flags",
    "current_owner_operator": "Current owner/operator (s)",
    "regime_name": "Regime Name",
    "designation_source": "Designation source",
    "date_designated": "Date Designated",
    "sanctions_imposed": "Sanctions Imposed",
}
# The name parts in the order the list writes them: its header puts Name 6 (the family
# name of a person, the whole name of a ship or entity) before Name 1 .. Name 5.
_NAME_PARTS = ("Name 6", "Name 1", "Name 2", "Name 3", "Name 4", "Name 5")
_REQUIRED = (*_COLUMNS.values(), *_NAME_PARTS, _DESIGNATION_TYPE)


def parse_uk_sanctions_csv(path: Path, sink: TableSink) -> None:
    """Keep the rows whose Designation Type is Ship, one per name; count the others per type.

    The first line ``Report Date: ...`` gives ``report_date`` on every row (null
    if a file lacks that line); the header follows. Cells are stripped and an
    empty cell is null. ``name`` joins the non-empty cells of Name 6, Name 1 ..
    Name 5 with single spaces. Other designation types are counted as
    ``designation_type:<type>``; a row with no Designation Type is a reject.
    """
    path = Path(path)
    rows = sink.buffer(TABLE)
    report_date: str | None = None
    header: list[str] | None = None
    positions: dict[str, int] = {}
    name_positions: list[int] = []
    type_position = 0
    preamble = True  # only the first record may be the 'Report Date:' line

    records = CsvRecords(path)
    for first_line, raw, record in records:
        if header is None:
            if looks_like_html(raw):
                raise ParseError(f"{path}: looks like an HTML page, not the UK Sanctions List CSV")
            first_cell = record[0].strip()
            if preamble and first_cell.lower().startswith(_REPORT_DATE):
                preamble = False
                report_date = first_cell[len(_REPORT_DATE):].strip() or None
                continue
            preamble = False
            header = [_normalise(cell) for cell in record]
            found = _header_positions(path, header)
            positions = {column: found[name] for column, name in _COLUMNS.items()}
            name_positions = [found[name] for name in _NAME_PARTS]
            type_position = found[_DESIGNATION_TYPE]
            continue

        sink.record()
        if len(record) != len(header):
            sink.reject(first_line, raw, field_count_reason(first_line, len(record), len(header)))
            continue
        designation_type = record[type_position].strip()
        if designation_type.lower() != _SHIP:
            if not designation_type:
                sink.reject(first_line, raw, f"Line {first_line} has no {_DESIGNATION_TYPE}.")
            else:
                sink.skip(f"designation_type:{designation_type}")
            continue
        values = {column: record[pos].strip() or None for column, pos in positions.items()}
        parts = (record[pos].strip() for pos in name_positions)
        name = " ".join(part for part in parts if part) or None
        rows.append(source_row=first_line, name=name, report_date=report_date, **values)

    if header is None:
        raise ParseError(f"{path}: file is empty (no header row)")
    records.check_complete(len(header))


def _normalise(name: str) -> str:
    return " ".join(name.split()).lower()


def _header_positions(path: Path, header: list[str]) -> dict[str, int]:
    """Position of each required column, by the list's spelling of its name."""
    missing = [name for name in _REQUIRED if _normalise(name) not in header]
    if missing:
        raise ParseError(
            f"{path}: not the UK Sanctions List CSV: its header lacks required column(s) "
            f"{', '.join(repr(m) for m in missing)}"
        )
    repeated = [name for name in _REQUIRED if header.count(_normalise(name)) > 1]
    if repeated:
        raise ParseError(f"{path}: header repeats column(s) {', '.join(repr(r) for r in repeated)}")
    return {name: header.index(_normalise(name)) for name in _REQUIRED}
