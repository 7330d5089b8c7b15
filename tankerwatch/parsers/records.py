"""Record counts for parsers that do not count as they read: taken by the ingest from the landed file."""

from __future__ import annotations

import codecs
from pathlib import Path

_CHUNK_BYTES = 1 << 20
_EOF_MARKER = "\x1a"


def _encoding(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def count_ofac_records(path: Path) -> int:
    """OFAC's CSV files hold one record per non-blank line (CR, LF or CRLF ended); the 0x1A end-of-file
    marker on the last line is not a record, one anywhere else is (the parser rejects it)."""
    path = Path(path)
    records = 0
    last_is_marker = False
    with open(path, encoding=_encoding(path), errors="replace", newline="") as handle:
        for line in handle:
            text = line.strip()
            if not text:
                continue
            records += 1
            last_is_marker = text == _EOF_MARKER
    return records - 1 if last_is_marker else records
