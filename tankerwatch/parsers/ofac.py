"""Parsers for OFAC's legacy SDN.CSV, ALT.CSV and SDN_COMMENTS.CSV files (source kind ``ofac_sdn_csv``)."""

from __future__ import annotations

import codecs
import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.sink import TableSink

log = logging.getLogger(__name__)

_NULL = "-0-"
# OFAC ends each file with a DOS end-of-file byte on a line of its own.
_EOF_MARKER = "\x1a"
# At most 18 digits, so the value always fits the Int64 column.
_INTEGER = re.compile(r"[0-9]{1,18}")

_CP1252_ERRORS = "tankerwatch-cp1252-undefined"
_CHUNK_BYTES = 1 << 20


def _undefined_cp1252_as_latin1(exc: UnicodeError) -> tuple[str, int]:
    # cp1252 leaves five bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) undefined; map them to the
    # same code points as Latin-1 so an odd byte can never stop a parse or be lost.
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error(_CP1252_ERRORS, _undefined_cp1252_as_latin1)


@dataclass(frozen=True)
class _Layout:
    table: str
    file_label: str  # the name OFAC publishes the file under, for messages
    columns: tuple[str, ...]
    integer_columns: frozenset[str]
    keep_whitespace: frozenset[str]


def _layout(table: str, file_label: str, keep_whitespace: frozenset[str] = frozenset()) -> _Layout:
    # The contract lists each table's columns (after source_row) in the file's field order.
    schema = RAW_TABLE_COLUMNS[table]
    columns = tuple(c for c in schema if c != "source_row")
    integers = frozenset(c for c in columns if schema[c] == pl.Int64)
    return _Layout(table, file_label, columns, integers, keep_whitespace)


# OFAC splits Remarks longer than 1000 characters between SDN.CSV and SDN_COMMENTS.CSV,
# sometimes right next to a space; stripping those two columns would glue words together
# when staging concatenates them, so they keep their surrounding whitespace.
_SDN = _layout("raw_ofac_sdn", "SDN.CSV", keep_whitespace=frozenset({"remarks"}))
_ALT = _layout("raw_ofac_alt", "ALT.CSV")
_SDN_COMMENTS = _layout(
    "raw_ofac_sdn_comments", "SDN_COMMENTS.CSV", keep_whitespace=frozenset({"remarks_continuation"})
)


def parse_sdn_csv(path: Path, sink: TableSink) -> None:
    """Parse OFAC SDN.CSV into ``raw_ofac_sdn``."""
    _parse(Path(path), _SDN, sink)


def parse_alt_csv(path: Path, sink: TableSink) -> None:
    """Parse OFAC ALT.CSV into ``raw_ofac_alt``."""
    _parse(Path(path), _ALT, sink)


def parse_sdn_comments_csv(path: Path, sink: TableSink) -> None:
    """Parse OFAC SDN_COMMENTS.CSV into ``raw_ofac_sdn_comments``."""
    _parse(Path(path), _SDN_COMMENTS, sink)


def _parse(path: Path, layout: _Layout, sink: TableSink) -> None:
    # Rows go to the sink as they are read, so the encoding has to be settled before
    # the first one: a file is decoded as one encoding throughout, never a mix.
    problem = _utf8_problem(path)
    if problem is None:
        _parse_decoded(path, layout, sink, "utf-8-sig", "strict")
    else:
        log.warning("%s is not valid UTF-8 (%s); decoding it as cp1252", path, problem)
        _parse_decoded(path, layout, sink, "cp1252", _CP1252_ERRORS)


def _utf8_problem(path: Path) -> str | None:
    """Why the file is not valid UTF-8, or None; reads it in chunks and keeps nothing."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return exc.reason
    return None


def _lines(path: Path, encoding: str, errors: str) -> Iterator[tuple[int, str]]:
    # newline="" splits on CRLF, LF and bare CR alike (OFAC's spec says records end with
    # CR) and hands lines over untranslated, so the line numbers match the landed file.
    with open(path, encoding=encoding, errors=errors, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip("\r\n")


def _parse_decoded(path: Path, layout: _Layout, sink: TableSink, encoding: str, errors: str) -> None:
    columns = layout.columns
    rows = sink.buffer(layout.table)
    seen_record = False
    marker_line: int | None = None

    for number, text in _lines(path, encoding, errors):
        if not text.strip():
            continue
        if text.strip() == _EOF_MARKER:
            marker_line = number
            continue
        if marker_line is not None:
            sink.reject(marker_line, _EOF_MARKER, "0x1A end-of-file marker found before the end of the file.")
            marker_line = None

        row, problem = _split_record(text, layout)
        if not seen_record:
            seen_record = True
            if problem is not None:
                raise ParseError(_not_this_format(path, layout, number, text, problem))
        if problem is not None:
            sink.reject(number, text, problem)
            continue
        rows.append(source_row=number, **dict(zip(columns, row)))

    if not seen_record:
        raise ParseError(f"{path}: the file is empty: it holds no OFAC {layout.file_label} records.")
    if marker_line is None:
        log.warning("%s has no 0x1A end-of-file marker; it may be truncated.", path)


def _split_record(text: str, layout: _Layout) -> tuple[list[int | str | None], str | None]:
    """The line's values in column order, or a reason why the line is not a record."""
    # One line is one record: OFAC's spec separates records by line breaks and its fields
    # never hold one, so a stray quote can only spoil its own line.
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        return [], f"Malformed CSV quoting: {exc}."
    expected = len(layout.columns)
    if len(fields) != expected:
        return [], f"Expected {expected} comma-separated fields, found {len(fields)}."

    row: list[int | str | None] = []
    for column, raw in zip(layout.columns, fields):
        cell = raw.strip()
        if column in layout.integer_columns:
            if not _INTEGER.fullmatch(cell):
                return [], f"{column} {cell!r} is not an integer."
            row.append(int(cell))
        elif cell == _NULL:
            row.append(None)
        else:
            row.append(raw if column in layout.keep_whitespace else cell)
    return row, None


def _not_this_format(path: Path, layout: _Layout, number: int, text: str, problem: str) -> str:
    head = text.lstrip()
    try:
        field_count = len(next(csv.reader([text])))
    except csv.Error:
        field_count = 0
    if head.startswith("<"):
        looks_like = "it starts with '<', like an HTML or XML page"
    elif field_count == len(layout.columns):
        looks_like = "it looks like a header row, and OFAC files have none"
    else:
        looks_like = f"every {layout.file_label} record has {len(layout.columns)} fields"
    reason = problem[0].lower() + problem[1:].rstrip(".")
    return (
        f"{path}: not an OFAC {layout.file_label} file: its first record (line {number}) does not "
        f"parse ({reason}); {looks_like}. It begins {head[:60]!r}."
    )
