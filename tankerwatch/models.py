"""The SQL models of sql/: discovery (each with its contract, tankerwatch/contracts.py), dependency order,
and building one model."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from tankerwatch.contracts import LAYERS, MATERIALIZATIONS, Contract, ContractError, discover_contracts
from tankerwatch.errors import TankerwatchError
from tankerwatch.faults import fault_point
from tankerwatch.incremental import build_incremental
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.quarantine import quarantine_model
from tankerwatch.settings import SQL_DIR
from tankerwatch.warehouse import fetch_all, identifier, row_count

__all__ = ["BASE_TABLES", "LAYERS", "MATERIALIZATIONS", "Model", "ModelError", "build_all", "build_model",
           "build_order", "discover_models"]


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
    contract: Contract | None = None


def _referenced_tables(path: Path, sql: str, known: set[str]) -> tuple[str, ...]:
    """Known tables the SQL reads, other than its own CTEs, which may shadow a table name."""
    try:
        tree = parse_one(sql, read="duckdb")
    except SqlglotError as exc:
        raise ModelError(f"{path}: the SQL does not parse, so its dependencies are unknown: {exc}") from exc
    read = {table.name for table in tree.find_all(exp.Table)}
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return tuple(sorted((read - ctes) & known))


@cache
def discover_models(sql_dir: Path = SQL_DIR) -> dict[str, Model]:
    """Every model under sql/<layer>/, keyed by name, with its contract and dependencies."""
    contracts = discover_contracts(sql_dir)
    known = set(contracts) | set(BASE_TABLES)
    models = {}
    for name, contract in contracts.items():
        identifier(name)
        path = contract.path.with_suffix(".sql")
        sql = path.read_text(encoding="utf-8")
        unknown_inputs = set(contract.gate_inputs) - known
        if unknown_inputs:
            raise ContractError(f"{contract.path}: 'gate_inputs' names unknown tables {sorted(unknown_inputs)}")
        deps = tuple(dep for dep in _referenced_tables(path, sql, known) if dep != name)
        models[name] = Model(
            name, contract.layer, path, sql, contract.grain, contract.description,
            {column.name: column.description for column in contract.columns}, deps,
            contract.materialized, contract.gate_window, contract.gate_inputs, contract,
        )
    return models


def models_read(models: dict[str, Model], name: str) -> list[str]:
    """The SQL of the models `name` reads, and of those the views among them read in turn, each as
    "<model>\n<sql>". An incremental build's fingerprint covers them: a rule moved out of its select into a
    model it reads still rebuilds its rows when the rule changes. A table read is not followed; its own
    build answers for its inputs."""
    texts: list[str] = []
    seen: set[str] = set()
    pending = [name]
    while pending:
        for dep in models[pending.pop()].deps:
            if dep in models and dep not in seen:
                seen.add(dep)
                texts.append(f"{dep}\n{models[dep].sql}")
                if models[dep].materialized == "view":
                    pending.append(dep)
    return texts


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
                reads = models_read(discover_models(model.path.parent.parent), model.name)
                build_incremental(con, model.name, select, reads)
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
