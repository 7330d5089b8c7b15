"""Tests generated from the suites: what may stop a publish, and what becomes a reject and a warning.

Every expectation of every suite is classified here, so a new one is covered (or refused) on its own:

- a row-level expectation conditioned on `reject_reason` being null (quarantine.USED_ROWS) is
  quarantined (tankerwatch/quarantine.py):
  for each one, a row violating it is fed to its model, once in a whole demo run with every such row at
  once and once on the table alone; the run publishes, the row is in `rejects` with the expectation as
  its reason, and the WARN check counts it;
- a row-level expectation in a model that carries `reject_reason` must be quarantined, unless it speaks
  of `reject_reason` itself; every reason the model's SQL can write must then satisfy it;
- a row-level expectation on a raw table must be part of the parser's contract (RAW_CONTRACT below);
- a row-level expectation of a publish suite (a frame describing the written set against the warehouse)
  states set consistency;
- a row-level expectation anywhere else (no `reject_reason`: references, intermediate tables, marts)
  is blocking and its suite must say, in meta.row_invariants, why upstream rejects guarantee it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import re
from typing import Any

import duckdb
import polars as pl
import pytest

import tankerwatch.models as models_module
from orchestration.cli import main
from tankerwatch.gate_spec import quote_identifier
from tankerwatch.gates_sql import ROW_LEVEL_TYPES, _Context, _RowCondition, validate_table_in_sql
from tankerwatch.models import discover_models
from tankerwatch.publish import resolve_current
from tankerwatch.quarantine import (
    QUARANTINE_CHECK,
    QUARANTINE_PREFIX,
    USED_ROWS,
    is_quarantinable,
    quarantine_model,
    quarantined_counts,
)
from tankerwatch.settings import EXPECTATIONS_DIR, SQL_DIR
from tests.synthetic_days import fleet  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

SUITES = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(EXPECTATIONS_DIR.glob("*.json"))}
MODELS = discover_models()
WITH_REASON = sorted(name for name, model in MODELS.items() if "reject_reason" in model.columns)

# What every parser guarantees of every row it writes: where the row came from.
LINEAGE = {"source_name", "snapshot_id", "source_row"}
# Row-level expectations on raw tables beyond lineage, each a guarantee of the parser that writes the table.
RAW_CONTRACT = {
    ("raw_ais_positions", "msg_type"): "the NMEA decoder emits only position messages of these types",
    ("raw_ais_static", "msg_type"): "the NMEA decoder emits only static messages of these types",
    (
        "raw_ais_positions",
        "mmsi",
    ): "the decoder reads the MMSI from every message (any 30-bit value: staging checks it)",
    ("raw_ais_static", "mmsi"): "the decoder reads the MMSI from every message (any 30-bit value: staging checks it)",
    ("raw_ofac_alt", "ent_num"): "an integer column: a line without it is a parse reject",
    ("raw_ofac_alt", "alt_num"): "an integer column: a line without it is a parse reject",
    ("raw_ofac_sdn", "ent_num"): "an integer column: a line without it is a parse reject",
    ("raw_ofac_sdn_comments", "ent_num"): "an integer column: a line without it is a parse reject",
    ("raw_opensanctions_sanctions", "entity_id"): "a FtM entity without an id is a parse reject",
    ("raw_opensanctions_vessels", "entity_id"): "a FtM entity without an id is a parse reject",
    ("raw_un_designations", "record_type"): "the parser names the record by its XML element",
    ("raw_gfw_vessels", "info_kind"): "the parser names the block of the GFW record it read",
}


def _columns(entry: dict) -> tuple[str, ...]:
    kwargs = entry.get("kwargs", {})
    if "column" in kwargs:
        return (kwargs["column"],)
    return tuple(kwargs[k] for k in ("column_A", "column_B") if k in kwargs)


def _quarantinable() -> list[tuple[str, int]]:
    return [
        (name, index)
        for name, suite in SUITES.items()
        for index, entry in enumerate(suite["expectations"])
        if is_quarantinable(entry)
    ]


QUARANTINABLE = _quarantinable()


# --- the classification --------------------------------------------------------------------------


def test_every_row_level_expectation_is_classified():
    unclassified = []
    for name, suite in SUITES.items():
        stage = suite["meta"]["stage"]
        for index, entry in enumerate(suite["expectations"]):
            if entry["type"] not in ROW_LEVEL_TYPES or is_quarantinable(entry):
                continue
            columns = _columns(entry)
            where = f"{name} #{index} {entry['type']} {columns}"
            if name in WITH_REASON:
                if columns != ("reject_reason",):
                    unclassified.append(f"{where}: a model with reject_reason must condition it on {USED_ROWS}")
            elif stage == "raw":
                if not (set(columns) <= LINEAGE or all((name, c) in RAW_CONTRACT for c in columns)):
                    unclassified.append(f"{where}: a raw suite states the parser's contract, not value rules")
            elif stage == "publish":
                # A publish suite validates a frame describing the written set against the warehouse
                # (files, schema, accounting, report): each row states set consistency.
                continue
            elif not str(suite["meta"].get("row_invariants", "")).strip():
                unclassified.append(f"{where}: blocking; meta.row_invariants must say why upstream guarantees it")
    assert unclassified == []


def test_every_model_with_reject_reason_quarantines_and_is_read_by_rejects():
    rejects_sql = (SQL_DIR / "marts" / "rejects.sql").read_text(encoding="utf-8")
    ais_rejects_sql = (SQL_DIR / "intermediate" / "int_ais_rejects.sql").read_text(encoding="utf-8")
    for name in WITH_REASON:
        assert any(n == name for n, _ in QUARANTINABLE), f"{name} has reject_reason but nothing to quarantine"
        assert re.search(rf"\bfrom {name}\b", rejects_sql + ais_rejects_sql), f"rejects does not read {name}"


def test_raw_suites_keep_no_value_rule_on_the_mmsi():
    # A 30-bit MMSI the decoder emits (1073741823) is a staging reject, never a raw gate failure.
    for name in ("raw_ais_positions", "raw_ais_static"):
        assert not [e for e in SUITES[name]["expectations"] if e["type"].endswith("match_regex")]


# --- reasons written by the SQL satisfy the model's own suite --------------------------------------


def _parse_select(sql: str) -> dict:
    """DuckDB's own parse tree of a statement (json_serialize_sql): the dialect the models are written in."""
    with duckdb.connect() as con:
        tree = json.loads(con.execute("select json_serialize_sql(?)", [sql]).fetchone()[0])
    assert not tree.get("error"), tree.get("error_message")
    return tree


