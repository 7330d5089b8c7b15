"""What every gate module shares: the suite file format, the result types, and the two dialects
(row conditions and regexes) that both gate engines read the same way.

The bottom of the gate modules: it imports neither engine. `tankerwatch.gates_sql` (DuckDB) and
`tankerwatch.gates` (Great Expectations on pandas, and the dispatcher) both import it, so a suite
is read and refused by one piece of code whichever engine runs it.

Row conditions are GX's structured conditions (great_expectations.expectations.row_conditions) as
the JSON GX itself serialises, e.g. ``{"type": "nullity", "column": {"name": "reject_reason"},
"is_null": true}``: GX deserialises them natively and the SQL engine reads the same dict, so no
query-string parser exists on either side. A string `row_condition` or a `condition_parser` (both
deprecated since GX 1.9) is refused.

Regexes are written in a subset that Python's `re.search` (what GX runs) and RE2 (DuckDB's
`regexp_matches`) read the same: see `check_regex`.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import os
import re
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tankerwatch.errors import TankerwatchError

__all__ = [
    "LINEAGE_COLUMNS",
    "ROW_SAMPLE_SIZE",
    "SAMPLE_SIZE",
    "STAGES",
    "WHOLE_TABLE",
    "ExpectationFailure",
    "GateResult",
    "SuiteError",
    "check_entry_shape",
    "check_regex",
    "expectation_columns",
    "parse_row_condition",
    "quote_identifier",
    "read_suite",
    "row_key_columns",
    "to_jsonable",
]

WHOLE_TABLE = "whole table"
STAGES = frozenset({"raw", "reference", "staging", "intermediate", "marts", "publish"})
SAMPLE_SIZE = 10
# Failing rows kept per failed expectation: enough to see a pattern, bounded so a gate that fails
# on millions of rows still returns a result small enough for the check's metadata.
ROW_SAMPLE_SIZE = 20
# Where a warehouse row came from: the sources-file name, the snapshot and the line or record
# number in it (every raw, staging and row-level intermediate table carries them).
LINEAGE_COLUMNS = ("source_name", "snapshot_id", "source_row")
# The key list a contract's grain names in parentheses: "one row per voyage (voyage_id)".
_GRAIN_KEYS = re.compile(r"\(\s*([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*\)")

# Keys GX writes when it exports a suite are accepted; anything else is most likely a typo
# (e.g. "kwarg", or "severity" which GX 1.x does not use to decide success) and must be loud.
_SUITE_KEYS = frozenset({"name", "meta", "expectations", "notes", "id"})
_EXPECTATION_KEYS = frozenset({"type", "kwargs", "meta", "notes", "description", "id"})


class SuiteError(TankerwatchError, ValueError):
    """A suite file is unreadable or GX cannot build every expectation in it.

    A ValueError (a broken gate is a configuration bug, not a data failure, so it is
    deliberately not a GateFailed) and a TankerwatchError (so generic handlers still see it).
    """


@dataclass
class ExpectationFailure:
    """One failing expectation, with enough detail to act on without rerunning GX."""

    expectation_type: str
    column: str | None
    kwargs: dict[str, Any]
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample_values: list[Any] = field(default_factory=list)
    observed_value: Any = None
    exception: str | None = None
    # Real rows of the table that violate the expectation (at most ROW_SAMPLE_SIZE, in table order):
    # each holds the result's key columns and the expectation's own columns, by name.
    failing_rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))


@dataclass
class GateResult:
    """The outcome of one suite on one table or frame."""

    suite_name: str
    table: str
    success: bool
    evaluated: int
    passed: int
    failures: list[ExpectationFailure] = field(default_factory=list)
    stage: str | None = None
    rows: int | None = None
    # Which executor produced the result: "great_expectations" (GX on a pandas frame) or
    # "duckdb_sql" (tankerwatch.gates_sql, on a warehouse table).
    engine: str = "great_expectations"
    # Which rows were validated: the whole table, or a window of the rows no passing gate has
    # seen yet (tankerwatch/gate_windows.py); `rows` counts the rows validated.
    scope: str = WHOLE_TABLE
    # The columns that name a row of the table (its grain or unique key, then its lineage): what each
    # failure's failing_rows carry besides the expectation's own columns.
    key_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))

    def summary(self) -> str:
        status = "PASSED" if self.success else "FAILED"
        rows = "" if self.rows is None else f" ({self.rows} rows)"
        if self.scope != WHOLE_TABLE:
            rows += f" [{self.scope}]"
        line = (
            f"{status} suite {self.suite_name!r} on table {self.table!r}{rows}: "
            f"{self.passed}/{self.evaluated} expectations passed [{self.engine}]"
        )
        if self.failures:
            line += "; failing: " + ", ".join(short_label(f) for f in self.failures)
        return line

    def failure_markdown(self) -> str:
        if not self.failures:
            return f"All {self.evaluated} expectations of `{self.suite_name}` passed."
        lines = [
            "| # | Expectation | Column | Unexpected | Observed | Sample values / error |",
            "|---|---|---|---|---|---|",
        ]
        for i, f in enumerate(self.failures, 1):
            if f.unexpected_count is None:
                unexpected = ""
            elif f.unexpected_percent is None:
                unexpected = str(f.unexpected_count)
            else:
                unexpected = f"{f.unexpected_count} ({f.unexpected_percent:.3g}%)"
            observed = "" if f.observed_value is None else compact(f.observed_value)
            detail = f"error: {f.exception}" if f.exception else compact(f.sample_values)
            cells = [str(i), f"`{f.expectation_type}`", _columns_label(f), unexpected, observed, detail]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        return "\n".join(lines)


# --- suite files ----------------------------------------------------------------------------


def read_suite(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The suite at `path` as JSON, with every entry's shape, row condition and regex checked;
    SuiteError names the file and the entry otherwise."""
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SuiteError(f"{path}: suite file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read suite file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(spec, dict):
        raise SuiteError(f"{path}: a suite must be a JSON object")
    unknown = set(spec) - _SUITE_KEYS
    if unknown:
        raise SuiteError(f"{path}: unknown top-level keys {sorted(unknown)}")
    if not isinstance(spec.get("name"), str) or not spec["name"]:
        raise SuiteError(f"{path}: 'name' must be a non-empty string")
    meta = spec.get("meta")
    if not isinstance(meta, dict):
        raise SuiteError(f"{path}: 'meta' with 'stage' and 'table' is required")
    if meta.get("stage") not in STAGES:
        raise SuiteError(f"{path}: meta.stage must be one of {sorted(STAGES)}, got {meta.get('stage')!r}")
    if not isinstance(meta.get("table"), str) or not meta["table"]:
        raise SuiteError(f"{path}: meta.table must be a non-empty string")
    expectations = spec.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        # An empty gate passes everything, which is never what a suite author meant.
        raise SuiteError(f"{path}: 'expectations' must be a non-empty list")
    for index, entry in enumerate(expectations):
        etype, kwargs = check_entry_shape(path, index, entry)
        where = f"{path}: expectation #{index} ({etype})"
        if "condition_parser" in kwargs:
            raise SuiteError(
                f"{where}: condition_parser is not used; write row_condition in GX's structured form "
                '(e.g. {"type": "nullity", "column": {"name": "reject_reason"}, "is_null": true})'
            )
        if kwargs.get("row_condition") is not None:
            parse_row_condition(where, kwargs["row_condition"])
        if "regex" in kwargs:
            if not isinstance(kwargs["regex"], str):
                raise SuiteError(f"{where}: regex must be a string")
            check_regex(where, kwargs["regex"])
    return spec


def check_entry_shape(path: Path, index: int, entry: Any) -> tuple[str, dict[str, Any]]:
    """The structural checks of one suite entry; returns its type and kwargs."""
    where = f"{path}: expectation #{index}"
    if not isinstance(entry, dict):
        raise SuiteError(f"{where} is not a JSON object")
    etype = entry.get("type")
    if not isinstance(etype, str) or not etype:
        raise SuiteError(f"{where} has no 'type'")
    unknown = set(entry) - _EXPECTATION_KEYS
    if unknown:
        raise SuiteError(f"{where} ({etype}) has unknown keys {sorted(unknown)}")
    kwargs = entry.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise SuiteError(f"{where} ({etype}): 'kwargs' must be an object")
    return etype, kwargs


# --- row conditions: GX's structured form ---------------------------------------------------

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


def parse_row_condition(where: str, value: Any) -> tuple:
    """GX's structured row condition as a tree both engines walk:
    ("nullity", column, is_null), ("comparison", column, operator, parameter), ("and" | "or", [trees]).

    Only the forms GX deserialises are accepted, and of comparisons only those with one scalar
    (string, number, true or false): GX's IN and NOT_IN, and anything else, are refused here."""

    def refuse(why: str) -> SuiteError:
        return SuiteError(f"{where}: row_condition {json.dumps(value)} is not GX's structured form ({why})")

    def column(node: dict) -> str:
        col = node.get("column")
        if not isinstance(col, dict) or set(col) != {"name"} or not isinstance(col["name"], str) or not col["name"]:
            raise refuse('a column is written {"name": "<column>"}')
        return col["name"]

    def walk(node: Any) -> tuple:
        if isinstance(node, str):
            raise refuse("a query string is GX's deprecated form")
        if not isinstance(node, dict):
            raise refuse("a condition is a JSON object")
        kind = node.get("type")
        keys = set(node)
        if kind == "nullity":
            if keys != {"type", "column", "is_null"} or not isinstance(node["is_null"], bool):
                raise refuse('nullity has "column" and "is_null" (true or false)')
            return ("nullity", column(node), node["is_null"])
        if kind == "comparison":
            if keys != {"type", "column", "operator", "parameter"}:
                raise refuse('comparison has "column", "operator" and "parameter"')
            if node["operator"] not in COMPARISONS:
                raise refuse(f"operator must be one of {list(COMPARISONS)}")
            parameter = node["parameter"]
            if not isinstance(parameter, (str, int, float, bool)) or (
                isinstance(parameter, float) and not math.isfinite(parameter)
            ):
                raise refuse("parameter must be a string, a finite number, true or false")
            return ("comparison", column(node), node["operator"], parameter)
        if kind in ("and", "or"):
            conditions = node.get("conditions")
            if keys != {"type", "conditions"} or not isinstance(conditions, list) or len(conditions) < 2:
                raise refuse(f'{kind} has "conditions", a list of at least two conditions')
            children = [walk(c) for c in conditions]
            # GX refuses an OR inside an AND or inside an OR (row_conditions.validate_row_condition).
            if any(c[0] == "or" for c in children):
                raise refuse("GX allows no OR inside an AND or an OR")
            return (kind, children)
        raise refuse(f"unknown type {kind!r}")

    return walk(value)


# --- regexes: the dialect Python and RE2 read the same --------------------------------------

# Characters with a meaning outside a character class, in both dialects.
_META = set("\\.^$|?*+()[]{}")
# A backslash before punctuation escapes it in both; these letters name the same control characters.
_ESCAPABLE = set("!\"#%&',-./:;<=>@`~_") | _META | set("ntr")
_REPEAT = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
MAX_REPEAT = 1000  # RE2's limit


def check_regex(where: str, pattern: str) -> None:
    """Refuse a regex that Python's `re.search` and RE2 could read differently.

    The dialect: literal characters; a backslash only before punctuation (escaping it) or as \\n, \\t,
    \\r; `.`;
    classes of single characters and ranges (`[A-Z0-9]`, `[^,]`; a literal `-` is written `\\-`);
    groups `( )` and `(?: )`; `|`; the repeats `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` up to 1000,
    each optionally lazy (`?`); `^` anywhere; `$` only as the pattern's last character. Outside it
    are the constructs whose meaning differs (\\d, \\w, \\s and \\b are Unicode-aware in Python and
    ASCII in RE2; `{,n}` is a repeat in Python and text in RE2; POSIX classes) or that one of the
    two lacks (lookarounds, backreferences, inline flags, \\Z and \\z).

    Python's `$` also matches before a final newline; the SQL engine reads a final `$` that way
    (tankerwatch.gates_sql), which is why `$` may only end the pattern.
    """

    def refuse(why: str, at: int) -> SuiteError:
        return SuiteError(
            f"{where}: regex {pattern!r} is outside the dialect Python and RE2 read the same ({why}, at "
            f"character {at})"
        )

    try:
        with warnings.catch_warnings():
            # Python warns of classes it may read as set operations later; the scan below refuses them.
            warnings.simplefilter("ignore", FutureWarning)
            re.compile(pattern)
    except re.error as exc:
        raise SuiteError(f"{where}: regex {pattern!r} is not a valid regular expression: {exc}") from exc

    i, n, depth = 0, len(pattern), 0
    can_repeat = False
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= n or pattern[i + 1] not in _ESCAPABLE:
                raise refuse("a backslash may only escape punctuation; write classes such as [0-9] out", i)
            i, can_repeat = i + 2, True
        elif char == "[":
            i, can_repeat = _class_end(pattern, i, refuse), True
        elif char == "(":
            if pattern.startswith("(?", i):
                if not pattern.startswith("(?:", i):
                    raise refuse("the only group with ? is (?:...)", i)
                i += 3
            else:
                i += 1
            depth, can_repeat = depth + 1, False
        elif char == ")":
            depth, i, can_repeat = depth - 1, i + 1, True
        elif char in "*+?{":
            if not can_repeat:
                raise refuse("a repeat needs something to repeat", i)
            if char == "{":
                match = _REPEAT.match(pattern, i)
                if not match:
                    raise refuse("a brace repeat is {n}, {n,} or {n,m}", i)
                low, high = int(match.group(1)), match.group(3)
                if low > MAX_REPEAT or (high and int(high) > MAX_REPEAT) or (high and int(high) < low):
                    raise refuse(f"repeat counts go from n to m with m <= {MAX_REPEAT}", i)
                i = match.end()
            else:
                i += 1
            if i < n and pattern[i] == "?":
                i += 1
            if i < n and pattern[i] in "*+{":
                raise refuse("a repeat of a repeat (or a possessive repeat)", i)
            can_repeat = False
        elif char == "$":
            if i != n - 1:
                raise refuse("$ may only end the pattern", i)
            i, can_repeat = i + 1, False
        elif char in "^|":
            i, can_repeat = i + 1, False
        elif char == "}" or char == "]":
            raise refuse(f"an unescaped {char}", i)
        else:
            i, can_repeat = i + 1, True


def _class_end(pattern: str, start: int, refuse) -> int:
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    members = 0
    previous_single = False
    while True:
        if i >= len(pattern):
            raise refuse("an unclosed class", start)
        char = pattern[i]
        if char == "]":
            if not members:
                raise refuse("an empty class, or ] first in a class", i)
            return i + 1
        if char == "[":
            raise refuse("[ inside a class (POSIX classes are RE2 only)", i)
        if char == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in _ESCAPABLE:
                raise refuse("a backslash in a class may only escape punctuation", i)
            i += 2
            previous_single = True
        elif char == "-":
            if not previous_single or i + 1 >= len(pattern) or pattern[i + 1] in "]-[\\":
                raise refuse("a - in a class is a range between two characters; a literal one is \\-", i)
            i += 2
            previous_single = False
        elif pattern.startswith(("&&", "~~", "||"), i):
            raise refuse("doubled &, ~ or | in a class (set operations to Python)", i)
        else:
            i += 1
            previous_single = True
        members += 1


# --- failing rows ------------------------------------------------------------------------


def row_key_columns(
    meta: dict[str, Any], expectations: list[tuple[str, dict[str, Any]]], columns: list[str]
) -> list[str]:
    """The columns that let a reader find a failing row: the key the grain names in the suite's notes
    (generated from the model contract), else the first unique key the suite declares, then the
    lineage columns the table carries; the first column when the table has none of these."""
    present = set(columns)
    keys: list[str] = []
    notes = meta.get("notes")
    for match in _GRAIN_KEYS.finditer(notes if isinstance(notes, str) else ""):
        names = [name.strip() for name in match.group(1).split(",")]
        if all(name in present for name in names):
            keys = names
            break
    if not keys:
        for etype, kwargs in expectations:
            if kwargs.get("row_condition") is not None:
                continue  # unique among some rows only: not a key of the table
            if etype == "expect_column_values_to_be_unique" and kwargs.get("column") in present:
                keys = [kwargs["column"]]
                break
            names = kwargs.get("column_list")
            if etype == "expect_compound_columns_to_be_unique" and isinstance(names, list) and set(names) <= present:
                keys = list(names)
                break
    keys += [c for c in LINEAGE_COLUMNS if c in present]
    if not keys and columns:
        keys = [columns[0]]
    return list(dict.fromkeys(keys))


def expectation_columns(kwargs: dict[str, Any]) -> list[str]:
    """The columns a row-level expectation reads, in the order its kwargs name them."""
    names: list[Any] = [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")]
    if isinstance(kwargs.get("column_list"), list):
        names += kwargs["column_list"]
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and n))


