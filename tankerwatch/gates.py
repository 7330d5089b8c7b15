"""Gates: Great Expectations suites (expectations/*.json) run on frames and on warehouse tables.

Which engine runs what:

- A warehouse table (every model, raw, reference and staging table, windowed or not) is validated
  in SQL inside DuckDB by tankerwatch.gates_sql, whatever its size: `validate_table_auto`.
- A frame (the publish set's files, schema and cap consistency, the accounting, the report) is
  validated by GX on pandas: `validate_frame`. These frames are built in Python and are small.

Why: GX on pandas must read the whole table out of DuckDB, and pays its start-up and per-suite
costs even on a small table. bench/gates_bench.py, 2-core machine, the suites of stg_ais_positions
and int_ais_positions (seconds cold / warm, peak RSS):

    table                         rows        GX on pandas              SQL in DuckDB
    stg_ais_positions (demo size) 2,000       19.0 / 0.61 s    338 MB   0.41 / 0.01 s   257 MB
    int_ais_positions (demo size) 2,000       16.5 / 0.17 s    338 MB   0.31 / 0.01 s   257 MB
    stg_ais_positions             1,000,000   64.0 / 19.8 s  1,199 MB   1.37 / 0.20 s   257 MB
    int_ais_positions             1,000,000   31.8 / 10.4 s    957 MB   0.98 / 0.30 s   257 MB

"Cold" includes importing GX and building its context, which every Dagster step process pays once.
SQL is faster at every size, by 17-100x warm, and keeps memory flat; it also validates a window of
a table (tankerwatch/gate_windows.py) without copying it. GX on frames costs little because the
publish and report frames are small and built in Python anyway.

GX stays the specification: its expectation JSON is the suite format, and the SQL engine
reproduces GX's pandas semantics, which tests/test_gates_sql.py checks against GX on tables
built where pandas and SQL differ. `validate_table` (GX on a table read into pandas) exists for
those comparisons and for the benchmark; the pipeline does not call it.

Shared types, suite reading and the row-condition and regex dialects live in
tankerwatch.gate_spec, which both engines import; this module imports the SQL engine, never the
other way round.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tankerwatch.errors import GateFailed
from tankerwatch.gate_spec import (
    ROW_SAMPLE_SIZE,
    SAMPLE_SIZE,
    STAGES,
    WHOLE_TABLE,
    ExpectationFailure,
    GateResult,
    SuiteError,
    compact,
    expectation_columns,
    quote_identifier,
    read_suite,
    row_key_columns,
    short_label,
    to_jsonable,
)
from tankerwatch.gates_sql import validate_table_in_sql

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

# GX only reads these before its first import; an import elsewhere first makes them moot,
# which is why the context config below also disables both.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def load_suite(path: str | os.PathLike[str]) -> ExpectationSuite:
    """Build the GX suite in `path`, or raise SuiteError naming the file and the bad expectation.

    Each expectation is built on its own first, because ExpectationSuite(...) logs and
    drops an expectation of unknown type instead of raising; the final count check guards
    against any other way GX might lose one.
    """
    path = Path(path)
    spec = read_suite(path)
    gx = _gx()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    built = []
    for index, entry in enumerate(spec["expectations"]):
        where = f"{path}: expectation #{index}"
        etype = entry["type"]
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


def validate_table_auto(
    con: duckdb.DuckDBPyConnection, table: str, suite_path: str | os.PathLike[str]
) -> GateResult:
    """Validate DuckDB `table` the way the pipeline does: in SQL, whatever its size (see the module text)."""
    return validate_table_in_sql(con, table, suite_path)


def raise_if_failed(result: GateResult) -> GateResult:
    """Raise GateFailed (carrying `.result`) when the gate failed; return the result otherwise."""
    if result.success:
        return result
    lines = [result.summary()]
    for f in result.failures:
        lines.append(f"  - {short_label(f)}: " + (f"error: {f.exception}" if f.exception else _detail(f)))
    exc = GateFailed("\n".join(lines))
    exc.result = result  # type: ignore[attr-defined]  # callers (Dagster) attach it as metadata
    raise exc


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
    # GX lists the index of as many unexpected rows as values; the values are cut to SAMPLE_SIZE below.
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": max(SAMPLE_SIZE, ROW_SAMPLE_SIZE)}
    if not frame.index.equals(pd.RangeIndex(len(frame))):
        # The unexpected rows come back as index labels: a unique one finds each row again.
        frame = frame.reset_index(drop=True)
    # Every batch of this asset gets the same batch id, and the execution engine caches
    # batch data by id: two threads validating at once would read each other's frame.
    with _LOCK:
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(suite, result_format=result_format)

    configurations = suite.expectation_configurations
    order = {_config_key(c.type, c.kwargs): i for i, c in enumerate(configurations)}
    entries = [(c.type, dict(c.kwargs)) for c in configurations]
    keys = row_key_columns(dict(suite.meta or {}), entries, list(frame.columns))
    failed = []
    for res in outcome.results:
        if not res.success:
            cfg = res.expectation_config
            rank = order.get(_config_key(cfg.type, cfg.kwargs), len(order))
            failure = _failure(res)
            failure.failing_rows = _failing_rows(frame, res, keys)
            failed.append((rank, failure))
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
        key_columns=keys,
    )


def _failing_rows(frame: pd.DataFrame, res: Any, keys: list[str]) -> list[dict[str, Any]]:
    """The rows GX found unexpected (the first ROW_SAMPLE_SIZE, by the index it lists), with the key
    columns and the expectation's own."""
    indexes = (res.result or {}).get("partial_unexpected_index_list") or []
    labels = [i for i in indexes[:ROW_SAMPLE_SIZE] if not isinstance(i, dict) and i in frame.index]
    kwargs = res.expectation_config.kwargs
    names = [n for n in dict.fromkeys([*keys, *expectation_columns(kwargs)]) if n in frame.columns]
    if not labels or not names:
        return []
    rows = frame.loc[labels, names]
    return [to_jsonable(dict(zip(names, row, strict=True))) for row in rows.itertuples(index=False, name=None)]


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


def _detail(f: ExpectationFailure) -> str:
    parts = []
    if f.unexpected_count is not None:
        parts.append(f"{f.unexpected_count} unexpected")
    if f.sample_values:
        parts.append(f"e.g. {compact(f.sample_values)}")
    if f.observed_value is not None:
        parts.append(f"observed {compact(f.observed_value)}")
    parts.append(f"kwargs {compact(f.kwargs)}")
    return ", ".join(parts)