def _macros() -> dict[str, dict]:
    """The scalar macros of sql/macros.sql, by name, as the parse trees of their bodies."""
    text = (SQL_DIR / "macros.sql").read_text(encoding="utf-8")
    out = {}
    # A statement may end in a comment (the SQL linter's noqa).
    statement = r"create or replace macro ([a-z_0-9]+)\s*\([^)]*\)\s+as\s+(.*?);[ \t]*(?:--[^\n]*)?$"
    for match in re.finditer(statement, text, re.S | re.M):
        body = match.group(2)
        if body.lstrip().lower().startswith("table"):
            continue
        tree = _parse_select(f"select {body}")
        out[match.group(1)] = tree["statements"][0]["node"]["select_list"][0]
    return out


MACROS = _macros()
PLACEHOLDER = "X"


def _samples(node: dict, depth: int = 0) -> list[str] | None:
    """Every text the expression can produce as a reason, with PLACEHOLDER for each value taken from the
    row; None for a reason read from another relation (that relation's own, checked there)."""
    if depth > 8:
        return None
    kind = node.get("class")
    if kind == "CONSTANT":
        literal = node["literal"]
        return [literal["text"]] if literal.get("kind") == "STRING" else []
    if kind == "CASE":
        out: list[str] = []
        for check in node["case_checks"]:
            out += _samples(check["then_expr"], depth) or []
        out += _samples(node["else_expr"], depth) or []
        return out
    if kind == "CAST":
        return _samples(node["child"], depth) or [PLACEHOLDER]
    if kind == "OPERATOR" and node["type"] == "OPERATOR_COALESCE":
        out = []
        for child in node["children"]:
            out += _samples(child, depth) or []
        return out or [PLACEHOLDER]
    if kind == "COLUMN_REF":
        return None
    if kind == "FUNCTION":
        name = node["function_name"].lower()
        args = [a["expression"] if "expression" in a else a for a in node["arguments"]]
        if name in ("||", "concat"):
            texts = [""]
            for arg in args:
                options = _samples(arg, depth) or [PLACEHOLDER]
                texts = [t + o for t in texts for o in options]
            return texts
        if name == "format" and args and args[0].get("class") == "CONSTANT":
            return [args[0]["literal"]["text"].replace("{}", PLACEHOLDER)]
        if name in MACROS:
            return _samples(MACROS[name], depth + 1)
    return [PLACEHOLDER]