# --- helpers -----------------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    """Quote a possibly dotted DuckDB name part by part; quotes inside a part are doubled."""
    if not isinstance(name, str) or not name or any(not p for p in name.split(".")):
        raise ValueError(f"not a table name: {name!r}")
    if "\x00" in name:
        raise ValueError(f"table name contains NUL: {name!r}")
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def to_jsonable(value: Any) -> Any:
    """Turn GX/pandas/numpy/DuckDB values into plain JSON values (NaN and NaT become None)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, decimal.Decimal):
        # A string keeps the exact digits; float would round volumes silently.
        return str(value) if value.is_finite() else None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Series)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        return [to_jsonable(v) for v in items]
    if hasattr(value, "dict") and type(value).__module__.startswith("great_expectations."):
        # A GX row condition object in the kwargs GX hands back: its own JSON form.
        return to_jsonable(value.dict())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (pd.Timedelta, dt.timedelta, np.timedelta64)):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    return str(value)


def _columns_label(f: ExpectationFailure) -> str:
    if f.column:
        return f.column
    if "column_A" in f.kwargs and "column_B" in f.kwargs:
        return f"{f.kwargs['column_A']}, {f.kwargs['column_B']}"
    if isinstance(f.kwargs.get("column_list"), list):
        return ", ".join(str(c) for c in f.kwargs["column_list"])
    return ""


def short_label(f: ExpectationFailure) -> str:
    label = _columns_label(f)
    return f"{f.expectation_type}({label})" if label else f.expectation_type


def compact(value: Any, limit: int = 300) -> str:
    text = json.dumps(to_jsonable(value), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")

