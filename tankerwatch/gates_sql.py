"""Great Expectations suites evaluated inside DuckDB: the engine of every warehouse table's gate.

`validate_table_in_sql` gives the verdicts, counts, percentages and samples that GX 1.x gives
on the pandas frame DuckDB hands out for the same table, without materialising the table (which
engine runs what, and why: tankerwatch.gates). GX's pandas semantics are the specification, not
SQL's: NaN is a missing value, a condition on a null is False (or NA for pandas' nullable integer
and boolean dtypes), a final `$` also matches before a trailing newline, every duplicate occurrence
is unexpected. Row conditions arrive in GX's structured form and regexes in the dialect Python and
RE2 read the same (both checked by tankerwatch.gate_spec.read_suite), so neither is translated.
Expectation types, kwargs or column types this module cannot evaluate exactly raise SuiteError
instead of being skipped or approximated.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tankerwatch.gate_spec import (
    ROW_SAMPLE_SIZE,
    SAMPLE_SIZE,
    WHOLE_TABLE,
    ExpectationFailure,
    GateResult,
    SuiteError,
    check_entry_shape,
    expectation_columns,
    parse_row_condition,
    quote_identifier,
    read_suite,
    row_key_columns,
    to_jsonable,
)

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["ENGINE", "SUPPORTED_TYPES", "validate_table_in_sql"]

ENGINE = "duckdb_sql"

_CONDITION_KWARGS = frozenset({"row_condition"})
_MAP_KWARGS = frozenset({"mostly"}) | _CONDITION_KWARGS


# --- public entry point ------------------------------------------------------------------


def validate_table_in_sql(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite_path: str | Path,
    *,
    window: tuple[str, dict[str, Any]] | None = None,
) -> GateResult:
    """Evaluate the suite at `suite_path` on DuckDB `table` with aggregate queries.

    With `window` (a predicate over the table's columns and its parameters), only the rows it selects
    are validated, except that uniqueness counts a window value repeated anywhere in the table; a
    suite with other whole-table expectations (row counts, compound keys) validates the whole table.
    `result.scope` says which.

    Raises SuiteError for a suite this executor cannot evaluate with GX's semantics
    (an unimplemented type, kwarg, row-condition or regex construct, a column type it
    does not model), and for a suite whose meta.table names another table.
    """
    path = Path(suite_path)
    spec = read_suite(path)
    suite_table = str(spec["meta"].get("table", ""))
    if suite_table.rsplit(".", 1)[-1].lower() != table.rsplit(".", 1)[-1].lower():
        raise SuiteError(f"{suite_path}: suite is for table {suite_table!r}, not {table!r}")
    checks = [_build_check(path, index, entry) for index, entry in enumerate(spec["expectations"])]

    relation = quote_identifier(table)
    if window is None or any(check.needs_whole_table for check in checks):
        return _evaluate(spec, table, checks, _Context(con, relation), WHOLE_TABLE)
    predicate, params = window
    rows_table = quote_identifier(f"__gate_window_{uuid.uuid4().hex}")
    con.execute(f"create temp table {rows_table} as select * from {relation} where {predicate}", params)
    try:
        return _evaluate(spec, table, checks, _Context(con, rows_table, whole=relation), "window")
    finally:
        con.execute(f"drop table if exists {rows_table}")


def _evaluate(spec: dict, table: str, checks: list[_Check], ctx: _Context, scope: str) -> GateResult:
    prepared = [(check, _prepare(check, ctx)) for check in checks]
    rows, values = _run_aggregates(ctx, prepared)

    failures: list[ExpectationFailure] = []
    passed = 0
    keys = _key_columns(spec, ctx)
    for (check, prep), vals in zip(prepared, values, strict=True):
        if isinstance(prep, _Problem):
            failures.append(check.exception_failure(prep.message))
            continue
        if isinstance(vals, _Problem):
            failures.append(check.exception_failure(vals.message))
            continue
        try:
            failure = check.finish(ctx, vals)
        except _Problem as problem:
            failure = check.exception_failure(problem.message)
        except _duckdb_error() as exc:
            failure = check.exception_failure(_db_message(exc))
        if failure is None:
            passed += 1
        else:
            if failure.exception is None:
                failure.failing_rows = _failing_rows(ctx, check, keys)
            failures.append(failure)

    return GateResult(
        suite_name=spec["name"],
        table=table,
        success=not failures,
        evaluated=len(checks),
        passed=passed,
        failures=failures,
        stage=spec["meta"].get("stage"),
        rows=rows,
        engine=ENGINE,
        scope=scope,
        key_columns=keys,
    )


def _key_columns(spec: dict, ctx: _Context) -> list[str]:
    try:
        names = [c.name for c in ctx.columns]
    except _duckdb_error():
        return []  # the table is missing: every expectation reports it
    entries = [(str(e.get("type")), e.get("kwargs") or {}) for e in spec["expectations"]]
    return row_key_columns(spec["meta"], entries, names)


def _failing_rows(ctx: _Context, check: _Check, keys: list[str]) -> list[dict[str, Any]]:
    """The first rows of the table that violate `check`, with the key columns and the check's own.

    The rows only explain a verdict already reached, so a query that fails leaves them out instead of
    changing the verdict."""
    present = {c.name for c in ctx.columns}
    names = [n for n in dict.fromkeys([*keys, *expectation_columns(check.kwargs)]) if n in present]
    if not names:
        return []
    try:
        frame = check.failing_rows(ctx, [ctx.column(n) for n in names])
    except (_Problem, _duckdb_error()):
        return []
    if frame is None:
        return []
    return [to_jsonable(dict(zip(names, row, strict=True))) for row in frame.itertuples(index=False, name=None)]


# --- SQL fragments with their own parameters ---------------------------------------------


@dataclass(frozen=True)
class _Sql:
    """SQL text with the named parameters it uses: DuckDB rejects unused parameters, so
    every query must carry exactly the parameters of the fragments it is built from."""

    text: str
    params: tuple[tuple[str, Any], ...] = ()


def _cat(*parts: _Sql | str) -> _Sql:
    text = []
    params: dict[str, Any] = {}
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        else:
            text.append(part.text)
            params.update(part.params)
    return _Sql("".join(text), tuple(params.items()))


def _join(separator: str, parts: list[_Sql]) -> _Sql:
    joined: list[_Sql | str] = []
    for i, part in enumerate(parts):
        if i:
            joined.append(separator)
        joined.append(part)
    return _cat(*joined)


TRUE = _Sql("TRUE")
FALSE = _Sql("FALSE")


class _Problem(Exception):
    """What GX reports as an expectation's exception (the expectation fails, the gate goes on)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _duckdb_error() -> type[BaseException]:
    import duckdb

    return duckdb.Error


def _db_message(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]


# --- the table's columns, as pandas will see them ----------------------------------------

_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE"})
# DuckDB's .df() turns these into float64, so pandas compares their float value.
_AS_FLOAT_TYPES = frozenset({"HUGEINT", "UHUGEINT"})


def _kind(sql_type: str) -> str:
    if sql_type == "VARCHAR":
        return "string"
    if sql_type in _INTEGER_TYPES:
        return "integer"
    if sql_type in _FLOAT_TYPES or sql_type in _AS_FLOAT_TYPES or sql_type.startswith("DECIMAL"):
        return "float"
    if sql_type == "BOOLEAN":
        return "boolean"
    if sql_type == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    if sql_type in ("TIMESTAMP", "DATE"):
        # Both arrive as naive datetime64[us] and compare with naive datetimes.
        return "timestamp"
    return "other"


def _quote_column(name: str) -> str:
    # Column names may contain dots, so quote_identifier (which splits on them) does not fit.
    if "\x00" in name:
        raise SuiteError(f"column name contains NUL: {name!r}")
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Column:
    name: str
    sql_type: str

    @property
    def kind(self) -> str:
        return _kind(self.sql_type)

    @property
    def masked(self) -> bool:
        """pandas gives integers and booleans nullable extension dtypes, whose comparisons
        with a null give NA (dropped by a filter, an error in a pair expectation) instead of False."""
        return self.kind in ("integer", "boolean")

    @property
    def ref(self) -> str:
        return _quote_column(self.name)

    @property
    def value(self) -> str:
        """The value pandas compares: NaN as missing, decimals and huge ints as float64, dates as timestamps."""
        ref = self.ref
        if self.sql_type in _FLOAT_TYPES:
            return f"(CASE WHEN isnan({ref}) THEN NULL ELSE {ref} END)"
        if self.kind == "float":
            return f"CAST({ref} AS DOUBLE)"
        if self.sql_type == "DATE":
            return f"CAST({ref} AS TIMESTAMP)"
        return ref

    @property
    def missing(self) -> str:
        """pandas' isnull: NULL, and NaN in a float column."""
        if self.sql_type in _FLOAT_TYPES:
            return f"({self.ref} IS NULL OR isnan({self.ref}))"
        return f"({self.ref} IS NULL)"


@dataclass
class _Context:
    con: Any
    table: str
    # the whole table when `table` holds a window of its rows (uniqueness looks at both)
    whole: str | None = None
    _columns: list[_Column] | None = None
    _counter: itertools.count = field(default_factory=itertools.count)
    _order: str | None = None

    @property
    def columns(self) -> list[_Column]:
        if self._columns is None:
            relation = self.con.sql(f"SELECT * FROM {self.table}")
            self._columns = [_Column(n, str(t)) for n, t in zip(relation.columns, relation.types, strict=True)]
        return self._columns

    @property
    def order(self) -> str:
        """The key that orders rows as `SELECT *` (and so GX) sees them: "rowid", or "" for a view.

        GX samples the first unexpected rows in frame order. A plain LIMIT keeps that order
        only while nothing reorders rows: DuckDB's parallel hash joins (the duplicate
        samples) do. A table's rowid is its storage order, which is what `SELECT *` returns.
        """
        if self._order is None:
            self._order = ""
            if all(c.name.lower() != "rowid" for c in self.columns):
                try:
                    self.con.execute(f"SELECT rowid FROM {self.table} LIMIT 0").fetchall()
                    self._order = "rowid"
                except _duckdb_error():
                    pass
        return self._order

    def first_rows(self, alias: str | None = None, limit: int = SAMPLE_SIZE) -> str:
        order = self.order
        if order and alias:
            order = alias
        return (f" ORDER BY {order}" if order else "") + f" LIMIT {int(limit)}"

    def column(self, name: str) -> _Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise _Problem(f'Error: The column "{name}" in BatchData does not exist.')

    def param(self, value: Any, cast: str | None = None) -> _Sql:
        name = f"p{next(self._counter)}"
        text = f"${name}" if cast is None else f"CAST(${name} AS {cast})"
        return _Sql(text, ((name, value),))

    def fetchone(self, sql: _Sql) -> tuple:
        # fetchall: DuckDB blocks the connection while a result is only partly fetched.
        rows = self.con.execute(sql.text, dict(sql.params)).fetchall()
        return rows[0]

    def frame(self, sql: _Sql) -> pd.DataFrame:
        # The same DuckDB-to-pandas conversion as gates.validate_table, so samples come
        # out with the values (and types) GX would have listed.
        return self.con.execute(sql.text, dict(sql.params)).df()


# --- suite entries -> checks --------------------------------------------------------------


def _build_check(path: Path, index: int, entry: Any) -> _Check:
    # The same structural checks as gates.load_suite, so both engines refuse the same
    # malformed entries the same way.
    where = f"{path}: expectation #{index}"
    etype, kwargs = check_entry_shape(path, index, entry)
    cls = _CHECKS.get(etype)
    if cls is None:
        raise SuiteError(
            f"{where}: the SQL gate executor does not implement expectation type {etype!r} "
            f"(implemented: {', '.join(sorted(_CHECKS))})"
        )
    where = f"{where} ({etype})"
    extra = set(kwargs) - cls.kwargs_allowed
    if extra:
        raise SuiteError(f"{where}: kwargs {sorted(extra)} are not implemented by the SQL gate executor")
    missing = cls.kwargs_required - set(kwargs)
    if missing:
        raise SuiteError(f"{where}: missing kwargs {sorted(missing)}")
    return cls(etype, dict(kwargs), where)


def _require_str(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SuiteError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value


def _require_str_list(where: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise SuiteError(f"{where}: {key} must be a non-empty list of column names, got {value!r}")
    return list(value)


def _optional_bool(where: str, key: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise SuiteError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _mostly(where: str, value: Any) -> float:
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SuiteError(f"{where}: mostly must be a number between 0 and 1, got {value!r}")
    return float(value)


def _mostly_success(rows_considered: int, unexpected: int, mostly: float) -> bool:
    # GX's own arithmetic (expectation._mostly_success), float for float.
    considered = float(rows_considered)
    return (considered - float(unexpected)) / considered >= mostly


class _Check:
    kwargs_allowed: frozenset[str] = frozenset()
    kwargs_required: frozenset[str] = frozenset()
    # True when the verdict depends on rows outside any window of the table
    needs_whole_table = False

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        self.etype = etype
        self.kwargs = kwargs
        self.where = where
        self.condition = _RowCondition.from_kwargs(where, kwargs) if self.kwargs_allowed & _CONDITION_KWARGS else None

    @property
    def column_label(self) -> str | None:
        column = self.kwargs.get("column")
        return column if isinstance(column, str) else None

    def failure(self, **fields: Any) -> ExpectationFailure:
        return ExpectationFailure(
            expectation_type=self.etype, column=self.column_label, kwargs=to_jsonable(self.kwargs), **fields
        )

    def exception_failure(self, message: str) -> ExpectationFailure:
        return self.failure(exception=message)

    def domain(self, ctx: _Context) -> _Sql:
        return self.condition.sql(ctx) if self.condition else TRUE

    def aggregates(self, ctx: _Context) -> list[_Sql]:
        """Aggregate expressions over the whole table, evaluated in one shared scan."""
        return []

    def finish(self, ctx: _Context, values: tuple) -> ExpectationFailure | None:
        raise NotImplementedError

    def row_predicate(self) -> _Sql | None:
        """After `finish` failed the check: true exactly for the rows GX counts as unexpected; None for a
        check on the table as a whole (its columns, its row count)."""
        return None

    def failing_rows(self, ctx: _Context, columns: list[_Column]) -> pd.DataFrame | None:
        """The first ROW_SAMPLE_SIZE rows `row_predicate` selects, in table order, as `columns`."""
        predicate = self.row_predicate()
        if predicate is None:
            return None
        select = ", ".join(c.ref for c in columns)
        limit = ctx.first_rows(limit=ROW_SAMPLE_SIZE)
        return ctx.frame(_cat(f"SELECT {select} FROM {ctx.table} WHERE ", predicate, limit))


def _prepare(check: _Check, ctx: _Context) -> list[_Sql] | _Problem:
    try:
        return check.aggregates(ctx)
    except _Problem as problem:
        return problem


def _count_if(predicate: _Sql) -> _Sql:
    return _cat("count(*) FILTER (WHERE ", predicate, ")")


def _run_aggregates(ctx: _Context, prepared: list) -> tuple[int, list]:
    """One scan for every check's aggregates; on an error, each check alone, so the error
    lands on the expectation that caused it (as GX reports it) and the others still run."""
    error = _duckdb_error()
    aggs = [a for _, prep in prepared if not isinstance(prep, _Problem) for a in prep]
    select = _join(", ", [_Sql("count(*)"), *aggs])
    try:
        row = ctx.fetchone(_cat("SELECT ", select, f" FROM {ctx.table}"))
    except error:
        row = None
    if row is not None:
        rows = int(row[0])
        values, offset = [], 1
        for _, prep in prepared:
            n = 0 if isinstance(prep, _Problem) else len(prep)
            values.append(tuple(row[offset : offset + n]))
            offset += n
        return rows, values
    rows = int(ctx.fetchone(_Sql(f"SELECT count(*) FROM {ctx.table}"))[0])
    values = []
    for _, prep in prepared:
        if isinstance(prep, _Problem) or not prep:
            values.append(())
            continue
        try:
            values.append(tuple(ctx.fetchone(_cat("SELECT ", _join(", ", prep), f" FROM {ctx.table}"))))
        except error as exc:
            values.append(_Problem(_db_message(exc)))
    return rows, values


# --- column map expectations ---------------------------------------------------------------


class _ColumnMap(_Check):
    kwargs_required = frozenset({"column"})

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        self.column_name = _require_str(where, "column", kwargs["column"])
        self.mostly = _mostly(where, kwargs.get("mostly"))

    def unexpected(self, ctx: _Context, column: _Column) -> _Sql:
        """Predicate true for a non-missing value GX counts as unexpected."""
        raise NotImplementedError

    def aggregates(self, ctx: _Context) -> list[_Sql]:
        column = ctx.column(self.column_name)
        domain = self.domain(ctx)
        self._column, self._domain = column, domain
        self._unexpected = self.unexpected(ctx, column)
        present = _cat(domain, f" AND NOT {column.missing}")
        return [
            _count_if(domain),
            _count_if(_cat(domain, f" AND {column.missing}")),
            _count_if(_cat(present, " AND (", self._unexpected, ")")),
        ]

    def finish(self, ctx: _Context, values: tuple) -> ExpectationFailure | None:
        total, nulls, unexpected = (int(v) for v in values)
        return self.outcome(ctx, total, total - nulls, unexpected)

    def outcome(self, ctx: _Context, total: int, nonnull: int, unexpected: int) -> ExpectationFailure | None:
        # ColumnMapExpectation._validate and _format_map_output.
        if total == 0 or nonnull == 0:
            return None
        if _mostly_success(nonnull, unexpected, self.mostly):
            return None
        return self.failure(
            unexpected_count=unexpected,
            unexpected_percent=unexpected / nonnull * 100,
            sample_values=self.samples(ctx) if unexpected else [],
        )

    def row_predicate(self) -> _Sql | None:
        return _cat(self._domain, f" AND NOT {self._column.missing} AND (", self._unexpected, ")")

    def samples(self, ctx: _Context) -> list[Any]:
        column = self._column
        sql = _cat(
            f"SELECT {column.ref} FROM {ctx.table} WHERE ",
            self._domain,
            f" AND NOT {column.missing} AND (",
            self._unexpected,
            ")",
            ctx.first_rows(),
        )
        return to_jsonable(list(ctx.frame(sql).iloc[:, 0]))


class _NotNull(_ColumnMap):
    kwargs_allowed = frozenset({"column"}) | _MAP_KWARGS

    def unexpected(self, ctx: _Context, column: _Column) -> _Sql:
        return FALSE

    def aggregates(self, ctx: _Context) -> list[_Sql]:
        column = ctx.column(self.column_name)
        domain = self.domain(ctx)
        self._column, self._domain = column, domain
        return [_count_if(domain), _count_if(_cat(domain, f" AND {column.missing}"))]

    def row_predicate(self) -> _Sql | None:
        return _cat(self._domain, f" AND {self._column.missing}")

    def finish(self, ctx: _Context, values: tuple) -> ExpectationFailure | None:
        # ExpectColumnValuesToNotBeNull._validate: the ratio and the percent are of all rows.
        total, unexpected = (int(v) for v in values)
        if total == 0 or (total - unexpected) / total >= self.mostly:
            return None
        # GX lists the missing values themselves, which all serialise to null.
        return self.failure(
            unexpected_count=unexpected,
            unexpected_percent=unexpected / total * 100,
            sample_values=[None] * min(unexpected, SAMPLE_SIZE),
        )


def _coerce_bound(where: str, key: str, value: Any) -> float | dt.date | dt.datetime | None:
    """GX's pydantic field Union[float, SuiteParameterDict, date, datetime], tried in that order."""
    if value is None:
        return None
    if isinstance(value, dict):
        raise SuiteError(f"{where}: {key} as a suite parameter is not implemented by the SQL gate executor")
    try:
        from pydantic.v1.datetime_parse import parse_date, parse_datetime
    except ImportError:  # pragma: no cover - pydantic 1 installed directly
        from pydantic.datetime_parse import parse_date, parse_datetime  # type: ignore[no-redef]
    try:
        number = value if isinstance(value, float) else float(value)
    except (TypeError, ValueError):
        pass
    else:
        if not math.isfinite(number):
            raise SuiteError(f"{where}: {key} {value!r} is not finite")
        return number
    for parse in (parse_date, parse_datetime):
        try:
            return parse(value)
        except (TypeError, ValueError):  # pydantic's DateError and DateTimeError are ValueErrors
            pass
    raise SuiteError(f"{where}: {key} {value!r} is neither a number, a date nor a datetime")


def _bound_kind(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return "aware" if value.tzinfo is not None and value.utcoffset() is not None else "naive"
    if isinstance(value, dt.date):
        return "date"
    return "float"


class _Between(_ColumnMap):
    kwargs_allowed = frozenset({"column", "min_value", "max_value", "strict_min", "strict_max"}) | _MAP_KWARGS

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        self.min_value = _coerce_bound(where, "min_value", kwargs.get("min_value"))
        self.max_value = _coerce_bound(where, "max_value", kwargs.get("max_value"))
        if self.min_value is None and self.max_value is None:
            raise SuiteError(f"{where}: min_value and max_value cannot both be None")
        self.strict_min = _optional_bool(where, "strict_min", kwargs.get("strict_min"), False)
        self.strict_max = _optional_bool(where, "strict_max", kwargs.get("strict_max"), False)

    def aggregates(self, ctx: _Context) -> list[_Sql]:
        column = ctx.column(self.column_name)
        # ColumnValuesBetween._pandas checks the bounds against each other before any data.
        if self.min_value is not None and self.max_value is not None:
            try:
                inverted = self.min_value > self.max_value
            except TypeError as exc:
                raise _Problem(str(exc)) from exc
            if inverted:
                raise _Problem("min_value cannot be greater than max_value")
        kinds = {_bound_kind(b) for b in (self.min_value, self.max_value) if b is not None}
        wanted = {"timestamptz": "aware", "timestamp": "naive", "integer": "float", "float": "float"}.get(column.kind)
        if kinds != {wanted}:
            # GX would fail the expectation with a comparison error, on some tables only (pandas raises
            # once a value is compared); a bound of the wrong kind is a suite bug, refused on any table.
            given = (self.kwargs.get(k) for k in ("min_value", "max_value"))
            bounds = " and ".join(repr(b) for b in given if b is not None)
            raise SuiteError(
                f"{self.where}: bounds {bounds} do not compare with {column.sql_type} column {column.name!r} "
                "(numbers for numbers, datetimes with an offset for TIMESTAMPTZ, without for TIMESTAMP and DATE)"
            )
        return super().aggregates(ctx)

    def unexpected(self, ctx: _Context, column: _Column) -> _Sql:
        cast = {"timestamptz": "TIMESTAMPTZ", "timestamp": "TIMESTAMP"}.get(column.kind, "DOUBLE")
        value = column.value if cast != "DOUBLE" else f"CAST({column.value} AS DOUBLE)"
        tests = []
        if self.min_value is not None:
            tests.append(_cat(value, " > " if self.strict_min else " >= ", ctx.param(self.min_value, cast)))
        if self.max_value is not None:
            tests.append(_cat(value, " < " if self.strict_max else " <= ", ctx.param(self.max_value, cast)))
        return _cat("NOT (", _join(" AND ", tests), ")")


class _InSet(_ColumnMap):
    kwargs_allowed = frozenset({"column", "value_set"}) | _MAP_KWARGS
    kwargs_required = frozenset({"column", "value_set"})

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        value_set = kwargs["value_set"]
        if not isinstance(value_set, list) or not all(
            v is None or isinstance(v, (str, int, float, bool)) for v in value_set
        ):
            raise SuiteError(f"{where}: value_set must be a list of strings, numbers, booleans or nulls")
        self.value_set = value_set

    def members(self, column: _Column) -> list[Any]:
        """The value_set entries that can equal a value of this column under Series.isin:
        no string matches a number or a timestamp, True is 1, and nulls were dropped first."""
        kind, out = column.kind, []
        for v in self.value_set:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            if kind == "string" and isinstance(v, str):
                out.append(v)
            elif kind == "integer" and not isinstance(v, str):
                if float(v).is_integer():
                    out.append(int(v))
            elif kind == "float" and not isinstance(v, str):
                out.append(float(v))
            elif kind == "boolean" and not isinstance(v, str) and v in (0, 1):
                out.append(bool(v))
        return list(dict.fromkeys(out))

    def unexpected(self, ctx: _Context, column: _Column) -> _Sql:
        if column.kind == "other":
            raise SuiteError(
                f"{self.where}: column {column.name!r} has type {column.sql_type}, which the SQL gate "
                "executor does not match against a value set"
            )
        members = self.members(column)
        if not members:
            return TRUE
        cast = {"float": "DOUBLE", "boolean": "BOOLEAN", "string": "VARCHAR"}.get(column.kind)
        value = column.value if column.kind != "float" else f"CAST({column.value} AS DOUBLE)"
        params = [ctx.param(m, cast) for m in members]
        return _cat(f"{value} NOT IN (", _join(", ", params), ")")


class _Regex(_ColumnMap):
    kwargs_allowed = frozenset({"column", "regex"}) | _MAP_KWARGS
    kwargs_required = frozenset({"column", "regex"})

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        # read_suite has held the pattern to the dialect RE2 reads as Python does (gate_spec.check_regex).
        self.regex: str = kwargs["regex"]
        body = self.regex[:-1]
        self.final_anchor = self.regex.endswith("$") and (len(body) - len(body.rstrip("\\"))) % 2 == 0

    def unexpected(self, ctx: _Context, column: _Column) -> _Sql:
        # GX matches column.astype(str); these are the types whose text DuckDB can give
        # exactly (a decimal prints 1.250 in DuckDB but 1.25 from pandas' float64, and
        # pandas prints timestamps differently depending on the rest of the column).
        if column.kind == "string":
            text = column.ref
        elif column.kind == "integer":
            text = f"CAST({column.ref} AS VARCHAR)"
        elif column.kind == "boolean":
            text = f"(CASE WHEN {column.ref} THEN 'True' ELSE 'False' END)"
        else:
            raise SuiteError(
                f"{self.where}: column {column.name!r} has type {column.sql_type}; the SQL gate executor "
                "matches regexes only on text, integer and boolean columns"
            )
        pattern = ctx.param(self.regex)
        matches = _cat(f"regexp_matches({text}, ", pattern, ")")
        if self.final_anchor:
            # Python's final $ also matches before a final newline; RE2's only at the end.
            matches = _cat(
                f"(CASE WHEN ends_with({text}, chr(10)) THEN regexp_matches({text}, ", pattern,
                f") OR regexp_matches(substr({text}, 1, length({text}) - 1), ", pattern, ") ELSE ", matches, " END)",
            )
        return _cat("NOT ", matches)


class _Unique(_ColumnMap):
    kwargs_allowed = frozenset({"column"}) | _MAP_KWARGS

    def aggregates(self, ctx: _Context) -> list[_Sql]:
        column = ctx.column(self.column_name)
        if column.kind == "other":
            raise SuiteError(
                f"{self.where}: column {column.name!r} has type {column.sql_type}, which the SQL gate "
                "executor does not test for uniqueness"
            )
        domain = self.domain(ctx)
        self._column, self._domain = column, domain
        return [_count_if(domain), _count_if(_cat(domain, f" AND {column.missing}"))]

    def _duplicated(self, ctx: _Context) -> _Sql:
        """The values repeated in the table; with a window, those of its values repeated in the whole table."""
        column = self._column
        if ctx.whole is None:
            return _cat(
                f"SELECT {column.value} FROM {ctx.table} WHERE ",
                self._domain,
                f" AND NOT {column.missing} GROUP BY 1 HAVING count(*) > 1",
            )
        return _cat(
            f"SELECT {column.value} FROM {ctx.whole} WHERE ",
            self._domain,
            f" AND NOT {column.missing} AND {column.value} IN (SELECT {column.value} FROM {ctx.table} WHERE ",
            self._domain,
            f" AND NOT {column.missing}) GROUP BY 1 HAVING count(*) > 1",
        )

    def finish(self, ctx: _Context, values: tuple) -> ExpectationFailure | None:
        total, nulls = (int(v) for v in values)
        if total == 0 or total == nulls:
            return None
        column = self._column
        # Series.duplicated(keep=False): every occurrence of a repeated value, first included.
        self._unexpected = _cat(f"{column.value} IN (", self._duplicated(ctx), ")")
        counted = _cat(
            f"SELECT count(*) FROM {ctx.table} WHERE ", self._domain, f" AND NOT {column.missing} AND (",
            self._unexpected, ")",
        )
        return self.outcome(ctx, total, total - nulls, int(ctx.fetchone(counted)[0]))


# --- column pair expectations ----------------------------------------------------------------

_PAIR_IGNORE = ("both_values_are_missing", "either_value_is_missing", "neither")
_COMPARABLE = {
    frozenset({"integer"}),
    frozenset({"float"}),
    frozenset({"integer", "float"}),
    frozenset({"boolean"}),
    frozenset({"string"}),
    frozenset({"timestamptz"}),
    frozenset({"timestamp"}),
}


class _Pair(_Check):
    kwargs_required = frozenset({"column_A", "column_B"})
    operator = "="

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        self.a = _require_str(where, "column_A", kwargs["column_A"])
        self.b = _require_str(where, "column_B", kwargs["column_B"])
        if self.a == self.b:
            # GX's samples degenerate here (each holds the row twice); nothing real asks this.
            raise SuiteError(f"{where}: column_A and column_B are the same column")
        self.mostly = _mostly(where, kwargs.get("mostly"))
        self.ignore_row_if = kwargs.get("ignore_row_if", "both_values_are_missing")
        if self.ignore_row_if not in _PAIR_IGNORE:
            raise SuiteError(f"{where}: ignore_row_if must be one of {list(_PAIR_IGNORE)}, got {self.ignore_row_if!r}")

    def aggregates(self, ctx: _Context) -> list[_Sql]:
        a, b = ctx.column(self.a), ctx.column(self.b)
        if frozenset({a.kind, b.kind}) not in _COMPARABLE:
            raise SuiteError(
                f"{self.where}: the SQL gate executor does not compare {a.sql_type} column {a.name!r} "
                f"with {b.sql_type} column {b.name!r}"
            )
        domain = self.domain(ctx)
        keep = {
            "both_values_are_missing": f"NOT ({a.missing} AND {b.missing})",
            "either_value_is_missing": f"NOT ({a.missing} OR {b.missing})",
            "neither": "TRUE",
        }[self.ignore_row_if]
        self._a, self._b = a, b
        self._kept = _cat(domain, f" AND {keep}")
        # A null in a nullable-integer or boolean column makes the comparison NA, and
        # GX's `mask == True` then raises "boolean value of NA is ambiguous".
        na = [f"{c.missing}" for c in (a, b) if c.masked] or ["FALSE"]
        self._unexpected = f"NOT coalesce({a.value} {self.operator} {b.value}, FALSE)"
        return [
            _count_if(domain),
            _count_if(self._kept),
            _count_if(_cat(self._kept, f" AND ({' OR '.join(na)})")),
            _count_if(_cat(self._kept, f" AND {self._unexpected}")),
        ]

    def finish(self, ctx: _Context, values: tuple) -> ExpectationFailure | None:
        total, kept, na, unexpected = (int(v) for v in values)
        if na:
            raise _Problem("boolean value of NA is ambiguous")
        if total == 0 or kept == 0 or _mostly_success(kept, unexpected, self.mostly):
            return None
        rows = ctx.frame(
            _cat(
                f"SELECT {self._a.ref} AS a, {self._b.ref} AS b FROM {ctx.table} WHERE ",
                self._kept,
                f" AND {self._unexpected}",
                ctx.first_rows(),
            )
        )
        return self.failure(
            unexpected_count=unexpected,
            unexpected_percent=unexpected / kept * 100,
            sample_values=to_jsonable(list(zip(rows["a"].values, rows["b"].values, strict=True))),
        )


    def row_predicate(self) -> _Sql | None:
        return _cat(self._kept, f" AND {self._unexpected}")


class _PairGreater(_Pair):
    kwargs_allowed = frozenset({"column_A", "column_B", "or_equal", "ignore_row_if"}) | _MAP_KWARGS

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        self.operator = ">=" if _optional_bool(where, "or_equal", kwargs.get("or_equal"), False) else ">"


class _PairEqual(_Pair):
    kwargs_allowed = frozenset({"column_A", "column_B", "ignore_row_if"}) | _MAP_KWARGS


# --- multicolumn and table expectations -------------------------------------------------------

_MULTI_IGNORE = ("all_values_are_missing", "any_value_is_missing", "never")


class _CompoundUnique(_Check):
    needs_whole_table = True
    kwargs_allowed = frozenset({"column_list", "ignore_row_if"}) | _MAP_KWARGS
    kwargs_required = frozenset({"column_list"})

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        self.names = _require_str_list(where, "column_list", kwargs["column_list"])
        if len(self.names) < 2:
            # GX's own validator refuses this at load time.
            raise SuiteError(f"{where}: column_list must contain at least two columns")
        self.mostly = _mostly(where, kwargs.get("mostly"))
        self.ignore_row_if = kwargs.get("ignore_row_if", "all_values_are_missing")
        if self.ignore_row_if not in _MULTI_IGNORE:
            raise SuiteError(f"{where}: ignore_row_if must be one of {list(_MULTI_IGNORE)}, got {self.ignore_row_if!r}")

    def aggregates(self, ctx: _Context) -> list[_Sql]:
        columns = [ctx.column(n) for n in self.names]
        for column in columns:
            if column.kind == "other":
                raise SuiteError(
                    f"{self.where}: column {column.name!r} has type {column.sql_type}, which the SQL gate "
                    "executor does not test for uniqueness"
                )
        missing = [c.missing for c in columns]
        keep = {
            "all_values_are_missing": f"NOT ({' AND '.join(missing)})",
            "any_value_is_missing": f"NOT ({' OR '.join(missing)})",
            "never": "TRUE",
        }[self.ignore_row_if]
        domain = self.domain(ctx)
        self._columns = columns
        self._kept = _cat(domain, f" AND {keep}")
        return [_count_if(domain), _count_if(self._kept)]

    def finish(self, ctx: _Context, values: tuple) -> ExpectationFailure | None:
        total, kept = (int(v) for v in values)
        if total == 0 or kept == 0:
            return None
        keys = ", ".join(f"{c.value} AS k{i}" for i, c in enumerate(self._columns))
        groups = ", ".join(f"k{i}" for i in range(len(self._columns)))
        # GROUP BY, like DataFrame.duplicated, takes missing values as equal to each other.
        duplicated = _cat(
            f"SELECT {groups} FROM (SELECT {keys} FROM {ctx.table} WHERE ",
            self._kept,
            f") GROUP BY {groups} HAVING count(*) > 1",
        )
        unexpected = int(
            ctx.fetchone(
                _cat(
                    "SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM (",
                    f"SELECT {keys} FROM {ctx.table} WHERE ",
                    self._kept,
                    f") GROUP BY {groups} HAVING count(*) > 1)",
                )
            )[0]
        )
        if _mostly_success(kept, unexpected, self.mostly):
            return None
        self._duplicated = duplicated
        frame = self._rows_of_duplicates(ctx, self._columns, SAMPLE_SIZE)
        samples = [dict(zip(self.names, row, strict=True)) for row in frame.itertuples(index=False, name=None)]
        return self.failure(
            unexpected_count=unexpected,
            unexpected_percent=unexpected / kept * 100,
            sample_values=to_jsonable(samples),
        )

    def _rows_of_duplicates(self, ctx: _Context, columns: list[_Column], limit: int) -> pd.DataFrame:
        """`columns` of the first `limit` rows whose key is repeated, in table order."""
        keys = ", ".join(f"{c.value} AS k{i}" for i, c in enumerate(self._columns))
        # Keys are compared in a scope of our own aliases, so no table column can shadow them.
        match = " AND ".join(f"__dups.k{i} IS NOT DISTINCT FROM __rows.k{i}" for i in range(len(self._columns)))
        picked = ", ".join(f"c{i}" for i in range(len(columns)))
        rows = ", ".join(f"{c.ref} AS c{i}" for i, c in enumerate(columns))
        position = f", {ctx.order} AS __position" if ctx.order else ""
        return ctx.frame(
            _cat(
                f"SELECT {picked} FROM (SELECT {rows}, {keys}{position} FROM {ctx.table} WHERE ",
                self._kept,
                ") AS __rows WHERE EXISTS (SELECT 1 FROM (",
                self._duplicated,
                f") AS __dups WHERE {match})",
                ctx.first_rows("__position", limit),
            )
        )

    def failing_rows(self, ctx: _Context, columns: list[_Column]) -> pd.DataFrame | None:
        return self._rows_of_duplicates(ctx, columns, ROW_SAMPLE_SIZE)


class _OrderedColumns(_Check):
    kwargs_allowed = frozenset({"column_list"})
    kwargs_required = frozenset({"column_list"})

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        self.expected = _require_str_list(where, "column_list", kwargs["column_list"])

    def finish(self, ctx: _Context, values: tuple) -> ExpectationFailure | None:
        observed = [c.name for c in ctx.columns]
        return None if observed == self.expected else self.failure(observed_value=observed)


class _ColumnSet(_Check):
    kwargs_allowed = frozenset({"column_set", "exact_match"})
    kwargs_required = frozenset({"column_set"})

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        self.expected = set(_require_str_list(where, "column_set", kwargs["column_set"]))
        self.exact_match = _optional_bool(where, "exact_match", kwargs.get("exact_match"), True)

    def finish(self, ctx: _Context, values: tuple) -> ExpectationFailure | None:
        actual = {c.name for c in ctx.columns}
        missing, extra = self.expected - actual, actual - self.expected
        if not missing and (not extra or not self.exact_match):
            return None
        return self.failure(observed_value=sorted(actual))


class _RowCount(_Check):
    needs_whole_table = True
    kwargs_allowed = frozenset({"min_value", "max_value", "strict_min", "strict_max"}) | _CONDITION_KWARGS

    def __init__(self, etype: str, kwargs: dict[str, Any], where: str) -> None:
        super().__init__(etype, kwargs, where)
        for key in ("min_value", "max_value"):
            value = kwargs.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise SuiteError(f"{where}: {key} must be an integer, got {value!r}")
        self.min_value, self.max_value = kwargs.get("min_value"), kwargs.get("max_value")
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise SuiteError(
                f"{where}: min_value ({self.min_value}) must be less than or equal to max_value ({self.max_value})"
            )
        self.strict_min = _optional_bool(where, "strict_min", kwargs.get("strict_min"), False)
        self.strict_max = _optional_bool(where, "strict_max", kwargs.get("strict_max"), False)

    def aggregates(self, ctx: _Context) -> list[_Sql]:
        return [_count_if(self.domain(ctx))]

    def finish(self, ctx: _Context, values: tuple) -> ExpectationFailure | None:
        observed = int(values[0])
        low, high = self.min_value, self.max_value
        above = low is None or (observed > low if self.strict_min else observed >= low)
        below = high is None or (observed < high if self.strict_max else observed <= high)
        return None if above and below else self.failure(observed_value=observed)


_CHECKS: dict[str, type[_Check]] = {
    "expect_column_values_to_not_be_null": _NotNull,
    "expect_column_values_to_be_between": _Between,
    "expect_column_values_to_be_in_set": _InSet,
    "expect_column_values_to_match_regex": _Regex,
    "expect_column_values_to_be_unique": _Unique,
    "expect_column_pair_values_a_to_be_greater_than_b": _PairGreater,
    "expect_column_pair_values_to_be_equal": _PairEqual,
    "expect_compound_columns_to_be_unique": _CompoundUnique,
    "expect_table_columns_to_match_ordered_list": _OrderedColumns,
    "expect_table_columns_to_match_set": _ColumnSet,
    "expect_table_row_count_to_be_between": _RowCount,
}
SUPPORTED_TYPES = frozenset(_CHECKS)


# --- row_condition: GX's structured form, as pandas evaluates it ---------------------------------

_SQL_OPERATORS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _RowCondition:
    """A structured row condition (tankerwatch.gate_spec.parse_row_condition) as SQL with pandas'
    meaning, since GX evaluates it as the `DataFrame.query` it compiles the condition into: a
    comparison with a missing value is False (!= is True) in a NaN-based column, and NA (the row is
    dropped) in pandas' nullable integer and boolean columns."""

    def __init__(self, value: Any, where: str) -> None:
        self.value = value
        self.where = where
        self.tree = parse_row_condition(where, value)

    @classmethod
    def from_kwargs(cls, where: str, kwargs: dict[str, Any]) -> _RowCondition | None:
        value = kwargs.get("row_condition")
        return None if value is None else cls(value, where)

    def sql(self, ctx: _Context) -> _Sql:
        return _cat("(", self._sql(ctx, self.tree), ")")

    def _column(self, ctx: _Context, name: str) -> _Column:
        try:
            return ctx.column(name)
        except _Problem:
            # What pandas' query says about a name that is not a column.
            raise _Problem(f"name '{name}' is not defined") from None

    def _sql(self, ctx: _Context, node: tuple) -> _Sql:
        tag = node[0]
        if tag in ("and", "or"):
            return _cat("(", _join(f" {tag.upper()} ", [self._sql(ctx, n) for n in node[1]]), ")")
        if tag == "nullity":
            column = self._column(ctx, node[1])
            return _Sql(column.missing if node[2] else f"(NOT {column.missing})")
        _, name, operator, literal = node
        column = self._column(ctx, name)
        kind = column.kind
        number = isinstance(literal, (int, float)) and not isinstance(literal, bool)
        if not (
            (kind == "string" and isinstance(literal, str))
            or (kind in ("integer", "float") and number)
            or (kind == "boolean" and isinstance(literal, bool))
        ):
            raise SuiteError(
                f"{self.where}: row_condition compares {column.sql_type} column {column.name!r} with {literal!r}"
            )
        op = _SQL_OPERATORS[operator]
        comparison = _cat(f"{column.value} {op} ", ctx.param(literal))
        if column.masked:
            # NA stays NA (Kleene logic, like SQL's NULL) and a filter drops it.
            return _cat("(", comparison, ")")
        return _cat("coalesce(", comparison, f", {'TRUE' if op == '<>' else 'FALSE'})")


# --- row-level expectations as predicates (tankerwatch/quarantine.py) -------------------------

# The expectation types whose verdict is a sum of verdicts on single rows: a row that violates one
# can be named, and taken out of what is used, without changing any other row's verdict.
ROW_LEVEL_TYPES = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
    }
)


@dataclass(frozen=True)
class RowViolation:
    """One row-level expectation of a suite as SQL over the table's columns: `predicate` is true
    exactly for the rows GX counts as unexpected, `values` renders the offending value(s) as text."""

    index: int
    etype: str
    columns: tuple[str, ...]
    predicate: _Sql
    values: str

    @property
    def label(self) -> str:
        return f"{self.etype.removeprefix('expect_')} on {', '.join(self.columns)}"


def row_violations(con: Any, relation: str, suite_path: str | Path, indexes: list[int]) -> list[RowViolation]:
    """The expectations at `indexes` of the suite (row-level types only) compiled against
    `relation` (a quoted table or view name) as predicates a row violates them by."""
    path = Path(suite_path)
    spec = read_suite(path)
    ctx = _Context(con, relation)
    out = []
    for index in indexes:
        check = _build_check(path, index, spec["expectations"][index])
        if check.etype not in ROW_LEVEL_TYPES:
            raise SuiteError(f"{check.where}: not a row-level expectation")
        try:
            if isinstance(check, _Pair):
                check.aggregates(ctx)
                predicate = _cat(check._kept, f" AND {check._unexpected}")
                values = (
                    f"coalesce(CAST({check._a.ref} AS VARCHAR), 'null') || ' vs ' || "
                    f"coalesce(CAST({check._b.ref} AS VARCHAR), 'null')"
                )
                columns: tuple[str, ...] = (check.a, check.b)
            else:
                column = ctx.column(check.column_name)
                domain = check.domain(ctx)
                if isinstance(check, _NotNull):
                    predicate = _cat(domain, f" AND {column.missing}")
                else:
                    check.aggregates(ctx)
                    predicate = _cat(domain, f" AND NOT {column.missing} AND (", check.unexpected(ctx, column), ")")
                values = f"coalesce(CAST({column.ref} AS VARCHAR), 'null')"
                columns = (check.column_name,)
        except _Problem as problem:
            raise SuiteError(f"{check.where}: cannot be evaluated row by row: {problem.message}") from problem
        out.append(RowViolation(index, check.etype, columns, predicate, values))
    return out
