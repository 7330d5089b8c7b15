"""Record counts for parsers that do not count as they read: taken by the ingest from the landed file."""

from __future__ import annotations

from pathlib import Path

_EOF_MARKER = b"\x1a"


def _blank(line: bytes) -> bool:
    if line.isascii():
        return not line.strip()
    # Non-ASCII whitespace (a no-break space) is blank to the parser too, in either of OFAC's encodings.
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return not line.decode("cp1252", "replace").strip()


def count_ofac_records(path: Path) -> int:
    """OFAC's CSV files hold one record per non-blank line (CR, LF or CRLF ended); the 0x1A end-of-file
    marker on the last line is not a record, one anywhere else is (the parser rejects it)."""
    data = Path(path).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    records = 0
    last = b""
    for line in data.splitlines():
        if line and not _blank(line):
            records += 1
            last = line
    return records - 1 if last.strip() == _EOF_MARKER else records