def _reason_expressions(tree: Any) -> list[dict]:
    found = []
    if isinstance(tree, dict):
        if tree.get("alias") == "reject_reason" and "class" in tree:
            found.append(tree)
        for value in tree.values():
            found += _reason_expressions(value)
    elif isinstance(tree, list):
        for value in tree:
            found += _reason_expressions(value)
    return found


def _reasons(name: str) -> list[str]:
    out = []
    for expression in _reason_expressions(_parse_select(MODELS[name].sql)):
        out += _samples(expression) or []
    return sorted(set(out))


def _accepts(entry: dict, value: str) -> bool:
    kwargs = entry["kwargs"]
    if entry["type"] == "expect_column_values_to_match_regex":
        return re.search(kwargs["regex"], value) is not None
    if entry["type"] == "expect_column_values_to_be_in_set":
        return value in kwargs["value_set"]
    if entry["type"] == "expect_column_values_to_not_be_null":
        return True
    raise AssertionError(f"no sample check for {entry['type']} on reject_reason")


@pytest.mark.parametrize("name", WITH_REASON)
def test_every_reason_the_sql_writes_satisfies_the_models_suite(name):
    reasons = _reasons(name)
    assert reasons, f"no reject reason found in the SQL of {name}"
    on_reason = [e for e in SUITES[name]["expectations"] if _columns(e) == ("reject_reason",)]
    quarantine_sample = f"{QUARANTINE_PREFIX}column_values_to_be_between on {PLACEHOLDER}: {PLACEHOLDER}"
    for entry in on_reason:
        refused = [r for r in [*reasons, quarantine_sample] if not _accepts(entry, r)]
        assert refused == [], f"{name}: {entry['type']} {entry['kwargs']} refuses reasons its SQL writes"


def test_int_sightings_writes_both_kinds_of_further_position():
    # A repeat (same position) and a second receiver's different position in the same second.
    reasons = _reasons("int_sightings")
    assert any(r.startswith("repeat of AIS position ") for r in reasons)
    assert any(r.startswith("another AIS position of ") for r in reasons)


# --- violating rows ---------------------------------------------------------------------------------


def _row_dicts(con, sql: str, params: Any = None) -> list[dict]:
    cursor = con.execute(sql, params or {})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _column_types(con, relation: str) -> dict[str, str]:
    relation_ = con.sql(f"select * from {relation}")
    return {n: str(t) for n, t in zip(relation_.columns, relation_.types, strict=True)}


def _shift(value: Any, sql_type: str, direction: int) -> Any:
    if isinstance(value, dt.datetime):
        return value + direction * dt.timedelta(days=1)
    if isinstance(value, dt.date):
        return value + direction * dt.timedelta(days=1)
    if sql_type in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT") or isinstance(value, int):
        return int(value) + direction
    return float(value) + direction


def _bound(value: Any, sql_type: str) -> Any:
    if sql_type.startswith("TIMESTAMP") and isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo or sql_type == "TIMESTAMP" else parsed.replace(tzinfo=dt.UTC)
    return value


def _typed_value(sql_type: str) -> Any:
    if sql_type.startswith("TIMESTAMP"):
        return dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    if sql_type == "DATE":
        return dt.date(2024, 6, 1)
    if sql_type == "VARCHAR":
        return "value"
    return 1


def _matching(regex: str) -> str:
    """A text matching a one-class pattern such as ^[0-9]{7}$ (the form the suites use)."""
    match = re.fullmatch(r"\^\[(.)[^\]]*\]\{(\d+)\}\$", regex)
    assert match, f"no sample text for regex {regex!r}"
    return match.group(1) * int(match.group(2))


