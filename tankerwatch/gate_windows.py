"""Which rows of a large model its gate validates: the rows no passing gate has seen yet.

A nightly run adds one day to a year of AIS positions; validating the year again every night would make
the gates cost what the history costs. A model may therefore declare a window in its header,
`-- gate window: <predicate>`, a SQL predicate over its own columns that selects the rows to validate,
with one of two parameters:

- `$unvalidated_snapshots`: the ids of the snapshots in `raw_source_snapshots` (by source) that the
  model's last passing gate did not see. For models each of whose rows comes from one raw row of one
  snapshot, and otherwise only from the small tables named on its `-- gate inputs:` line (the AIS staging
  and identity views). The whole model is validated instead when there is no passing gate to build on,
  when a snapshot it saw has been removed since (rows of other snapshots may then appear, such as a
  repeat's original), or when the fingerprint of every SQL file, the macros, the gate inputs'
  contents and the DuckDB version (its functions compute the rows too) changed.
- `$unvalidated_from`: for an incremental model, the earliest row any build rewrote since the model's
  last passing gate (`incremental_builds.unvalidated_from`, kept by tankerwatch/incremental.py); after
  a full build, the whole model.

A passing gate marks what it saw as validated, in the transaction it validated in; a failing gate marks
nothing, so the next gate sees the same rows again. A window is always validated in SQL, where
uniqueness compares the window's values with the whole table's (tankerwatch/gates_sql.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from tankerwatch.gates import WHOLE_TABLE, GateResult, validate_table_auto
from tankerwatch.settings import SQL_DIR
from tankerwatch.warehouse import MACROS_FILE, fetch_all

if TYPE_CHECKING:
    from tankerwatch.models import Model

_SNAPSHOTS = "$unvalidated_snapshots"
_REWRITTEN_FROM = "$unvalidated_from"


@dataclass(frozen=True)
class GateWindow:
    """The rows one gate validates: the whole table, or those the predicate selects with params."""

    scope: str
    predicate: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # what a pass marks as validated
    fingerprint: str | None = None
    snapshots: tuple[str, ...] = ()


def validate_gate(
    con: duckdb.DuckDBPyConnection, table: str, suite_path: str | Path, model: Model | None
) -> GateResult:
    """Validate `table` with its suite, on its window when its model declares one, and mark what passed."""
    con.execute("begin transaction")
    try:
        window = gate_window(con, model)
        if window.predicate is None:
            result = validate_table_auto(con, table, suite_path)
            result.scope = window.scope
        else:
            from tankerwatch.gates_sql import validate_table_in_sql

            result = validate_table_in_sql(con, table, suite_path, window=(window.predicate, window.params))
            if result.scope == WHOLE_TABLE:
                result.scope = f"{WHOLE_TABLE} (the suite has expectations on the whole table)"
            else:
                result.scope = window.scope
        if result.success and model is not None and model.gate_window is not None:
            _mark_validated(con, model, window)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def gate_window(con: duckdb.DuckDBPyConnection, model: Model | None) -> GateWindow:
    """What the model's next gate must validate, and why."""
    if model is None or model.gate_window is None:
        return GateWindow(WHOLE_TABLE)
    predicate = model.gate_window
    if _REWRITTEN_FROM in predicate:
        return _rewritten_window(con, model.name, predicate)
    if _SNAPSHOTS in predicate:
        return _snapshot_window(con, model, predicate)
    raise ValueError(f"{model.path}: 'gate window' must use {_SNAPSHOTS} or {_REWRITTEN_FROM}")


def _rewritten_window(con, name: str, predicate: str) -> GateWindow:
    recorded = fetch_all(con, "select unvalidated_from::varchar from incremental_builds where model = ?", [name])
    if not recorded:
        return GateWindow(f"{WHOLE_TABLE} (no incremental build recorded)")
    (unvalidated_from,) = recorded[0]
    if unvalidated_from == "-infinity":
        return GateWindow(f"{WHOLE_TABLE} (built whole since the last passing gate)")
    if unvalidated_from is None:
        return GateWindow(
            "no row rewritten since the last passing gate", predicate, {"unvalidated_from": "infinity"}
        )
    return GateWindow(
        f"rows from {unvalidated_from} on (rewritten since the last passing gate)",
        predicate,
        {"unvalidated_from": unvalidated_from},
    )


def _snapshot_window(con, model: Model, predicate: str) -> GateWindow:
    fingerprint = _inputs_fingerprint(con, model)
    # keyed by source too: identical bytes loaded by two sources share a snapshot id, not their rows
    loaded = fetch_all(con, "select distinct source_name, snapshot_id from raw_source_snapshots")
    current = tuple(sorted(f"{source_name}:{snapshot_id}" for source_name, snapshot_id in loaded))
    recorded = fetch_all(
        con, "select inputs_fingerprint, validated_snapshots from gate_windows where table_name = ?", [model.name]
    )

    def whole(reason: str) -> GateWindow:
        return GateWindow(f"{WHOLE_TABLE} ({reason})", fingerprint=fingerprint, snapshots=current)

    if not recorded:
        return whole("no passing gate to build on")
    validated_fingerprint, validated = recorded[0][0], set(recorded[0][1])
    if validated_fingerprint != fingerprint:
        return whole(
            "the SQL, the DuckDB version or the tables named on its 'gate inputs' line changed since the last passing gate"
        )
    removed = validated - set(current)
    if removed:
        return whole(f"{len(removed)} snapshot(s) removed since the last passing gate")
    unvalidated = set(current) - validated
    snapshot_ids = sorted({key.rsplit(":", 1)[1] for key in unvalidated})
    return GateWindow(
        f"rows of the {len(unvalidated)} snapshot(s) loaded since the last passing gate",
        predicate,
        {"unvalidated_snapshots": snapshot_ids},
        fingerprint=fingerprint,
        snapshots=current,
    )


def _inputs_fingerprint(con, model: Model) -> str:
    """Every SQL file, the macros and the DuckDB version (any of them may change how a row is computed), and
    the contents of the tables on the model's 'gate inputs' line."""
    digest = hashlib.sha256()
    digest.update(f"duckdb {duckdb.__version__}".encode())
    for path in [*sorted(SQL_DIR.rglob("*.sql")), MACROS_FILE]:
        digest.update(path.relative_to(SQL_DIR.parent).as_posix().encode())
        digest.update(path.read_bytes())
    for name in model.gate_inputs:
        [(content,)] = fetch_all(con, "select table_fingerprint(?)", [name])
        digest.update(f"{name}:{content}".encode())
    return digest.hexdigest()


def _mark_validated(con, model: Model, window: GateWindow) -> None:
    if _REWRITTEN_FROM in model.gate_window:
        con.execute("update incremental_builds set unvalidated_from = null where model = ?", [model.name])
        return
    con.execute("delete from gate_windows where table_name = ?", [model.name])
    con.execute(
        "insert into gate_windows values (?, ?, ?, now())", [model.name, window.fingerprint, list(window.snapshots)]
    )
