"""Parser for the vessel registry CSV (kind ``registry_csv``) into ``raw_registry_vessels``."""

from __future__ import annotations

from pathlib import Path

from tankerwatch.parsers import RAW_TABLE_COLUMNS, ParseResult
from tankerwatch.parsers.csv_table import read_headed_csv

TABLE = "raw_registry_vessels"

REGISTRY_COLUMNS = tuple(column for column in RAW_TABLE_COLUMNS[TABLE] if column != "source_row")


def parse_registry_csv(path: Path) -> ParseResult:
    """One row per data line, cells as stripped strings (empty -> null); typing happens in staging."""
    return read_headed_csv(path, REGISTRY_COLUMNS, TABLE)
