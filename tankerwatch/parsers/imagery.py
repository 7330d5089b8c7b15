"""Parser for the analysts' satellite-imagery sightings log (kind ``imagery_sightings_csv``)."""

from __future__ import annotations

from pathlib import Path

from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.csv_table import read_headed_csv
from tankerwatch.parsers.sink import TableSink

TABLE = "raw_imagery_sightings"

IMAGERY_COLUMNS = tuple(column for column in RAW_TABLE_COLUMNS[TABLE] if column != "source_row")


def parse_imagery_csv(path: Path, sink: TableSink) -> None:
    """One row per sighting, values kept as strings: timestamps, states and coordinates are checked in SQL."""
    read_headed_csv(path, IMAGERY_COLUMNS, TABLE, sink)
