"""Rows the rules did not foresee: rejected with a reason and counted, instead of stopping the publish.

A gate stops the publish, so a blocking expectation states an invariant of what would be published
(DOMAIN §5). In a model that carries `reject_reason`, the rows it uses are those without one, and a
row-level expectation about them is written with the row condition `reject_reason` is null
(GX's structured form, `USED_ROWS`). The rules
in the SQL (staging plausibility checks, identity resolution) are meant to reject every row such an
expectation would refuse; a row they let through anyway is a surprise, and one odd record must not
cost a night's publish. So right after such a model is built, and before its gate runs, every
expectation of its suite conditioned on it is compiled to SQL
(tankerwatch.gates_sql.row_violations) and each row violating one gets

    reject_reason = 'failed expectation <expectation> on <column>: <value> (no rule foresaw it)'

in the same transaction as the build. Downstream models use only rows without a reason
(int_port_calls still reads int_sightings' reject rows as places in a vessel's sequence, as it reads
a repeated position, whose neighbours int_sightings judged with the row in use), the `rejects` mart
lists the row with the reason like any other reject, and the gate, which evaluates the same
predicates on the same rows, passes. How many rows each expectation took out is kept in
`quarantined_rows` and reported by a non-blocking WARN check (assets/checks.py).

Tables are updated in place; a view is redefined with the reason computed in its select, since a
view has no rows to update. A model with a gate window is updated and counted on the rows its gate
has not seen (tankerwatch/gate_windows.py), so a night costs what it adds. The predicates are
deterministic functions of the row, so a row that is quarantined once is quarantined again by
every later build that recomputes it, and the rows an incremental build keeps are kept with the
reason they already carry.

Expectations a row cannot be taken out for stay blocking: keys (uniqueness), the table's columns,
row counts and totals, and row-level expectations in models without `reject_reason` (marts and
intermediate tables), whose suites state why upstream rejects guarantee them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tankerwatch.gate_spec import SuiteError, quote_identifier
from tankerwatch.gates_sql import ROW_LEVEL_TYPES, RowViolation, row_violations
from tankerwatch.settings import EXPECTATIONS_DIR

if TYPE_CHECKING:
    import duckdb

    from tankerwatch.models import Model

__all__ = [
    "QUARANTINE_CHECK",
    "QUARANTINE_PREFIX",
    "USED_ROWS",
    "Quarantined",
    "is_quarantinable",
    "quarantinable_indexes",
    "quarantine_model",
    "quarantined_counts",
]

# The name of the non-blocking asset check that reports what was quarantined.
QUARANTINE_CHECK = "quarantined_rows"
# Every reason the quarantine writes starts with this; suites that constrain reject_reason allow it.
QUARANTINE_PREFIX = "failed expectation "
REJECT_COLUMN = "reject_reason"
# The row condition (GX's structured form) that makes a row-level expectation speak of the rows a model uses.
USED_ROWS = {"type": "nullity", "column": {"name": REJECT_COLUMN}, "is_null": True}

COUNTS_DDL = """
create table if not exists quarantined_rows (
    table_name varchar not null,
    expectation_index integer not null,
    expectation varchar not null,
    rows bigint not null,
    counted_at timestamptz not null
)
"""


@dataclass(frozen=True)
class Quarantined:
    """How many rows of `table_name` one expectation has taken out of use."""

    table_name: str
    expectation_index: int
    expectation: str
    rows: int


def is_quarantinable(entry: dict[str, Any]) -> bool:
    """A row-level expectation about the rows a model uses: its row condition is USED_ROWS,
    alone or as the first term of a conjunction."""
    if entry.get("type") not in ROW_LEVEL_TYPES:
        return False
    condition = entry.get("kwargs", {}).get("row_condition")
    if condition == USED_ROWS:
        return True
    return (
        isinstance(condition, dict)
        and condition.get("type") == "and"
        and bool(condition.get("conditions"))
        and condition["conditions"][0] == USED_ROWS
    )


def quarantinable_indexes(suite_path: str | Path) -> list[int]:
    spec = json.loads(Path(suite_path).read_text(encoding="utf-8"))
    return [i for i, entry in enumerate(spec["expectations"]) if is_quarantinable(entry)]


def reason_prefix(violation: RowViolation) -> str:
    return f"{QUARANTINE_PREFIX}{violation.label}: "


def _reason_sql(violation: RowViolation) -> str:
    return f"'{_escape(reason_prefix(violation))}' || {violation.values} || ' (no rule foresaw it)'"


def quarantine_model(
    con: duckdb.DuckDBPyConnection, model: Model, suite_dir: Path = EXPECTATIONS_DIR
) -> list[Quarantined]:
    """Reject the rows of the just-built `model` that violate a quarantinable expectation of its suite,
    and record the counts; a no-op (returning []) for a model without such expectations."""
    suite_path = suite_dir / f"{model.name}.json"
    if not suite_path.exists():
        return []
    indexes = quarantinable_indexes(suite_path)
    if not indexes:
        return []
    relation = quote_identifier(model.name)
    columns = [row[0] for row in con.execute(f"select * from {relation} limit 0").description]
    if REJECT_COLUMN not in columns:
        raise SuiteError(
            f"{suite_path}: expectations conditioned on {USED_ROWS} but {model.name} has no {REJECT_COLUMN} column"
        )
    violations = row_violations(con, relation, suite_path, indexes)
    # A model whose gate validates only the rows no passing gate has seen (tankerwatch/gate_windows.py)
    # is quarantined and counted on those rows too: a night costs what the night adds, not the history.
    window = ("true", {})
    if model.gate_window is not None:
        from tankerwatch.gate_windows import gate_window

        rows = gate_window(con, model)
        if rows.predicate is not None:
            window = (rows.predicate, dict(rows.params))
    if model.materialized == "view":
        _redefine_view(con, model, columns, violations)
    else:
        _update_table(con, relation, violations, window)
    return _record_counts(con, model.name, relation, violations, window)


def _case(violations: list[RowViolation], *, inline: bool) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    branches = []
    for violation in violations:
        predicate = violation.predicate
        text = predicate.text
        if inline:
            text = _inline(text, dict(predicate.params))
        else:
            params.update(predicate.params)
        branches.append(f"when {text} then {_reason_sql(violation)}")
    return "case " + " ".join(branches) + " end", params


def _update_table(con, relation: str, violations: list[RowViolation], window: tuple[str, dict[str, Any]]) -> None:
    case, params = _case(violations, inline=False)
    predicate, window_params = window
    # Only rows still in use: a row rejected by the rules keeps the reason the rules gave it.
    con.execute(
        f"update {relation} set {REJECT_COLUMN} = {case} "
        f"where {REJECT_COLUMN} is null and ({predicate}) and ({case}) is not null",
        {**params, **window_params},
    )


def _redefine_view(con, model: Model, columns: list[str], violations: list[RowViolation]) -> None:
    # A view keeps no parameters: the suite's constants (never data) are written as SQL literals.
    case, _ = _case(violations, inline=True)
    select = model.sql.strip().rstrip(";")
    reason = f'coalesce("{REJECT_COLUMN}", {case})'
    con.execute(
        f"create or replace view {quote_identifier(model.name)} as\n"
        f'select * replace ({reason} as "{REJECT_COLUMN}") from (\n{select}\n) as built_rows'
    )


def _record_counts(
    con, table: str, relation: str, violations: list[RowViolation], window: tuple[str, dict[str, Any]]
) -> list[Quarantined]:
    con.execute(COUNTS_DDL)
    predicate, window_params = window
    prefixes = {f"quarantine_prefix_{i}": reason_prefix(v) for i, v in enumerate(violations)}
    counts = ", ".join(f"count(*) filter (where starts_with({REJECT_COLUMN}, ${name}))" for name in prefixes)
    [row] = con.execute(
        f"select {counts} from {relation} where ({predicate}) and starts_with({REJECT_COLUMN}, $quarantine_prefix)",
        {**prefixes, **window_params, "quarantine_prefix": QUARANTINE_PREFIX},
    ).fetchall()
    con.execute("delete from quarantined_rows where table_name = ?", [table])
    out = []
    for violation, rows in zip(violations, row, strict=True):
        out.append(Quarantined(table, violation.index, violation.label, int(rows)))
        con.execute(
            "insert into quarantined_rows values (?, ?, ?, ?, now())",
            [table, violation.index, violation.label, int(rows)],
        )
    return out


def quarantined_counts(con: duckdb.DuckDBPyConnection, table: str) -> list[Quarantined]:
    """What the last build of `table` quarantined, per expectation (nothing recorded: []): of the whole
    table, or for a model with a gate window, of the rows its gate had not seen yet."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_name = 'quarantined_rows'"
    ).fetchall()[0][0]
    if not exists:
        return []
    rows = con.execute(
        "select table_name, expectation_index, expectation, rows from quarantined_rows "
        "where table_name = ? order by expectation_index",
        [table],
    ).fetchall()
    return [Quarantined(*row) for row in rows]


def _escape(text: str) -> str:
    return text.replace("'", "''")


_PARAM = re.compile(r"\$(p[0-9]+)\b")


def _inline(text: str, params: dict[str, Any]) -> str:
    return _PARAM.sub(lambda m: _literal(params[m.group(1)]), text)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no SQL literal for {value!r}")
        return repr(value)
    if isinstance(value, str):
        return f"'{_escape(value)}'"
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    raise ValueError(f"no SQL literal for {value!r}")
