"""Model contracts: the one place a SQL model's description, grain, columns and expectations are written.

Each model `sql/<layer>/<model>.sql` has its contract beside it, `sql/<layer>/<model>.yml`
(the format of dbt's model YAML, one model per file). Everything else that states a
model's columns is generated from the contracts, never edited by hand:

    expectations/<model>.json    the GX suite its gate loads
    schemas/published.json       the published tables' columns, Arrow types and descriptions
    docs/reference/tables.md     the consumers' reference of the published tables

    python -m tankerwatch.contracts            rewrite every generated file
    python -m tankerwatch.contracts --check    exit 1 naming each generated file that is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from tankerwatch import atomic
from tankerwatch.errors import TankerwatchError
from tankerwatch.parameters import load as load_parameters
from tankerwatch.parameters import macros_with_parameters
from tankerwatch.settings import REPO_ROOT, SQL_DIR

# The version of the published tables' schema, written into schemas/published.json and into every published
# parquet file's metadata (key schema_version). Raise it with any change a consumer's code must follow: a column
# added, removed, renamed, retyped or reordered. 2: volumes and capacities in whole barrels (int64), keys not null.
PUBLISHED_SCHEMA_VERSION = 2

LAYERS = ("staging", "intermediate", "marts")
MATERIALIZATIONS = ("table", "view", "incremental")
ORDERED_COLUMNS = "expect_table_columns_to_match_ordered_list"

_CONTRACT_KEYS = frozenset(
    {"model", "description", "grain", "materialized", "published", "gate_window", "gate_inputs", "row_invariants",
     "columns", "expectations"}
)
_REQUIRED_KEYS = ("model", "description", "grain", "columns")
_COLUMN_KEYS = frozenset({"name", "type", "description", "expectations"})
# kwargs that name columns of the table the expectation runs on
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list",)
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Descriptions reach users as markdown (the Dagster UI, docs/reference/tables.md) and as the published files'
# metadata: an angle-bracket placeholder such as <imo> is taken for an HTML tag and vanishes from the UI, and a
# reference to the project's rule book means nothing to a reader of the data.
_ANGLE_BRACKETS = re.compile(r"[<>]")
_INTERNAL_TAGS = re.compile(r"\bDOMAIN\b|§")


class ContractError(TankerwatchError):
    """A model contract is missing, malformed, or disagrees with its SQL; the message names the file."""


@dataclass(frozen=True)
class Expectation:
    type: str
    kwargs: Mapping[str, Any]
    notes: str | None = None


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    expectations: tuple[Expectation, ...] = ()


@dataclass(frozen=True)
class Contract:
    path: Path
    model: str
    layer: str
    description: str
    grain: str
    columns: tuple[Column, ...]
    expectations: tuple[Expectation, ...] = ()
    materialized: str = "table"
    gate_window: str | None = None
    gate_inputs: tuple[str, ...] = ()
    row_invariants: str | None = None
    # Written to every published version as <model>.parquet, described in schemas/published.json.
    published: bool = False

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The columns that identify a row: unique (alone, or together in a compound key) and never null, as the
        contract's own expectations hold them; published files declare them not null."""
        not_null = {
            column.name for column in self.columns for e in column.expectations
            if e.type == "expect_column_values_to_not_be_null" and set(e.kwargs) == {"column"}
        }
        keys = {
            column.name for column in self.columns for e in column.expectations
            if e.type == "expect_column_values_to_be_unique" and column.name in not_null
        }
        for e in self.expectations:
            if e.type == "expect_compound_columns_to_be_unique" and set(e.kwargs["column_list"]) <= not_null:
                keys.update(e.kwargs["column_list"])
        return tuple(name for name in self.column_names if name in keys)


# --- loading -----------------------------------------------------------------------------------


def supported_expectation_types() -> frozenset[str]:
    """The expectation types the gates can run. GX drops an unknown type from a suite with only a
    log line, so a contract naming one must be refused here, before it reaches a suite."""
    from tankerwatch.gates_sql import SUPPORTED_TYPES

    return frozenset(SUPPORTED_TYPES)


