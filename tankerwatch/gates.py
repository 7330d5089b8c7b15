"""Great Expectations gates: load JSON suites, validate pandas/polars frames and DuckDB tables, report failures."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import os
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tankerwatch.errors import GateFailed, TankerwatchError

if TYPE_CHECKING:
    import duckdb
    from great_expectations.core import ExpectationSuite

__all__ = [
    "STAGES",
    "WHOLE_TABLE",
    "ExpectationFailure",
    "GateResult",
    "SuiteError",
    "load_suite",
    "quote_identifier",
    "raise_if_failed",
    "validate_frame",
    "validate_table",
    "validate_table_auto",
]

WHOLE_TABLE = "whole table"
STAGES = frozenset({"raw", "reference", "staging", "intermediate", "marts", "publish"})
SAMPLE_SIZE = 10

# Keys GX writes when it exports a suite are accepted; anything else is most likely a typo
# (e.g. "kwarg", or "severity" which GX 1.x does not use to decide success) and must be loud.
_SUITE_KEYS = frozenset({"name", "meta", "expectations", "notes", "id"})
_EXPECTATION_KEYS = frozenset({"type", "kwargs", "meta", "notes", "description", "id"})

# GX only reads these before its first import; an import elsewhere first makes them moot,
# which is why the context config below also disables both.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


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
            line += "; failing: " + ", ".join(_short(f) for f in self.failures)
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
            observed = "" if f.observed_value is None else _compact(f.observed_value)
            detail = f"error: {f.exception}" if f.exception else _compact(f.sample_values)
            cells = [str(i), f"`{f.expectation_type}`", _columns_label(f), unexpected, observed, detail]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
        return "\n".join(lines)


def load_suite(path: str | os.PathLike[str]) -> ExpectationSuite:
    """Build the GX suite in `path`, or raise SuiteError naming the file and the bad expectation.

    Each expectation is built on its own first, because ExpectationSuite(...) logs and
    drops an expectation of unknown type instead of raising; the final count check guards
    against any other way GX might lose one.
    """
    path = Path(path)
    spec = _read_suite_file(path)
    gx = _gx()
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    built = []
    for index, entry in enumerate(spec["expectations"]):
        where = f"{path}: expectation #{index}"
        etype, _ = check_entry_shape(path, index, entry)
        # A GX-exported id would make ExpectationSuite refuse the object as "belonging to
        # another suite"; ids mean nothing for a suite we never store.
        config = {k: v for k, v in entry.items() if k != "id"}
        config.setdefault("kwargs", {})
        try:
            built.append(ExpectationConfiguration(**config).to_domain_obj())
        except Exception as exc:  # GX raises NotFound, InvalidConfiguration, pydantic errors, TypeError
            raise SuiteError(
                f"{where}: GX cannot build expectation type {etype!r}: {_first_line(exc)}"
            ) from exc

    suite = gx.ExpectationSuite(
        name=spec["name"], expectations=built, meta=dict(spec["meta"]), notes=spec.get("notes")
    )
    if len(suite.expectations) != len(spec["expectations"]):
        loaded = {e.expectation_type for e in suite.expectations}
        missing = [e["type"] for e in spec["expectations"] if e["type"] not in loaded]
        raise SuiteError(
            f"{path}: GX loaded {len(suite.expectations)} of {len(spec['expectations'])} "
            f"expectations; not loaded: {missing or 'duplicates'}"
        )
    return suite


def check_entry_shape(path: Path, index: int, entry: Any) -> tuple[str, dict[str, Any]]:
    """The structural checks every engine applies to one suite entry; returns its type and kwargs."""
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


def validate_frame(suite_path: str | os.PathLike[str], frame: Any) -> GateResult:
    """Validate a pandas or polars DataFrame against the suite file at `suite_path`."""
    suite = load_suite(suite_path)
    return _validate(suite, _to_pandas(frame), table=suite.meta.get("table"))


def validate_table(
    con: duckdb.DuckDBPyConnection, table: str, suite_path: str | os.PathLike[str]
) -> GateResult:
    """Read DuckDB `table` (optionally schema-qualified, a name we built) and validate it.

    Refuses a suite whose meta.table names a different table: gating the wrong table
    would pass or fail for reasons nobody intended.
    """
    suite = load_suite(suite_path)
    suite_table = str(suite.meta.get("table", ""))
    if suite_table.rsplit(".", 1)[-1].lower() != table.rsplit(".", 1)[-1].lower():
        raise SuiteError(f"{suite_path}: suite is for table {suite_table!r}, not {table!r}")
    frame = con.sql(f"select * from {quote_identifier(table)}").df()
    return _validate(suite, frame, table=table)


# Warehouse tables of every size are validated in SQL; GX validates frames (the publish
# set, the report) and is the reference the SQL engine is tested against on every suite.
# GX on pandas must materialise a table (44,000 encounters took GX 15 s and SQL 0.3 s),
# and even a small table's suite costs GX 0.1-0.4 s on top of its 5-6 s start-up: with
# the whole model graph in GX below 10,000 rows, the gates cost 0.71 of a 10M build.
# A positive threshold sends smaller tables to GX (tests compare the engines that way).
SQL_THRESHOLD_ROWS = 0


def validate_table_auto(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite_path: str | os.PathLike[str],
    *,
    sql_threshold_rows: int = SQL_THRESHOLD_ROWS,
) -> GateResult:
    """Validate DuckDB `table` in SQL, or with GX when it has fewer than `sql_threshold_rows` rows.

    Both engines give the same verdicts, counts and samples (tests/test_gates_sql.py); the
    SQL one never materialises the table, which GX on pandas must. `result.engine` says
    which one ran. A suite the SQL executor cannot evaluate exactly raises SuiteError.
    """
    [(rows,)] = con.execute(f"select count(*) from {quote_identifier(table)}").fetchall()
    if rows < sql_threshold_rows:
        return validate_table(con, table, suite_path)
    from tankerwatch.gates_sql import validate_table_in_sql

    return validate_table_in_sql(con, table, suite_path)


def raise_if_failed(result: GateResult) -> GateResult:
    """Raise GateFailed (carrying `.result`) when the gate failed; return the result otherwise."""
    if result.success:
        return result
    lines = [result.summary()]
    for f in result.failures:
        lines.append(f"  - {_short(f)}: " + (f"error: {f.exception}" if f.exception else _detail(f)))
    exc = GateFailed("\n".join(lines))
    exc.result = result  # type: ignore[attr-defined]  # callers (Dagster) attach it as metadata
    raise exc


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


# --- GX plumbing -----------------------------------------------------------------------

_LOCK = threading.RLock()
_STATE: dict[int, Any] = {}  # pid -> batch definition; a forked child builds its own context


def _gx():
    # Importing GX takes seconds; importing this module must stay cheap for Dagster's loader.
    import great_expectations as gx

    return gx


def _batch_definition():
    pid = os.getpid()
    with _LOCK:
        if pid not in _STATE:
            gx = _gx()
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                analytics_enabled=False,
                # Both flags: the legacy validator reads metric_calculations over globally.
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            )
            context = gx.get_context(project_config=config, mode="ephemeral")
            source = context.data_sources.add_pandas(name="tankerwatch_frames")
            asset = source.add_dataframe_asset(name="frame")
            _STATE[pid] = asset.add_batch_definition_whole_dataframe("whole_frame")
        return _STATE[pid]


def _validate(suite: ExpectationSuite, frame: pd.DataFrame, table: str | None) -> GateResult:
    batch_definition = _batch_definition()
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
    # Every batch of this asset gets the same batch id, and the execution engine caches
    # batch data by id: two threads validating at once would read each other's frame.
    with _LOCK:
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(suite, result_format=result_format)

    order = {_config_key(c.type, c.kwargs): i for i, c in enumerate(suite.expectation_configurations)}
    failed = []
    for res in outcome.results:
        if not res.success:
            cfg = res.expectation_config
            rank = order.get(_config_key(cfg.type, cfg.kwargs), len(order))
            failed.append((rank, _failure(res)))
    failed.sort(key=lambda pair: pair[0])

    stats = outcome.statistics
    evaluated = int(stats["evaluated_expectations"])
    failures = [f for _, f in failed]
    success = bool(outcome.success)
    if evaluated != len(suite.expectations):
        # A gate that quietly evaluated fewer expectations than it holds must not pass.
        success = False
        failures.append(
            ExpectationFailure(
                expectation_type="tankerwatch_all_expectations_evaluated",
                column=None,
                kwargs={},
                observed_value=evaluated,
                exception=f"GX evaluated {evaluated} of {len(suite.expectations)} expectations",
            )
        )
    return GateResult(
        suite_name=suite.name,
        table=str(table) if table else suite.name,
        success=success,
        evaluated=evaluated,
        passed=int(stats["successful_expectations"]),
        failures=failures,
        stage=suite.meta.get("stage"),
        rows=len(frame),
    )


def _failure(res: Any) -> ExpectationFailure:
    cfg = res.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
    result = res.result or {}
    column = kwargs.get("column")
    return ExpectationFailure(
        expectation_type=cfg.type,
        column=column if isinstance(column, str) else None,
        kwargs=to_jsonable(kwargs),
        unexpected_count=_opt_int(result.get("unexpected_count")),
        unexpected_percent=to_jsonable(result.get("unexpected_percent")),
        sample_values=to_jsonable(list(result.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]),
        observed_value=to_jsonable(result.get("observed_value")),
        exception=_exception_message(res.exception_info),
    )


def _exception_message(info: Any) -> str | None:
    # GX 1.x returns either one flat dict, or (when a metric raised) a dict of flat dicts
    # keyed by metric id.
    if not isinstance(info, dict) or not info:
        return None
    flat = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    messages: list[str] = []
    for entry in flat:
        if entry.get("raised_exception"):
            msg = str(entry.get("exception_message") or "exception without message")
            if msg not in messages:
                messages.append(msg)
    return "; ".join(messages) or None


def _read_suite_file(path: Path) -> dict[str, Any]:
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
    return spec


def _to_pandas(frame: Any) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    if type(frame).__module__.split(".")[0] == "polars" and hasattr(frame, "to_pandas"):
        return frame.to_pandas()
    raise TypeError(f"expected a pandas or polars DataFrame, got {type(frame).__name__}")


def _config_key(etype: str, kwargs: dict[str, Any]) -> str:
    clean = {k: v for k, v in kwargs.items() if k != "batch_id"}
    return etype + json.dumps(to_jsonable(clean), sort_keys=True)


def _opt_int(value: Any) -> int | None:
    value = to_jsonable(value)
    return None if value is None else int(value)


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:500]}"


def _columns_label(f: ExpectationFailure) -> str:
    if f.column:
        return f.column
    if "column_A" in f.kwargs and "column_B" in f.kwargs:
        return f"{f.kwargs['column_A']}, {f.kwargs['column_B']}"
    if isinstance(f.kwargs.get("column_list"), list):
        return ", ".join(str(c) for c in f.kwargs["column_list"])
    return ""


def _short(f: ExpectationFailure) -> str:
    label = _columns_label(f)
    return f"{f.expectation_type}({label})" if label else f.expectation_type


def _detail(f: ExpectationFailure) -> str:
    parts = []
    if f.unexpected_count is not None:
        parts.append(f"{f.unexpected_count} unexpected")
    if f.sample_values:
        parts.append(f"e.g. {_compact(f.sample_values)}")
    if f.observed_value is not None:
        parts.append(f"observed {_compact(f.observed_value)}")
    parts.append(f"kwargs {_compact(f.kwargs)}")
    return ", ".join(parts)


def _compact(value: Any, limit: int = 300) -> str:
    text = json.dumps(to_jsonable(value), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
