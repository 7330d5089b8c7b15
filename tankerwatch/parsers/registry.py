"""Parser for the vessel registry CSV (kind ``registry_csv``) into ``raw_registry_vessels``."""

from __future__ import annotations

from pathlib import Path

from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.csv_table import read_headed_csv
from tankerwatch.parsers.sink import TableSink

TABLE = "raw_registry_vessels"

REGISTRY_COLUMNS = tuple(column for column in RAW_TABLE_COLUMNS[TABLE] if column != "source_row")


def parse_registry_csv(path: Path, sink: TableSink) -> None:
    """One row per data line, cells as stripped strings (empty -> null); typing happens in staging."""
    read_headed_csv(path, REGISTRY_COLUMNS, TABLE, sink)
