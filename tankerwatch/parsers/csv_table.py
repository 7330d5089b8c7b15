"""Shared streaming reader for CSV sources: records with their physical line numbers, and headed CSVs of raw strings."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from tankerwatch.errors import ParseError
from tankerwatch.parsers.sink import TableSink

_BOM = b"\xef\xbb\xbf"


class _LineTap:
    """Feeds decoded physical lines to csv.reader and remembers which ones a record used.

    csv.reader pulls one physical line at a time and only pulls more while a
    quoted field is still open, so the lines taken since the previous record are
    exactly the current record's lines: that gives both its first line number
    (for source_row) and its raw text (for a Reject) without a second pass.
    """

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self._path = path
        self._handle = handle
        self.line_no = 0  # physical lines handed out so far
        self.taken: list[str] = []
        self.ends_with_newline = True

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = self._handle.readline()
        if not raw:
            raise StopIteration
        self.line_no += 1
        self.ends_with_newline = raw.endswith((b"\n", b"\r"))
        if self.line_no == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A wrong encoding affects the whole file, not one record: fail loudly
            # so the source is fixed rather than rejecting row after row.
            raise ParseError(
                f"{self._path}: line {self.line_no} is not valid UTF-8 ({exc.reason} at byte {exc.start} of the line)"
            ) from None
        self.taken.append(line)
        return line

    def take(self) -> tuple[int, str]:
        """First line number and raw text (line ends removed) of the record just read."""
        first = self.line_no - len(self.taken) + 1
        raw = "".join(self.taken).rstrip("\r\n")
        self.taken = []
        return first, raw


class CsvRecords:
    """``(first physical line, raw text, fields)`` of each non-blank record of a UTF-8 CSV file.

    A UTF-8 BOM is dropped. Invalid UTF-8 or broken CSV syntax raises ParseError:
    both spoil the rest of the file, not one record. csv's field size limit
    (128 KiB) also caps what an unclosed quote can pull into memory. Once iterated,
    ``last`` holds the last record and ``ends_with_newline`` says whether the file's
    last line was terminated, for ``check_complete``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.last: tuple[int, str, list[str]] | None = None
        self.ends_with_newline = True

    def __iter__(self) -> Iterator[tuple[int, str, list[str]]]:
        path = self.path
        with path.open("rb") as handle:
            tap = _LineTap(path, handle)
            try:
                for record in csv.reader(tap):
                    first_line, raw = tap.take()
                    if not record or (len(record) == 1 and not record[0].strip()):
                        continue
                    self.last = (first_line, raw, record)
                    yield first_line, raw, record
            except csv.Error as exc:
                raise ParseError(f"{path}: CSV syntax error near line {tap.line_no}: {exc}") from None
            self.ends_with_newline = tap.ends_with_newline

    def check_complete(self, header_fields: int | None) -> None:
        """Raise ParseError when the file ends inside its last record.

        A missing final newline alone is no proof: many writers omit it. But a
        last line that stops inside a quoted field, or that has fewer fields than
        the header and no newline after it, was cut: rejecting it would publish
        the file's other rows as if they were all of it.
        """
        if self.last is None:
            return
        first_line, raw, record = self.last
        try:
            next(csv.reader([raw + "\n"], strict=True), None)
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise ParseError(
                    f"{self.path}: the file ends inside a quoted field of the record starting at line "
                    f"{first_line}: it looks truncated"
                ) from None
        if header_fields is not None and not self.ends_with_newline and len(record) < header_fields:
            raise ParseError(
                f"{self.path}: the last line ({first_line}) has {len(record)} of the header's {header_fields} "
                "fields and no line end: the file looks truncated"
            )


def csv_records(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """Iterate a ``CsvRecords`` (without the end-of-file check)."""
    yield from CsvRecords(path)


def looks_like_html(line: str) -> bool:
    # No CSV header of ours starts with '<'; an error page from a web server does.
    return line.lstrip().startswith("<")


def field_count_reason(first_line: int, found: int, expected: int) -> str:
    return (
        f"Line {first_line} has {found} fields but the header has "
        f"{expected}, so its values cannot be assigned to columns."
    )


def read_headed_csv(path: Path, required_columns: Sequence[str], table_name: str, sink: TableSink) -> None:
    """Stream a CSV whose first non-blank line is a header naming ``required_columns`` into ``table_name``.

    Columns may come in any order and extra ones are ignored; header names are
    matched after stripping and lower-casing. Cells are stripped, and an empty
    cell becomes null. A record whose field count differs from the header's is
    rejected with its first physical line number. Blank lines are skipped: they
    are not records.
    """
    path = Path(path)
    rows = sink.buffer(table_name)
    header: list[str] | None = None
    positions: dict[str, int] = {}

    records = CsvRecords(path)
    for first_line, raw, record in records:
        if header is None:
            if looks_like_html(raw):
                raise ParseError(f"{path}: looks like an HTML page, not a {table_name} CSV")
            header = [h.strip().lower() for h in record]
            positions = _header_positions(path, header, required_columns)
            continue
        sink.record()
        if len(record) != len(header):
            sink.reject(first_line, raw, field_count_reason(first_line, len(record), len(header)))
            continue
        values = {}
        for name, pos in positions.items():
            cell = record[pos].strip()
            values[name] = cell if cell else None
        rows.append(source_row=first_line, **values)

    if header is None:
        raise ParseError(f"{path}: file is empty (no header row)")
    records.check_complete(len(header))


def _header_positions(path: Path, header: list[str], required: Sequence[str]) -> dict[str, int]:
    missing = [c for c in required if c not in header]
    if missing:
        raise ParseError(
            f"{path}: header lacks required column(s) {', '.join(missing)}"
            f" (found: {', '.join(h for h in header if h) or 'nothing'})"
        )
    duplicated = sorted({c for c in required if header.count(c) > 1})
    if duplicated:
        # Two columns of the same name: no way to tell which one the analyst meant.
        raise ParseError(f"{path}: header repeats column(s) {', '.join(duplicated)}")
    return {c: header.index(c) for c in required}