def _blank_row(types: dict[str, str], entries: list[dict]) -> dict:
    """A row for a model the demo gives no rows: lineage, and a value that passes every expectation on
    each column that must not be missing; every other value missing."""
    row: dict[str, Any] = dict.fromkeys(types)
    row.update({"source_name": "injected", "snapshot_id": "injected", "source_row": 1})
    required = {e["kwargs"]["column"] for e in entries if e["type"] == "expect_column_values_to_not_be_null"}
    for column in required:
        value = _typed_value(types[column])
        for entry in entries:
            kwargs = entry["kwargs"]
            if kwargs.get("column") != column:
                continue
            if entry["type"] == "expect_column_values_to_match_regex":
                value = _matching(kwargs["regex"])
            elif entry["type"] == "expect_column_values_to_be_in_set":
                value = kwargs["value_set"][0]
            elif entry["type"] == "expect_column_values_to_be_between":
                value = _bound(
                    kwargs["min_value"] if kwargs.get("min_value") is not None else kwargs["max_value"], types[column]
                )
        row[column] = value
    return {name: value for name, value in row.items() if name in types}


_SERIAL = itertools.count(1)
INJECTED_IMO = "9999993"


def violating_row(con, relation: str, entry: dict, entries: list[dict]) -> dict:
    """A row of `relation` the rules used (of the suite's `entries`), changed so that it violates `entry`."""
    kwargs = entry["kwargs"]
    types = _column_types(con, relation)
    ctx = _Context(con, relation)
    condition = _RowCondition(kwargs["row_condition"], "test")
    sql = condition.sql(ctx)
    rows = _row_dicts(con, f"select * from {relation} where {sql.text} limit 1", dict(sql.params))
    if not rows:
        # No used row meets the extra condition: take one and make it meet the condition's is-null terms.
        rows = _row_dicts(con, f"select * from {relation} where reject_reason is null limit 1") or [
            _blank_row(types, entries)
        ]
        terms = condition.tree[1] if condition.tree[0] == "and" else [condition.tree]
        for column in (term[1] for term in terms if term[0] == "nullity" and term[2]):
            rows[0][column] = None
    row = dict(rows[0])
    # A row of its own, not a second copy of a used one (a join on its id would double the original).
    serial = next(_SERIAL)
    if "source_row" in row:
        row["source_row"] = -serial
    if "sighting_id" in row and row["sighting_id"] is not None:
        row["sighting_id"] = f"injected-{serial}"
    # nor a row in a real vessel's sequence (int_port_calls reads the reject rows of each sequence)
    if row.get("imo") is not None and "imo" not in _columns(entry):
        row["imo"] = INJECTED_IMO
    etype = entry["type"]
    if etype == "expect_column_values_to_not_be_null":
        row[kwargs["column"]] = None
    elif etype == "expect_column_values_to_be_between":
        column = kwargs["column"]
        sql_type = types[column]
        if kwargs.get("min_value") is not None:
            row[column] = _shift(_bound(kwargs["min_value"], sql_type), sql_type, -1)
        else:
            row[column] = _shift(_bound(kwargs["max_value"], sql_type), sql_type, +1)
    elif etype == "expect_column_values_to_be_in_set":
        column = kwargs["column"]
        if types[column] == "VARCHAR":
            row[column] = "not one of the set"
        else:
            row[column] = max(v for v in kwargs["value_set"] if isinstance(v, (int, float))) + 1
    elif etype == "expect_column_values_to_match_regex":
        column = kwargs["column"]
        value = "not matching" if types[column] == "VARCHAR" else -1
        assert re.search(kwargs["regex"], str(value)) is None
        row[column] = value
    elif etype in ("expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_equal"):
        a, b = kwargs["column_A"], kwargs["column_B"]
        if row[b] is None:
            row[b] = row[a] if row[a] is not None else _typed_value(types[b])
        assert row[b] is not None, f"{relation}: no value to compare {a} with {b}"
        row[a] = _shift(row[b], types[a], -1)
    else:
        raise AssertionError(f"no violating row for {etype}")
    return row


def _insert(con, table: str, rows: list[dict]) -> None:
    for row in rows:
        names = list(row)
        columns = ", ".join(quote_identifier(n) for n in names)
        placeholders = ", ".join(f"${i + 1}" for i in range(len(names)))
        con.execute(f"insert into {quote_identifier(table)} ({columns}) values ({placeholders})", list(row.values()))


# --- one demo run with every violating row at once -----------------------------------------------------