def load_contract(path: Path, layer: str | None = None) -> Contract:
    """Read and check one contract file; ContractError names the file and the problem."""
    path = Path(path)
    layer = layer or path.parent.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ContractError(f"{path}: cannot read the contract: {exc}") from exc
    if not isinstance(data, dict):
        raise ContractError(f"{path}: a contract is a mapping of model, description, grain, columns, ...")
    unknown = sorted(set(data) - _CONTRACT_KEYS)
    if unknown:
        raise ContractError(f"{path}: unknown keys {unknown}; a contract may have {sorted(_CONTRACT_KEYS)}")
    for key in _REQUIRED_KEYS:
        if data.get(key) in (None, "", []):
            raise ContractError(f"{path}: the contract must state the model's {key}")
    for key in ("description", "grain"):
        if not isinstance(data[key], str):
            raise ContractError(f"{path}: '{key}' must be text")
        _check_prose(path, f"the model's {key}", data[key])
    if data["model"] != path.stem:
        raise ContractError(f"{path}: 'model: {data['model']}' must be the file's name, {path.stem}")
    materialized = data.get("materialized", "table")
    if materialized not in MATERIALIZATIONS:
        raise ContractError(f"{path}: 'materialized: {materialized}' is not one of {MATERIALIZATIONS}")
    gate_window = data.get("gate_window")
    if gate_window is not None and not isinstance(gate_window, str):
        raise ContractError(f"{path}: 'gate_window' must be text")
    gate_inputs = data.get("gate_inputs") or []
    if not isinstance(gate_inputs, list) or not all(isinstance(n, str) and _NAME.match(n) for n in gate_inputs):
        raise ContractError(f"{path}: 'gate_inputs' must be a list of table names")
    published = data.get("published", False)
    if not isinstance(published, bool):
        raise ContractError(f"{path}: 'published' must be true or false")
    row_invariants = data.get("row_invariants")
    if row_invariants is not None and not isinstance(row_invariants, str):
        raise ContractError(f"{path}: 'row_invariants' must be text")

    if not isinstance(data["columns"], list):
        raise ContractError(f"{path}: 'columns' must be a list")
    columns = [_column(path, index, entry) for index, entry in enumerate(data["columns"])]
    names = [column.name for column in columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ContractError(f"{path}: columns {repeated} are listed more than once")
    table_level = _expectations(path, "expectations", data.get("expectations"), column=None)
    contract = Contract(
        path=path, model=data["model"], layer=layer, description=" ".join(data["description"].split()),
        grain=data["grain"].strip(), columns=tuple(columns), expectations=tuple(table_level),
        materialized=materialized, gate_window=gate_window, gate_inputs=tuple(gate_inputs),
        row_invariants=" ".join(row_invariants.split()) if row_invariants else None, published=published,
    )
    _check_expectations(contract)
    return contract


def _column(path: Path, index: int, entry: Any) -> Column:
    where = f"{path}: column #{index}"
    if not isinstance(entry, dict):
        raise ContractError(f"{where} must be a mapping with name, type, description")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ContractError(f"{where} needs a lower-case 'name'")
    where = f"{path}: column {name}"
    unknown = sorted(set(entry) - _COLUMN_KEYS)
    if unknown:
        raise ContractError(f"{where}: unknown keys {unknown}; a column may have {sorted(_COLUMN_KEYS)}")
    for key in ("type", "description"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ContractError(f"{where}: the column must state its {key}")
    _check_prose(path, f"column {name}: its description", entry["description"])
    expectations = _expectations(path, f"column {name}", entry.get("expectations"), column=name)
    return Column(name, entry["type"].strip().lower(), " ".join(entry["description"].split()), tuple(expectations))


def _check_prose(path: Path, where: str, text: str) -> None:
    """Refuse user-facing text a reader would see mangled (angle brackets) or could not follow (internal tags)."""
    bracket = _ANGLE_BRACKETS.search(text)
    if bracket:
        shown = text[max(bracket.start() - 20, 0) : bracket.end() + 20].strip()
        raise ContractError(
            f"{path}: {where} has '{bracket.group()}' (in \"...{shown}...\"): descriptions render as markdown, where "
            "<...> is read as an HTML tag and disappears; say it in words (e.g. 'the IMO, a hyphen, then the load "
            "departure as yyyymmddThhmmss', 'from empty to laden', 'at least')"
        )
    tag = _INTERNAL_TAGS.search(text)
    if tag:
        raise ContractError(
            f"{path}: {where} cites '{tag.group()}', which a user of the data cannot look up; "
            "state the rule itself in words"
        )


def _expectations(path: Path, where: str, entries: Any, column: str | None) -> list[Expectation]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ContractError(f"{path}: {where}: 'expectations' must be a list")
    out = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            etype, kwargs = entry, {}
        elif isinstance(entry, dict) and len(entry) == 1:
            etype, kwargs = next(iter(entry.items()))
            kwargs = {} if kwargs is None else kwargs
            if not isinstance(kwargs, dict):
                raise ContractError(f"{path}: {where}: expectation {etype} takes a mapping of its arguments")
        else:
            raise ContractError(
                f"{path}: {where}: expectation #{index} must be a GX type or a one-key mapping {{type: kwargs}}"
            )
        kwargs = dict(kwargs)
        notes = kwargs.pop("notes", None)
        if column is not None:
            if "column" in kwargs:
                raise ContractError(f"{path}: {where}: {etype} under a column must not name 'column' again")
            kwargs = {"column": column, **kwargs}
        out.append(Expectation(etype, kwargs, notes))
    return out


def _check_expectations(contract: Contract) -> None:
    supported = supported_expectation_types()
    names = set(contract.column_names)
    everything = [e for column in contract.columns for e in column.expectations] + list(contract.expectations)
    for expectation in everything:
        if expectation.type == ORDERED_COLUMNS:
            raise ContractError(
                f"{contract.path}: {ORDERED_COLUMNS} is generated from the column order; do not write it"
            )
        if expectation.type not in supported:
            raise ContractError(
                f"{contract.path}: unknown expectation type {expectation.type!r}; the gates run {sorted(supported)}"
            )
        named = [expectation.kwargs[key] for key in _COLUMN_KWARGS if key in expectation.kwargs]
        for key in _COLUMN_LIST_KWARGS:
            named.extend(expectation.kwargs.get(key) or [])
        missing = [name for name in named if name not in names]
        if missing:
            raise ContractError(
                f"{contract.path}: {expectation.type} names columns {missing} the contract does not list"
            )


def discover_contracts(sql_dir: Path = SQL_DIR) -> dict[str, Contract]:
    """The contract of every model under sql/<layer>/; a model without one, or a contract without
    its model, is refused with the file named."""
    contracts = {}
    for layer in LAYERS:
        folder = Path(sql_dir) / layer
        for sql_path in sorted(folder.glob("*.sql")):
            yml_path = sql_path.with_suffix(".yml")
            if not yml_path.exists():
                raise ContractError(f"{sql_path}: the model has no contract; write {yml_path.name} beside it")
            contracts[sql_path.stem] = load_contract(yml_path, layer)
        for yml_path in sorted(folder.glob("*.yml")):
            if not yml_path.with_suffix(".sql").exists():
                raise ContractError(f"{yml_path}: a contract without its model {yml_path.with_suffix('.sql').name}")
    return contracts


@cache
def _contracts_read_once(sql_dir: Path) -> Mapping[str, Contract]:
    # For the readers in a pipeline process (publishing, the published list), which would otherwise parse
    # every contract again per table; a generator or a test reading changed files calls discover_contracts.
    return MappingProxyType(discover_contracts(sql_dir))


def model_contract(table: str, sql_dir: Path = SQL_DIR) -> Contract | None:
    """The contract of the model `table`, read once per process; None when `table` is no model."""
    return _contracts_read_once(Path(sql_dir)).get(table)


# --- generated files ---------------------------------------------------------------------------


def suite(contract: Contract) -> dict[str, Any]:
    """The GX suite of a model, in the JSON the gates load."""
    meta: dict[str, Any] = {"stage": contract.layer, "table": contract.model, "notes": f"Grain: {contract.grain}."}
    if contract.row_invariants:
        meta["row_invariants"] = contract.row_invariants
    expectations: list[dict[str, Any]] = [
        {"type": ORDERED_COLUMNS, "kwargs": {"column_list": contract.column_names}}
    ]
    for expectation in [e for column in contract.columns for e in column.expectations] + list(contract.expectations):
        entry: dict[str, Any] = {"type": expectation.type, "kwargs": dict(expectation.kwargs)}
        if expectation.notes:
            entry["notes"] = expectation.notes
        expectations.append(entry)
    return {"name": contract.model, "meta": meta, "expectations": expectations}


_SIMPLE_ARROW_TYPES = {
    "boolean": "bool",
    "tinyint": "int8",
    "smallint": "int16",
    "integer": "int32",
    "bigint": "int64",
    "utinyint": "uint8",
    "usmallint": "uint16",
    "uinteger": "uint32",
    "ubigint": "uint64",
    "float": "float",
    "double": "double",
    "date": "date32[day]",
    "time": "time64[us]",
    "timestamp": "timestamp[us]",
    "timestamp with time zone": "timestamp[us, tz=UTC]",
    "varchar": "string",
    "blob": "binary",
    "uuid": "string",
}


def arrow_type(duckdb_type: str) -> str:
    """The Arrow type (as `str(pyarrow type)`) a DuckDB column has when read back from the
    parquet file DuckDB's COPY writes; ValueError for a type with no such reading here."""
    text = duckdb_type.strip().lower()
    if text.endswith("[]"):
        return f"list<element: {arrow_type(text[:-2])}>"
    if text in _SIMPLE_ARROW_TYPES:
        return _SIMPLE_ARROW_TYPES[text]
    decimal = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", text)
    if decimal:
        return f"decimal128({decimal.group(1)}, {decimal.group(2)})"
    if text.startswith("struct(") and text.endswith(")"):
        fields = [_struct_field(part) for part in _split_top_level(text[len("struct("):-1])]
        return "struct<" + ", ".join(f"{name}: {arrow_type(kind)}" for name, kind in fields) + ">"
    raise ValueError(f"no Arrow type known for DuckDB type {duckdb_type!r}")


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _struct_field(text: str) -> tuple[str, str]:
    name, _, kind = text.partition(" ")
    return name.strip('"'), kind


def published_contracts(contracts: Mapping[str, Contract], tables: Iterable[str] | None = None) -> list[Contract]:
    """The contracts of the published tables (by default those whose contract says `published: true`), by name."""
    if tables is None:
        return [contracts[name] for name in sorted(contracts) if contracts[name].published]
    missing = [table for table in tables if table not in contracts]
    if missing:
        raise ContractError(f"published tables {missing} have no model contract under sql/")
    return [contracts[table] for table in sorted(tables)]


def published_tables(sql_dir: Path = SQL_DIR) -> tuple[str, ...]:
    """The models every published version holds, by name: those whose contract says `published: true`."""
    return tuple(contract.model for contract in published_contracts(_contracts_read_once(Path(sql_dir))))


def published_schema(published: Iterable[Contract]) -> dict[str, Any]:
    """schemas/published.json: per published table, its columns in order with Arrow type and description."""
    tables = {}
    for contract in published:
        columns = []
        for column in contract.columns:
            try:
                kind = arrow_type(column.type)
            except ValueError as exc:
                raise ContractError(f"{contract.path}: column {column.name}: {exc}") from exc
            entry = {"column": column.name, "type": kind, "description": column.description}
            if column.name in contract.key_columns:
                entry["key"] = True
            columns.append(entry)
        tables[contract.model] = columns
    return {"format_version": 1, "schema_version": PUBLISHED_SCHEMA_VERSION, "tables": tables}


def tables_reference(published: Iterable[Contract]) -> str:
    """docs/reference/tables.md: what a consumer of the published files reads."""
    published = list(published)
    lines = [
        "# Published tables",
        "",
        "<!-- Generated from sql/**/*.yml by `python -m tankerwatch.contracts`; edit the contracts, not this page. -->",
        "",
        "Every published version holds one parquet file per table below (`<table>.parquet`),",
        "each column with the type shown. Column and table descriptions are also stored in the",
        "parquet files' field and schema metadata (key `description`), with the dataset, version id,",
        f"run id and schema version (now {PUBLISHED_SCHEMA_VERSION}); key columns, marked **key** below, are",
        "never null.",
        "Volumes and capacities (`*_bbl`) are whole barrels.",
        "",
        "| Table | Grain |",
        "| --- | --- |",
    ]
    lines += [f"| [`{c.model}`](#{c.model}) | {_cell(c.grain)} |" for c in published]
    for contract in published:
        lines += ["", f"## {contract.model}", "", _md(contract.description), ""]
        lines += [f"**Grain:** {_md(contract.grain)}.", ""]
        lines += ["| Column | Type | Description |", "| --- | --- | --- |"]
        for column in contract.columns:
            key = " (**key**)" if column.name in contract.key_columns else ""
            lines.append(f"| `{column.name}`{key} | `{arrow_type(column.type)}` | {_cell(column.description)} |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Prose as markdown text: descriptions write ids as `<imo>-<time>`, which markdown would take for tags."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    return _md(text).replace("|", "\\|").replace("\n", " ")


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def generated_files(root: Path = REPO_ROOT, published_tables: Iterable[str] | None = None) -> dict[Path, str]:
    """Every file generated from the contracts under `root`, with the text it must have."""
    root = Path(root)
    contracts = discover_contracts(root / "sql")
    files = {root / "expectations" / f"{name}.json": _json(suite(contract)) for name, contract in contracts.items()}
    published = published_contracts(contracts, published_tables)
    files[root / "schemas" / "published.json"] = _json(published_schema(published))
    files[root / "docs" / "reference" / "tables.md"] = tables_reference(published)
    # the domain constants' macros (sql/parameters.yml), so one command regenerates everything
    macros = root / "sql" / "macros.sql"
    parameters = load_parameters(root / "sql" / "parameters.yml")
    files[macros] = macros_with_parameters(macros.read_text(encoding="utf-8"), parameters)
    return files


def stale_files(root: Path = REPO_ROOT, published_tables: Iterable[str] | None = None) -> list[Path]:
    stale = []
    for path, text in generated_files(root, published_tables).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


def write_generated(root: Path = REPO_ROOT, published_tables: Iterable[str] | None = None) -> list[Path]:
    """Rewrite the generated files that differ; returns those written."""
    written = []
    for path, text in generated_files(root, published_tables).items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tankerwatch.contracts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 naming each stale generated file")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_files(args.root)
            for path in stale:
                print(f"stale: {path} (run python -m tankerwatch.contracts)", file=sys.stderr)
            return 1 if stale else 0
        for path in write_generated(args.root):
            print(f"wrote {path}")
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
