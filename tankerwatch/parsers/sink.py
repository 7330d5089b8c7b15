"""Where parsers put their rows: buffered per table and spilled to parquet parts, so memory stays bounded."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tankerwatch.parsers import RAW_TABLE_COLUMNS, ParseResult, Reject, conform, empty_table

# Rows per table held before a spill: list-heavy tables (OpenSanctions) take ~2 KB a row
# in Python before conversion, so 20k rows keep a parser near 250 MB whatever the file size.
DEFAULT_BATCH_ROWS = 20_000


class RowBuffer:
    """Column lists for one raw table; hands a full batch to the sink as a frame."""

    def __init__(self, sink: TableSink, table: str) -> None:
        self._sink = sink
        self.table = table
        self._columns: dict[str, list[Any]] = {name: [] for name in RAW_TABLE_COLUMNS[table]}
        self._rows = 0

    def append(self, **values: Any) -> None:
        """One row; columns not named are null, a name outside the contract is a bug."""
        for name, column in self._columns.items():
            column.append(values.pop(name, None))
        if values:
            raise KeyError(f"{self.table}: columns {sorted(values)} are not in the raw-table contract")
        self._rows += 1
        if self._rows >= self._sink.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._sink.add_frame(self.table, pl.DataFrame(self._columns, schema=RAW_TABLE_COLUMNS[self.table], strict=False))
            self._columns = {name: [] for name in self._columns}
            self._rows = 0


@dataclass
class TableSink:
    """Collects one parse: rows per raw table (as parquet parts when ``spill_dir`` is set), rejects and counters."""

    spill_dir: Path | None = None
    batch_rows: int = DEFAULT_BATCH_ROWS
    rejects: list[Reject] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    # The parser's own count of the records in the file, taken where it reads them, not from the rows it
    # wrote: None when the parser does not count (the ingest then counts the file itself).
    records_read: int | None = None
    # Records read and deliberately not kept (a type tankerwatch has no use for), by reason.
    skipped: dict[str, int] = field(default_factory=dict)
    # Records folded into a later one (the earlier sentences of a multi-sentence AIS message): the row or
    # reject of that later record stands for them.
    records_merged: int = 0
    _frames: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    _parts: dict[str, list[Path]] = field(default_factory=dict)
    _rows: dict[str, int] = field(default_factory=dict)
    _buffers: dict[str, RowBuffer] = field(default_factory=dict)
    _part_numbers: Any = field(default_factory=itertools.count)

    def buffer(self, table: str) -> RowBuffer:
        if table not in self._buffers:
            self._buffers[table] = RowBuffer(self, table)
        return self._buffers[table]

    def add_frame(self, table: str, frame: pl.DataFrame) -> None:
        frame = conform(table, frame)
        self._rows[table] = self._rows.get(table, 0) + frame.height
        if self.spill_dir is None:
            self._frames.setdefault(table, []).append(frame)
            return
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        part = self.spill_dir / f"{table}-{next(self._part_numbers):05d}.parquet"
        frame.write_parquet(part)
        self._parts.setdefault(table, []).append(part)

    def reject(self, source_row: int, raw: str, reason: str) -> None:
        self.rejects.append(Reject(source_row, raw, reason))

    def record(self, by: int = 1) -> None:
        """Count records as the parser reads them: the accounting's 'read'."""
        self.records_read = (self.records_read or 0) + by

    def skip(self, name: str, by: int = 1) -> None:
        """A record read and not kept on purpose; it is counted under ``name`` in the stats too."""
        self.skipped[name] = self.skipped.get(name, 0) + by
        self.count(name, by)

    def merge(self, by: int = 1) -> None:
        self.records_merged += by

    @property
    def records_skipped(self) -> int:
        return sum(self.skipped.values())

    def count(self, name: str, by: int = 1) -> None:
        """A counter the ingest reports as metadata (e.g. AIS messages of types not needed)."""
        self.stats[name] = self.stats.get(name, 0) + by

    def close(self) -> None:
        for buffer in self._buffers.values():
            buffer.flush()

    def tables(self) -> list[str]:
        return sorted(self._rows)

    def rows(self, table: str) -> int:
        return self._rows.get(table, 0)

    def parts(self, table: str) -> list[Path]:
        return list(self._parts.get(table, []))

    def frame(self, table: str) -> pl.DataFrame:
        """All rows of a table in memory: for tests and small inputs only."""
        if self.spill_dir is not None:
            parts = self._parts.get(table)
            return pl.read_parquet(parts) if parts else empty_table(table)
        frames = self._frames.get(table)
        return pl.concat(frames) if frames else empty_table(table)


Parser = Callable[[Path, TableSink], None]


def parse_in_memory(parser: Parser, path: Path, tables: tuple[str, ...] = ()) -> ParseResult:
    """Run a streaming parser and collect everything in memory (tests, small files)."""
    sink = TableSink()
    parser(Path(path), sink)
    sink.close()
    names = sorted(set(tables) | set(sink.tables()))
    return ParseResult(
        tables={name: sink.frame(name) for name in names},
        rejects=sink.rejects,
        stats=dict(sink.stats),
        records_read=sink.records_read,
        skipped=dict(sink.skipped),
        records_merged=sink.records_merged,
    )