@pytest.fixture(scope="module")
def injected_run(tmp_path_factory):
    """`tankerwatch run` on the demo, each model with quarantinable expectations fed one violating row per
    expectation right after it is built (a view: the rows are part of its select)."""
    data_dir = tmp_path_factory.mktemp("injected")
    real = models_module.quarantine_model
    injected: dict[str, list[int]] = {}

    def inject_then_quarantine(con, model, *args, **kwargs):
        indexes = [i for n, i in QUARANTINABLE if n == model.name]
        if indexes:
            suite = SUITES[model.name]
            relation = quote_identifier(model.name)
            rows = [violating_row(con, relation, suite["expectations"][i], suite["expectations"]) for i in indexes]
            if model.materialized == "view":
                table = f"injected__{model.name}"
                con.execute(f"create or replace table {quote_identifier(table)} as select * from {relation} limit 0")
                _insert(con, table, rows)
                select = model.sql.strip().rstrip(";")
                model = dataclasses.replace(
                    model, sql=f"select * from (\n{select}\n) union all select * from {quote_identifier(table)}"
                )
                con.execute(f"create or replace view {relation} as {model.sql}")
            else:
                _insert(con, model.name, rows)
            injected[model.name] = indexes
        return real(con, model, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(models_module, "quarantine_model", inject_then_quarantine)
    try:
        code = main(["run", "--data-dir", str(data_dir)])
    finally:
        mp.undo()
    return code, data_dir, injected


def test_injected_run_publishes_the_exact_answers(injected_run, capsys):
    code, data_dir, injected = injected_run
    assert code == 0
    current = resolve_current(data_dir / "published")
    assert current is not None, "nothing was published"
    voyages = pl.read_parquet(current / "voyages.parquet")
    assert voyages.height == 43
    assert voyages["imo"].n_unique() == 15
    # every model that could be fed a violating row was fed one per quarantinable expectation
    assert sorted(injected) == sorted({n for n, _ in QUARANTINABLE})
    assert sum(len(v) for v in injected.values()) == len(QUARANTINABLE)


@pytest.mark.parametrize(("name", "index"), QUARANTINABLE, ids=[f"{n}#{i}" for n, i in QUARANTINABLE])
def test_each_violating_row_is_in_rejects_with_its_reason_and_counted(injected_run, name, index):
    _, data_dir, _ = injected_run
    current = resolve_current(data_dir / "published")
    rejects = pl.read_parquet(current / "rejects.parquet")
    entry = SUITES[name]["expectations"][index]
    label = f"{entry['type'].removeprefix('expect_')} on {', '.join(_columns(entry))}"
    prefix = f"{QUARANTINE_PREFIX}{label}: "
    mine = rejects.filter((pl.col("table_name") == name) & pl.col("reason").str.starts_with(prefix))
    assert mine.height == 1, f"{name}: expected the violating row of '{label}' in rejects"
    assert mine["reason"][0].endswith("(no rule foresaw it)")
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        counts = {c.expectation_index: c.rows for c in quarantined_counts(con, name)}
    assert counts[index] == 1


def test_the_warn_check_names_every_model_with_quarantined_rows(injected_run):
    _, data_dir, injected = injected_run
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select table_name, sum(rows) from quarantined_rows group by all having sum(rows) > 0"
        ).fetchall()
    assert dict(rows) == {name: len(indexes) for name, indexes in injected.items()}


def test_warn_checks_are_non_blocking_and_exist_for_every_quarantining_model():
    from orchestration.definitions import defs

    found = {}
    for checks in defs.asset_checks:
        for spec in checks.check_specs:
            found[(spec.asset_key.path[-1], spec.name)] = spec
    for name in {n for n, _ in QUARANTINABLE}:
        spec = found[(name, QUARANTINE_CHECK)]
        assert spec.blocking is False


# --- the quarantine on each table alone ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("plain")
    assert main(["run", "--data-dir", str(data_dir)]) == 0
    return data_dir / "warehouse.duckdb"


