"""Record counts for parsers that do not count as they read: taken by the ingest from the landed file."""

from __future__ import annotations

from pathlib import Path

from tankerwatch.errors import ParseError
from tankerwatch.parsers.sink import TableSink

_EOF_MARKER = b"\x1a"


def _blank(line: bytes) -> bool:
    if line.isascii():
        return not line.strip()
    # Non-ASCII whitespace (a no-break space) is blank to the parser too, in either of OFAC's encodings.
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return not line.decode("cp1252", "replace").strip()


def count_ofac_records(path: Path, sink: TableSink | None = None) -> int:
    """OFAC's CSV files hold one record per non-blank line (CR, LF or CRLF ended); the 0x1A end-of-file
    marker on the last line is not a record, one anywhere else is (the parser rejects it).

    With the parse's ``sink``: a last line with no line end that the parse rejected is a record cut short,
    so the file was truncated and a ParseError is raised rather than a file published without its end."""
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    records = 0
    last = b""
    lines = data.splitlines()
    for line in lines:
        if line and not _blank(line):
            records += 1
            last = line
    if sink is not None and data and not data.endswith((b"\n", b"\r")):
        reasons = [r.reason for r in sink.rejects if r.source_row == len(lines)]
        if reasons:
            raise ParseError(
                f"{path}: the last line ({len(lines)}) has no line end and is not a whole record "
                f"({reasons[0].rstrip('.')}): the file looks truncated"
            )
    return records - 1 if last.strip() == _EOF_MARKER else records
