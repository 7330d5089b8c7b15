"""Parser for Danish Maritime Authority AIS CSV files (kind ``ais_dma_csv``) into ``raw_ais_dma``."""

from __future__ import annotations

from pathlib import Path

from tankerwatch.errors import ParseError
from tankerwatch.parsers.csv_table import CsvRecords, field_count_reason, looks_like_html
from tankerwatch.parsers.sink import TableSink

TABLE = "raw_ais_dma"

# Contract column -> DMA header name. The first 22 are in every DMA file; A, B, C, D
# (antenna distances to bow, stern, port, starboard) only in the newer 26-column ones.
_REQUIRED = {
    "timestamp": "# Timestamp",
    "type_of_mobile": "Type of mobile",
    "mmsi": "MMSI",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "navigational_status": "Navigational status",
    "rot": "ROT",
    "sog": "SOG",
    "cog": "COG",
    "heading": "Heading",
    "imo": "IMO",
    "callsign": "Callsign",
    "name": "Name",
    "ship_type": "Ship type",
    "cargo_type": "Cargo type",
    "width": "Width",
    "length": "Length",
    "position_fixing_device": "Type of position fixing device",
    "draught": "Draught",
    "destination": "Destination",
    "eta": "ETA",
    "data_source_type": "Data source type",
}
_OPTIONAL = {"a": "A", "b": "B", "c": "C", "d": "D"}


def parse_ais_dma_csv(path: Path, sink: TableSink) -> None:
    """One row per data line; cells are stripped strings kept as written.

    Empty cells stay empty strings and sentinels such as ``Unknown`` or Latitude 91
    stay as they are: staging decides what they mean. Columns are found by header
    name; A..D are null when the file is of the older 22-column layout.
    """
    path = Path(path)
    rows = sink.buffer(TABLE)
    header: list[str] | None = None
    positions: dict[str, int] = {}

    records = CsvRecords(path)
    for first_line, raw, record in records:
        if header is None:
            if looks_like_html(raw):
                raise ParseError(f"{path}: looks like an HTML page, not a DMA AIS CSV")
            header = [_normalise(cell) for cell in record]
            positions = _header_positions(path, header)
            continue
        sink.record()
        if len(record) != len(header):
            sink.reject(first_line, raw, field_count_reason(first_line, len(record), len(header)))
            continue
        rows.append(source_row=first_line, **{column: record[pos].strip() for column, pos in positions.items()})

    if header is None:
        raise ParseError(f"{path}: file is empty (no header row)")
    records.check_complete(len(header))


def _normalise(name: str) -> str:
    # The first header cell is '# Timestamp': the '#' marks the header line, it is not part of the name.
    return " ".join(name.strip().lstrip("#").split()).lower()


def _header_positions(path: Path, header: list[str]) -> dict[str, int]:
    missing = [name for name in _REQUIRED.values() if _normalise(name) not in header]
    if missing:
        raise ParseError(
            f"{path}: not a DMA AIS CSV: its header lacks required column(s) {', '.join(repr(m) for m in missing)}"
        )
    wanted = {**_REQUIRED, **{c: n for c, n in _OPTIONAL.items() if _normalise(n) in header}}
    repeated = [name for name in wanted.values() if header.count(_normalise(name)) > 1]
    if repeated:
        raise ParseError(f"{path}: header repeats column(s) {', '.join(repr(r) for r in repeated)}")
    return {column: header.index(_normalise(name)) for column, name in wanted.items()}