@pytest.mark.parametrize("name", sorted({n for n, _ in QUARANTINABLE}))
def test_quarantine_on_each_table_rejects_exactly_the_violating_rows(demo_warehouse, tmp_path, name):
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(demo_warehouse.read_bytes())
    model = MODELS[name]
    indexes = [i for n, i in QUARANTINABLE if n == name]
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'UTC'")
        relation = quote_identifier(name)
        # the model's rows as a table, so rows can be added to a view's too
        con.execute(f"create table copy_rows as select * from {relation}")
        kind = con.execute("select table_type from information_schema.tables where table_name = ?", [name]).fetchall()
        con.execute(f"drop {'view' if kind[0][0] == 'VIEW' else 'table'} {relation}")
        con.execute(f"alter table copy_rows rename to {relation}")
        used_before = con.execute(f"select count(*) from {relation} where reject_reason is null").fetchall()[0][0]
        rows = [
            violating_row(con, relation, SUITES[name]["expectations"][i], SUITES[name]["expectations"]) for i in indexes
        ]
        _insert(con, name, rows)
        counts = quarantine_model(con, dataclasses.replace(model, materialized="table", gate_window=None))
        assert {c.expectation_index: c.rows for c in counts} == {i: 1 for i in indexes}
        used_after = con.execute(f"select count(*) from {relation} where reject_reason is null").fetchall()[0][0]
        assert used_after == used_before, "the quarantine took out rows the rules had used"
        reasons = [
            r
            for (r,) in con.execute(
                f"select reject_reason from {relation} where starts_with(reject_reason, ?)", [QUARANTINE_PREFIX]
            ).fetchall()
        ]
        assert len(reasons) == len(indexes)
        result = validate_table_in_sql(con, name, EXPECTATIONS_DIR / f"{name}.json")
        assert result.success, result.summary()
        # a second quarantine (a later build over the same rows) changes nothing
        again = quarantine_model(con, dataclasses.replace(model, materialized="table", gate_window=None))
        assert again == counts


def test_the_gate_without_quarantine_would_have_failed(demo_warehouse, tmp_path):
    # The counter-test: the violating rows do fail the expectations when nothing rejects them.
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(demo_warehouse.read_bytes())
    name = "stg_registry_vessels"
    indexes = [i for n, i in QUARANTINABLE if n == name]
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'UTC'")
        rows = [
            violating_row(con, quote_identifier(name), SUITES[name]["expectations"][i], SUITES[name]["expectations"])
            for i in indexes
        ]
        _insert(con, name, rows)
        result = validate_table_in_sql(con, name, EXPECTATIONS_DIR / f"{name}.json")
    assert not result.success
    assert len(result.failures) == len(indexes)


# --- night after night ------------------------------------------------------------------------------


def test_a_quarantined_row_stays_rejected_night_after_night(tmp_path, fleet):  # noqa: F811
    """A static report with a draught no rule bounds (30 m) in an early day: rejected by its expectation,
    and still rejected, listed once and counted once after later nights' incremental builds."""
    from bench.model_bench import load_raw
    from tankerwatch.gate_windows import validate_gate
    from tankerwatch.models import build_all
    from tankerwatch.warehouse import connect
    from tests.synthetic_days import load_day, of_day

    positions, static, registry = fleet
    suite = EXPECTATIONS_DIR / "stg_ais_static.json"
    odd_row = 9_100_001

    def check(con) -> None:
        [(reason,)] = con.execute("select reject_reason from stg_ais_static where source_row = ?", [odd_row]).fetchall()
        assert reason == (f"{QUARANTINE_PREFIX}column_values_to_be_between on draught_m: 30.0 (no rule foresaw it)")
        listed = con.execute(
            "select count(*) from rejects where table_name = 'stg_ais_static' and source_row = ?", [odd_row]
        ).fetchall()
        assert listed == [(1,)]
        counts = {c.expectation: c.rows for c in quarantined_counts(con, "stg_ais_static")}
        assert counts["column_values_to_be_between on draught_m"] == 1
        assert sum(counts.values()) == 1
        result = validate_gate(con, "stg_ais_static", suite, MODELS["stg_ais_static"])
        assert result.success, result.summary()

    with connect(tmp_path / "warehouse.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        for day in range(10):
            load_day(con, positions, static, day)
        odd = of_day(static, 3).head(1)
        odd = odd.with_columns(draught_m=pl.lit(30.0), source_row=pl.lit(odd_row, odd["source_row"].dtype))
        con.register("odd", odd.with_columns(snapshot_id=pl.lit("ais-003-a")))
        con.execute("insert into raw_ais_static by name select * from odd")
        con.unregister("odd")
        build_all(con)
        check(con)
        for day in (10, 11):
            load_day(con, positions, static, day)
            build_all(con)
            [(mode,)] = con.execute("select mode from incremental_builds where model = 'stg_ais_static'").fetchall()
            assert mode == "incremental"
            check(con)
