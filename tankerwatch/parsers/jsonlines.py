"""Checks shared by the JSON-lines parsers (OpenSanctions, GFW): undecodable text and a cut last line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tankerwatch.errors import ParseError

# A \uD800-\uDFFF escape: json.loads turns a lone one into a str that no UTF-8 writer can store. A pair
# (an escaped emoji) is fine; only a line holding such an escape at all is searched further.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB]|\\u[dD][c-fC-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_line(path: Path, line_no: int, data: bytes) -> str:
    """The line as text; invalid UTF-8 spoils the whole file (a wrong encoding), so it is a ParseError."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"{path}: line {line_no} is not valid UTF-8 ({exc.reason} at byte {exc.start} of the line)"
        ) from None


def check_surrogates(path: Path, line_no: int, data: bytes, value: Any) -> None:
    """Raise ParseError when a decoded line holds a lone UTF-16 surrogate (e.g. ``"\\ud800"``)."""
    if not _SURROGATE_ESCAPE.search(data):
        return
    if _SURROGATE.search(json.dumps(value, ensure_ascii=False)):
        raise ParseError(
            f"{path}: line {line_no} holds a lone UTF-16 surrogate escape (\\uD800-\\uDFFF without its pair): "
            "it is not text any Unicode file can hold"
        )


def check_cut_last_line(path: Path, line_no: int, data: bytes, problem: str) -> None:
    """Raise ParseError when the file's last line, with no line end, is not a whole JSON value: it was cut."""
    if data.endswith((b"\n", b"\r")):
        return
    raise ParseError(
        f"{path}: the last line ({line_no}) has no line end and is not whole JSON ({problem}): "
        "the file looks truncated"
    )
