"""The SQL models of sql/: discovery, documentation headers, dependency order, and building one model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb

from tankerwatch.errors import TankerwatchError
from tankerwatch.faults import fault_point
from tankerwatch.incremental import build_incremental
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.quarantine import quarantine_model
from tankerwatch.settings import SQL_DIR
from tankerwatch.warehouse import fetch_all, identifier, row_count

LAYERS = ("staging", "intermediate", "marts")


class ModelError(TankerwatchError):
    """A SQL model failed to build; the message names the model and its file."""

# Tables that exist before any model runs: loaded by ingest and reference assets.
BASE_TABLES = frozenset(
    {
        *RAW_TABLE_COLUMNS,
        "raw_parse_rejects",
        "raw_source_snapshots",
        "ref_ports",
        "ref_countries",
        "ref_volume_assumptions",
    }
)


@dataclass(frozen=True)
class Model:
    """One SQL model: a select statement materialised as a table of the same name."""

    name: str
    layer: str
    path: Path
    sql: str
    grain: str
    description: str
    columns: dict[str, str] = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    materialized: str = "table"
    # Which rows its gate validates when not the whole table, and the small tables those rows
    # also depend on (tankerwatch/gate_windows.py).
    gate_window: str | None = None
    gate_inputs: tuple[str, ...] = ()


_HEADER_LINE = re.compile(r"^--\s?(.*)$")
_COLUMN_DOC = re.compile(r"^\s+([a-z_][a-z0-9_]*):\s*(.+)$")


MATERIALIZATIONS = ("table", "view", "incremental")


@dataclass(frozen=True)
class _Header:
    description: str
    grain: str
    columns: dict[str, str]
    materialized: str
    gate_window: str | None
    gate_inputs: tuple[str, ...]


def _parse_header(sql: str) -> _Header:
    """Read the leading comment block: a description, `grain:`, `materialized:`, `gate window:`,
    `gate inputs:` and `columns:` entries."""
    description_lines: list[str] = []
    settings = {"grain": "", "materialized": "table", "gate window": None, "gate inputs": ""}
    columns: dict[str, str] = {}
    in_columns = False
    for line in sql.splitlines():
        match = _HEADER_LINE.match(line)
        if not match:
            break
        text = match.group(1)
        key = next((key for key in settings if text.startswith(f"{key}:")), None)
        if key is not None:
            settings[key] = text.removeprefix(f"{key}:").strip()
            in_columns = False
        elif text.startswith("columns:"):
            in_columns = True
        elif in_columns and (column := _COLUMN_DOC.match(text)):
            columns[column.group(1)] = column.group(2).strip()
        elif not in_columns and text.strip():
            description_lines.append(text.strip())
    return _Header(
        description=" ".join(description_lines),
        grain=settings["grain"],
        columns=columns,
        materialized=settings["materialized"],
        gate_window=settings["gate window"] or None,
        gate_inputs=tuple(name.strip() for name in settings["gate inputs"].split(",") if name.strip()),
    )


_CTE_NAME = re.compile(r"^\s*(?:with\s+)?([a-z_][a-z0-9_]*)\s+as\s*\(", re.MULTILINE)
_READ_TABLE = re.compile(r"\b(?:from|join)\s+([a-z_][a-z0-9_]*)")


def _referenced_tables(sql: str, known: set[str]) -> tuple[str, ...]:
    """Known tables the SQL reads (after `from` or `join`), other than its own CTEs, which may shadow a table name."""
    body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    read = set(_READ_TABLE.findall(body))
    ctes = set(_CTE_NAME.findall(body))
    return tuple(sorted((read - ctes) & known))


@cache
def discover_models(sql_dir: Path = SQL_DIR) -> dict[str, Model]:
    """Every model under sql/<layer>/, keyed by name, with its dependencies resolved."""
    files = {path.stem: (layer, path) for layer in LAYERS for path in sorted((sql_dir / layer).glob("*.sql"))}
    known = set(files) | set(BASE_TABLES)
    models = {}
    for name, (layer, path) in files.items():
        identifier(name)
        sql = path.read_text(encoding="utf-8")
        header = _parse_header(sql)
        if not header.grain:
            raise ValueError(f"{path}: the header must state the model's grain ('-- grain: ...')")
        if header.materialized not in MATERIALIZATIONS:
            raise ValueError(f"{path}: 'materialized: {header.materialized}' is not one of {MATERIALIZATIONS}")
        unknown_inputs = set(header.gate_inputs) - known
        if unknown_inputs:
            raise ValueError(f"{path}: 'gate inputs' names unknown tables {sorted(unknown_inputs)}")
        deps = tuple(dep for dep in _referenced_tables(sql, known) if dep != name)
        models[name] = Model(
            name, layer, path, sql, header.grain, header.description, header.columns, deps,
            header.materialized, header.gate_window, header.gate_inputs,
        )
    return models


def build_order(models: dict[str, Model]) -> list[str]:
    graph = {name: [dep for dep in model.deps if dep in models] for name, model in models.items()}
    return list(TopologicalSorter(graph).static_order())


def build_model(con: duckdb.DuckDBPyConnection, model: Model) -> int | None:
    """Materialise one model as a table (returning its row count) or define it as a view
    (returning None: counting would compute it), replacing the previous one in a single transaction.

    Views serve per-row models over millions of AIS positions: their rows are computed
    once, inside the table that reads them, instead of being written out at every layer."""
    select = model.sql.strip().rstrip(";")
    name = identifier(model.name)
    con.execute("begin transaction")
    try:
        _drop_if_other_kind(con, name, model.materialized)
        if model.materialized == "view":
            con.execute(f"create or replace view {name} as\n{select}")
            count = None
        else:
            if model.materialized == "incremental":
                build_incremental(con, model.name, select)
            else:
                con.execute(f"create or replace table {name} as\n{select}")
        # Before the count and the commit: the gate and every later model see the rows the
        # rules did not foresee already rejected (tankerwatch/quarantine.py).
        quarantine_model(con, model)
        if model.materialized != "view":
            count = row_count(con, name)
        fault_point("model")  # the fault tests' kill point: the new table or view exists, uncommitted
        con.execute("commit")
    except duckdb.Error as exc:
        con.execute("rollback")
        raise ModelError(f"model {model.name} ({model.path.relative_to(model.path.parents[2])}) failed: {exc}") from exc
    except BaseException:
        con.execute("rollback")
        raise
    return count


def _drop_if_other_kind(con: duckdb.DuckDBPyConnection, name: str, materialized: str) -> None:
    """A model that changed between table and view: `create or replace` cannot swap the kind."""
    existing = fetch_all(con, "select table_type from information_schema.tables where table_name = ?", [name])
    kind = {"BASE TABLE": "table", "VIEW": "view"}.get(existing[0][0]) if existing else None
    if kind is not None and kind != {"incremental": "table"}.get(materialized, materialized):
        con.execute(f"drop {kind} {name}")


def build_all(con: duckdb.DuckDBPyConnection, models: dict[str, Model] | None = None) -> dict[str, int | None]:
    """Build every model in dependency order; returns row counts (None for views). Used by tests and tools."""
    models = models or discover_models()
    return {name: build_model(con, models[name]) for name in build_order(models)}
