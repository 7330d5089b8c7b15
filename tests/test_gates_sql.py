"""The SQL gate engine (tankerwatch.gates_sql) against its specification, GX on pandas.

The pipeline validates warehouse tables in SQL only, and frames with GX only; GX's pandas
semantics stay the specification. So each test here builds a small table whose values sit where
pandas and SQL differ (NaN, nullable dtypes, Python's `$`, row order of samples, ...) and requires
both engines to agree on each expectation's verdict, unexpected count and percent, sample values,
observed value and whether it raised. Every suite in expectations/ must be readable by both.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import duckdb
import pytest

from tankerwatch import gates
from tankerwatch.gate_spec import read_suite
from tankerwatch.gates_sql import SUPPORTED_TYPES, validate_table_in_sql

REPO = Path(__file__).resolve().parent.parent
SUITES = sorted((REPO / "expectations").glob("*.json"))
UTC = dt.UTC


# --- running both engines ---------------------------------------------------------------


def both(con, table, suite_path):
    gx = gates.validate_table(con, table, suite_path)
    sql = validate_table_in_sql(con, table, suite_path)
    assert gx.engine == "great_expectations" and sql.engine == "duckdb_sql"
    return gx, sql


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _multiset(values):
    return sorted((_hashable(v) for v in values), key=repr)


def assert_parity(gx, sql, context=""):
    def head(r):
        return (r.suite_name, r.table, r.stage, r.rows, r.success, r.evaluated, r.passed)

    assert head(sql) == head(gx), context
    assert [f.expectation_type for f in sql.failures] == [f.expectation_type for f in gx.failures], context
    for g, s in zip(gx.failures, sql.failures, strict=True):
        where = f"{context} {g.expectation_type} {g.kwargs}"
        assert s.column == g.column, where
        assert s.unexpected_count == g.unexpected_count, where
        assert s.unexpected_percent == g.unexpected_percent, where
        assert _multiset(s.sample_values) == _multiset(g.sample_values), where
        assert _hashable(s.observed_value) == _hashable(g.observed_value), where
        assert (s.exception is None) == (g.exception is None), f"{where}: {g.exception!r} vs {s.exception!r}"
        # The same real rows, in table order, with the same keys and values.
        assert _hashable(s.failing_rows) == _hashable(g.failing_rows), where
    assert sql.key_columns == gx.key_columns, context
    json.dumps(sql.to_dict(), allow_nan=False)


def write_suite(tmp_path, expectations, table="t", name="s"):
    path = tmp_path / f"{name}.json"
    path.write_text(
        json.dumps({"name": name, "meta": {"stage": "marts", "table": table}, "expectations": expectations}),
        encoding="utf-8",
    )
    return path


def check(con, tmp_path, expectations, table="t"):
    """Run both engines on `expectations` over `table` and require parity; return (gx, sql)."""
    gx, sql = both(con, table, write_suite(tmp_path, expectations, table))
    assert_parity(gx, sql)
    return gx, sql


def failing(result, etype, **kwargs):
    return [
        f
        for f in result.failures
        if f.expectation_type == etype and all(f.kwargs.get(k) == v for k, v in kwargs.items())
    ]


def load(con, table, columns, rows):
    """(Re)create `table` with `columns` [(name, duckdb type)] holding `rows`."""
    con.execute(f"drop table if exists {gates.quote_identifier(table)}")
    spec = ", ".join(f'"{n}" {t}' for n, t in columns)
    con.execute(f"create table {gates.quote_identifier(table)} ({spec})")
    if rows:
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"insert into {gates.quote_identifier(table)} values ({marks})", [list(r) for r in rows])


# --- every suite in expectations/ ----------------------------------------------------------------


def test_every_suite_uses_only_implemented_types():
    for path in SUITES:
        for entry in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            assert entry["type"] in SUPPORTED_TYPES, f"{path.name}: {entry['type']}"


@pytest.mark.parametrize("suite_path", SUITES, ids=lambda p: p.stem)
def test_every_suite_is_read_by_both_engines(suite_path):
    """Each suite's row conditions and regexes are in the shared dialects, and GX builds it whole."""
    spec = read_suite(suite_path)
    assert len(gates.load_suite(suite_path).expectations) == len(spec["expectations"])
    for entry in spec["expectations"]:
        assert "condition_parser" not in entry.get("kwargs", {}), suite_path.name


# --- semantics where pandas and SQL differ ---------------------------------------------------------


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_nan_is_missing_and_decimal_and_hugeint_compare_as_float(con, tmp_path):
    load(
        con,
        "t",
        [("d", "DOUBLE"), ("f", "FLOAT"), ("dec", "DECIMAL(18,3)"), ("h", "HUGEINT")],
        [
            [1.5, 1.5, "1.250", 1],
            [math.nan, math.nan, None, None],
            [None, None, "2.500", 2],
            [7.0, 7.0, "0.100", 3],
            [math.inf, -math.inf, "0.300", 10**20],
        ],
    )
    exps = []
    for c in ("d", "f", "dec", "h"):
        exps += [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": c}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": c, "min_value": 0.1, "max_value": 2}},
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": c, "value_set": [1.5, 0.1, 2.5, 1, 0.3]},
            },
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": c}},
        ]
    exps.append(
        {
            "type": "expect_column_pair_values_to_be_equal",
            "kwargs": {"column_A": "d", "column_B": "f", "ignore_row_if": "neither"},
        }
    )
    exps.append(
        {
            "type": "expect_compound_columns_to_be_unique",
            "kwargs": {"column_list": ["d", "f"], "ignore_row_if": "never"},
        }
    )
    gx, _ = check(con, tmp_path, exps)
    assert failing(gx, "expect_column_values_to_not_be_null", column="d")[0].unexpected_count == 2


def test_signed_zero_and_nan_duplicates(con, tmp_path):
    load(
        con,
        "t",
        [("d", "DOUBLE"), ("s", "VARCHAR")],
        [[0.0, "a"], [-0.0, "a"], [math.nan, "b"], [None, "b"], [2.0, None]],
    )
    check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "d"}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["d", "s"]}},
            {
                "type": "expect_compound_columns_to_be_unique",
                "kwargs": {"column_list": ["d", "s"], "ignore_row_if": "any_value_is_missing"},
            },
        ],
    )


def test_unique_counts_every_occurrence_and_samples_follow_row_order(con, tmp_path):
    rows = [[i % 7, f"v{i % 5}" if i % 11 else None] for i in range(60)]
    load(con, "t", [("i", "BIGINT"), ("s", "VARCHAR")], rows)
    gx, sql = check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "i"}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s"}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["i", "s"]}},
        ],
    )
    first = failing(gx, "expect_column_values_to_be_unique", column="i")[0]
    assert first.unexpected_count == 60 and len(first.sample_values) == 10
    # More than ten unexpected values: the first ten in row order, as GX lists them.
    for g, s in zip(gx.failures, sql.failures, strict=True):
        assert s.sample_values == g.sample_values


def test_samples_keep_row_order_across_parallel_scans(con, tmp_path):
    # Several row groups, so DuckDB scans and joins in parallel: the duplicate samples come
    # from a hash join, whose output order is not the table's.
    con.execute(
        """
        create table t as select
            range as i,
            case when range % 40009 = 7 then 'dup' || (range % 4) else 'id' || range end as s,
            case when range % 50021 = 3 then -1.0 else range::double end as a,
            range::double as b,
            range % 2 as p
        from range(600000)
        """
    )
    gx, sql = check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s"}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["s", "p"]}},
            {
                "type": "expect_column_pair_values_a_to_be_greater_than_b",
                "kwargs": {"column_A": "a", "column_B": "b", "or_equal": True},
            },
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "^id"}},
        ],
    )
    assert all(f.unexpected_count > 10 for f in gx.failures) and len(gx.failures) == 4
    for g, s in zip(gx.failures, sql.failures, strict=True):
        assert s.sample_values == g.sample_values


def test_samples_from_a_view_and_a_table_with_a_rowid_column(con, tmp_path):
    con.execute("create table base as select range as i, 'v' || (range % 3) as s, range as rowid from range(20)")
    con.execute("create view t as select * from base")
    gx, sql = check(con, tmp_path, [{"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s"}}])
    assert sql.failures[0].unexpected_count == 20
    con.execute("drop view t")
    con.execute("create table t as select * from base")
    check(con, tmp_path, [{"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s"}}])


@pytest.mark.parametrize("ignore_row_if", ["both_values_are_missing", "either_value_is_missing", "neither"])
@pytest.mark.parametrize(
    ("types", "rows"),
    [
        (
            ("DOUBLE", "DOUBLE"),
            [[1.0, 2.0], [None, 1.0], [math.nan, 3.0], [None, None], [5.0, math.nan], [1.0, 1.0], [3.0, 2.0]],
        ),
        (
            ("TIMESTAMPTZ", "TIMESTAMPTZ"),
            [
                [dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC)],
                [None, dt.datetime(2024, 1, 1, tzinfo=UTC)],
                [None, None],
                [dt.datetime(2024, 1, 3, tzinfo=UTC), dt.datetime(2024, 1, 3, tzinfo=UTC)],
            ],
        ),
        (("VARCHAR", "VARCHAR"), [["b", "a"], ["a", "b"], [None, "a"], [None, None], ["a", "a"], ["B", "a"]]),
        (
            ("DATE", "TIMESTAMP"),
            [
                [dt.date(2024, 1, 2), dt.datetime(2024, 1, 1, 12)],
                [dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, 12)],
                [None, None],
            ],
        ),
        (("BIGINT", "BIGINT"), [[1, 1], [3, 2], [2, 3], [None, None]]),
        # A null left in a nullable-integer column makes GX raise "boolean value of NA is ambiguous".
        (("BIGINT", "DOUBLE"), [[1, 1.0], [3, 2.0], [None, 3.0], [2, math.nan]]),
        (("BOOLEAN", "BOOLEAN"), [[True, False], [False, True], [True, True], [None, None]]),
    ],
)
def test_pairs_with_missing_values(con, tmp_path, types, rows, ignore_row_if):
    load(con, "t", [("a", types[0]), ("b", types[1])], rows)
    check(
        con,
        tmp_path,
        [
            {
                "type": "expect_column_pair_values_a_to_be_greater_than_b",
                "kwargs": {"column_A": "a", "column_B": "b", "or_equal": True, "ignore_row_if": ignore_row_if},
            },
            {
                "type": "expect_column_pair_values_a_to_be_greater_than_b",
                "kwargs": {"column_A": "a", "column_B": "b", "ignore_row_if": ignore_row_if},
            },
            {
                "type": "expect_column_pair_values_to_be_equal",
                "kwargs": {"column_A": "a", "column_B": "b", "ignore_row_if": ignore_row_if},
            },
            {
                "type": "expect_column_pair_values_to_be_equal",
                "kwargs": {"column_A": "a", "column_B": "b", "ignore_row_if": ignore_row_if, "mostly": 0.5},
            },
        ],
    )


ROW_CONDITION_ROWS = [
    # c (double), a (bigint), flag (boolean), st (varchar), s (varchar)
    [1.0, 1, True, "a", "x"],
    [None, None, None, None, None],
    [math.nan, 1, False, "b", "x"],
    [None, None, True, "unconfirmed", "y"],
    [5.0, 3, True, "unconfirmed", "x"],
    [1.0, 2, True, "z", None],
    [0.5, -1, False, "a", "y"],
]


def cmp(column, operator, parameter):
    return {"type": "comparison", "column": {"name": column}, "operator": operator, "parameter": parameter}


def null(column, is_null=True):
    return {"type": "nullity", "column": {"name": column}, "is_null": is_null}


def both_of(*conditions):
    return {"type": "and", "conditions": list(conditions)}


def either_of(*conditions):
    return {"type": "or", "conditions": list(conditions)}


@pytest.mark.parametrize(
    "condition",
    [
        cmp("flag", "==", True),
        cmp("flag", "!=", True),
        cmp("flag", "==", False),
        cmp("st", "!=", "unconfirmed"),
        cmp("st", "==", "unconfirmed"),
        cmp("st", ">", "b"),
        null("s"),
        null("s", False),
        cmp("a", ">", 1),
        cmp("a", "!=", 1),
        cmp("a", "<=", 1),
        cmp("c", "!=", 1),
        cmp("c", "<=", 1.0),
        cmp("a", ">=", -1),
        both_of(null("c", False), cmp("a", ">", 0)),
        both_of(null("c", False), cmp("st", "!=", "a")),
        both_of(null("s"), null("c"), null("a")),
        either_of(cmp("flag", "==", True), cmp("a", "==", 1)),
        either_of(both_of(cmp("flag", "==", True), null("s", False)), cmp("a", "==", 1)),
    ],
    ids=repr,
)
def test_row_conditions_follow_pandas_null_semantics(con, tmp_path, condition):
    load(
        con,
        "t",
        [("c", "DOUBLE"), ("a", "BIGINT"), ("flag", "BOOLEAN"), ("st", "VARCHAR"), ("s", "VARCHAR")],
        ROW_CONDITION_ROWS,
    )
    rc = {"row_condition": condition}
    check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "c", **rc}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "c", "min_value": 2, **rc}},
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "st", "value_set": ["a"], **rc}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s", **rc}},
            {
                "type": "expect_column_pair_values_a_to_be_greater_than_b",
                "kwargs": {"column_A": "c", "column_B": "a", "ignore_row_if": "either_value_is_missing", **rc},
            },
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["s", "st"], **rc}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 3, **rc}},
        ],
    )


def test_a_row_outside_the_condition_is_not_counted(con, tmp_path):
    load(
        con,
        "t",
        [("c", "DOUBLE"), ("reject_reason", "VARCHAR")],
        [[1.0, None], [None, "a rule said so"], [None, None], [9.0, None]],
    )
    gx, sql = check(
        con,
        tmp_path,
        [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "c", "row_condition": null("reject_reason")},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "c", "max_value": 5, "row_condition": null("reject_reason")},
            },
        ],
    )
    # The rejected row's missing value is not counted, only the used row's; likewise 9.0 of 2 values.
    assert [(f.unexpected_count, f.unexpected_percent) for f in gx.failures] == [(1, 1 / 3 * 100), (1, 50.0)]


def test_row_condition_on_a_missing_column(con, tmp_path):
    load(con, "t", [("c", "DOUBLE"), ("s", "VARCHAR")], [[1.0, "x"], [None, "y"]])
    gx, sql = check(
        con,
        tmp_path,
        [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "c", "row_condition": cmp("s", "==", "y")},
            },
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "c", "row_condition": cmp("zz", "==", 1)},
            },
        ],
    )
    assert "zz" in sql.failures[1].exception


@pytest.mark.parametrize("mostly", [0, 0.5, 0.6, 0.75, 0.8, 1])
def test_mostly_uses_gx_arithmetic(con, tmp_path, mostly):
    load(con, "t", [("c", "DOUBLE"), ("s", "VARCHAR")], [[1.0, "a"], [None, "a"], [3.0, "b"], [4.0, "c"], [9.0, None]])
    check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "c", "mostly": mostly}},
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "c", "max_value": 3.5, "mostly": mostly},
            },
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s", "mostly": mostly}},
            {
                "type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "s", "regex": "^[ab]$", "mostly": mostly},
            },
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["s", "c"], "mostly": mostly}},
        ],
    )


TEMPORAL_ROWS = [
    [dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1), dt.date(2024, 1, 1), 1, 1.0, True, "a"],
    [dt.datetime(2024, 1, 3, tzinfo=UTC), dt.datetime(2024, 1, 3), dt.date(2024, 1, 3), 3, 3.0, False, "c"],
    [None] * 7,
]
TEMPORAL_COLUMNS = [
    ("tz", "TIMESTAMPTZ"),
    ("ts", "TIMESTAMP"),
    ("dt", "DATE"),
    ("i", "BIGINT"),
    ("d", "DOUBLE"),
    ("b", "BOOLEAN"),
    ("s", "VARCHAR"),
]
BOUNDS = {
    "date": "2024-01-02",
    "naive": "2024-01-02T00:00:00",
    "aware": "2024-01-02T00:00:00+00:00",
    "aware_offset": "2024-01-02 07:00:00+05:00",
    "number": 2,
    "numeric string": "2.5",
}


# Which bound kinds compare with which column: a number with numbers, an aware datetime with
# TIMESTAMPTZ, a naive datetime with TIMESTAMP and DATE.
COMPARABLE_BOUNDS = {
    "tz": ("aware", "aware_offset"),
    "ts": ("naive",),
    "dt": ("naive",),
    "i": ("number", "numeric string"),
    "d": ("number", "numeric string"),
}


@pytest.mark.parametrize("rows", [TEMPORAL_ROWS, TEMPORAL_ROWS[2:], []], ids=["values", "only nulls", "empty"])
def test_between_on_every_column_kind(con, tmp_path, rows):
    load(con, "t", TEMPORAL_COLUMNS, rows)
    exps = []
    for column, kinds in COMPARABLE_BOUNDS.items():
        for kind in kinds:
            bound = BOUNDS[kind]
            exps.append(
                {"type": "expect_column_values_to_be_between", "kwargs": {"column": column, "min_value": bound}}
            )
            exps.append(
                {
                    "type": "expect_column_values_to_be_between",
                    "kwargs": {"column": column, "max_value": bound, "strict_max": True},
                }
            )
    exps.append(
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "i", "min_value": 3, "max_value": 1}}
    )
    exps.append(
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {
                "column": "ts",
                "min_value": "2024-01-01T00:00:00",
                "max_value": "2024-01-02T12:00:00",
                "strict_min": True,
            },
        }
    )
    check(con, tmp_path, exps)


@pytest.mark.parametrize(
    ("column", "kind"),
    [(c, k) for c, _ in TEMPORAL_COLUMNS for k in BOUNDS if k not in COMPARABLE_BOUNDS.get(c, ())],
)
def test_a_bound_that_does_not_compare_with_its_column_is_refused(con, tmp_path, column, kind):
    """GX fails such an expectation with an error on some tables (pandas raises once a value is
    compared); the SQL engine refuses it on any table, naming the bound and the column."""
    load(con, "t", TEMPORAL_COLUMNS, TEMPORAL_ROWS)
    path = write_suite(
        tmp_path,
        [{"type": "expect_column_values_to_be_between", "kwargs": {"column": column, "min_value": BOUNDS[kind]}}],
    )
    with pytest.raises(gates.SuiteError, match=f"do not compare with .* column '{column}'"):
        validate_table_in_sql(con, "t", path)
    assert not gates.validate_table(con, "t", path).success


@pytest.mark.parametrize(
    "value_set",
    [
        [True],
        [1],
        [1.0],
        ["1"],
        ["True"],
        ["2024-01-01T00:00:00+00:00"],
        ["2024-01-01"],
        [0.5],
        [None],
        [1, None],
        [],
        [0, 1, "a", "c"],
    ],
)
def test_in_set_compares_like_series_isin(con, tmp_path, value_set):
    rows = [
        [dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1), dt.date(2024, 1, 1), 1, 1.0, True, "1"],
        [dt.datetime(2024, 1, 3, tzinfo=UTC), dt.datetime(2024, 1, 3), dt.date(2024, 1, 3), 0, 0.5, False, "True"],
        [None] * 7,
    ]
    load(con, "t", TEMPORAL_COLUMNS, rows)
    check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": c, "value_set": value_set}}
            for c, _ in TEMPORAL_COLUMNS
        ],
    )


REGEX_SUBJECTS = [
    "1234567",
    "1234567\n",
    "1234567\n\n",
    "\n1234567",
    "123456",
    "١٢٣٤٥٦٧",  # Arabic-Indic digits: \d in Python, not in RE2
    "KP",
    "kp",
    "K\u0130",
    "OpenSanctions (EU)",
    "OpenSanctions ()",
    "a\nb",
    "a\x0bb",
    "a\u00a0b",
    "a b",
    "naïve_1",
    "",
    "ab-c]d",
    "price $5",
    "a{,2}",
]
# In the dialect both engines read (gate_spec.check_regex): every pattern the suites use, and more.
REGEX_PATTERNS = [
    r"^[0-9]{7}$",
    r"^[0-9]{9}$",
    r"^[A-Z0-9]+$",
    r"^[A-Z]{2}$",
    r"^(?:OFAC SDN|UN SC Consolidated List|UK Sanctions List|OpenSanctions \(.+\))$",
    r"^(?:repeat of AIS position |another AIS position of |failed expectation )",
    r"a.b",
    r"a[^x]b",
    r"^$",
    r"$",
    r"^1|7$",
    r"^(12)+3?",
    r"[\]\-]",
    r"x*?[0-9]{2,3}",
    r"\$5",
    r"\$$",
    r"[a-c\]]+$",
    r"^[^\n]*$",
    r"",
]


@pytest.mark.parametrize("pattern", REGEX_PATTERNS)
def test_sql_regex_matches_python_re_search(con, tmp_path, pattern):
    path = write_suite(
        tmp_path, [{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": pattern}}]
    )
    load(con, "t", [("s", "VARCHAR")], [[subject] for subject in REGEX_SUBJECTS])
    result = validate_table_in_sql(con, "t", path)
    expected = sum(1 for subject in REGEX_SUBJECTS if not re.search(pattern, subject))
    assert (result.failures[0].unexpected_count if result.failures else 0) == expected


@pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression:UserWarning")
def test_regex_parity_with_gx_on_text_integer_and_boolean_columns(con, tmp_path):
    load(
        con,
        "t",
        [("s", "VARCHAR"), ("i", "BIGINT"), ("b", "BOOLEAN")],
        [[s, n, n % 2 == 0] for n, s in enumerate(REGEX_SUBJECTS)] + [[None, None, None]],
    )
    exps = [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": p}} for p in REGEX_PATTERNS
    ]
    exps += [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "i", "regex": r"^[0-9]$"}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "b", "regex": r"^True$"}},
    ]
    check(con, tmp_path, exps)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^\d{7}$",
        r"\D",
        r"a\sb",
        r"^\w+$",
        r"\bword\b",
        r"\Z",
        r"^(?=a)",
        r"(?!a)b",
        r"(a)\1",
        r"(?i)kp",
        r"(?x) ^ [A-Z] {2} $",
        r"a$b",
        r"(?m)^a$",
        r"a{1001}",
        r"a{,2}",
        r"a++",
        r"(?>ab)",
        r"[[:alpha:]]",
        r"[]a]",
        r"[a-]",
        r"[a&&b]",
        r"\u0041",
        "([",
    ],
)
def test_regex_outside_the_shared_dialect_is_refused_by_both_engines(tmp_path, con, pattern):
    load(con, "t", [("s", "VARCHAR")], [["a"]])
    path = write_suite(
        tmp_path, [{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": pattern}}]
    )
    with pytest.raises(gates.SuiteError, match="regex"):
        validate_table_in_sql(con, "t", path)
    with pytest.raises(gates.SuiteError, match="regex"):
        gates.validate_frame(path, con.sql("select * from t").df())


def test_table_level_expectations(con, tmp_path):
    load(con, "t", [("a", "BIGINT"), ("b", "VARCHAR")], [[1, "x"], [2, "y"], [3, "z"]])
    exps = [
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": ["a", "b"]}},
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": ["b", "a"]}},
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": ["a", "b", "c"]}},
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["b", "a"]}},
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["a"]}},
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["a"], "exact_match": False}},
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["a", "c"], "exact_match": False}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 3, "max_value": 3}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 3, "strict_min": True}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 3, "strict_max": True}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 4}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 2}},
        {"type": "expect_table_row_count_to_be_between", "kwargs": {}},
    ]
    gx, sql = check(con, tmp_path, exps)
    assert sql.failures[0].observed_value == ["a", "b"]
    assert failing(sql, "expect_table_row_count_to_be_between", min_value=4)[0].observed_value == 3


def test_missing_columns_fail_with_an_exception_like_gx(con, tmp_path):
    load(con, "t", [("a", "BIGINT")], [[1], [2]])
    gx, sql = check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "zz"}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "zz"}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "zz", "min_value": 0}},
            {"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "zz"}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a", "zz"]}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
        ],
    )
    assert (sql.evaluated, sql.passed) == (6, 1)
    assert all("zz" in f.exception for f in sql.failures)


def test_a_database_error_fails_only_its_own_expectation(con, tmp_path, monkeypatch):
    from tankerwatch import gates_sql

    # Forces the shared aggregate scan to fail, so each expectation is retried on its own.
    monkeypatch.setattr(gates_sql._Regex, "unexpected", lambda self, ctx, column: gates_sql._Sql("no_such_function(1)"))
    load(con, "t", [("s", "VARCHAR"), ("a", "BIGINT")], [["x", None], ["x", 2]])
    path = write_suite(
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "^x$"}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s"}},
        ],
    )
    result = validate_table_in_sql(con, "t", path)
    assert [f.expectation_type for f in result.failures] == [
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_be_unique",
    ]
    assert result.failures[0].unexpected_count == 1 and result.failures[2].unexpected_count == 2
    assert "no_such_function" in result.failures[1].exception
    assert (result.evaluated, result.passed, result.rows) == (3, 0, 2)


def test_list_columns_are_checked_for_nulls(con, tmp_path):
    load(con, "t", [("ids", "VARCHAR[]"), ("id", "VARCHAR")], [[["a"], "x"], [[], "y"], [None, "z"]])
    check(con, tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "ids"}}])


def test_empty_table(con, tmp_path):
    load(con, "t", [("a", "BIGINT"), ("s", "VARCHAR"), ("d", "DOUBLE")], [])
    check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "a"}},
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "^x$"}},
            {"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "d"}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a", "s"]}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        ],
    )


def test_schema_qualified_and_quoted_names(con, tmp_path):
    con.execute("create schema marts")
    con.execute('create table marts."odd ""name" as select * from (values (1, \'a.b\'), (1, null)) v("x.y", "we""ird")')
    path = write_suite(
        tmp_path,
        [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "x.y"}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": 'we"ird'}},
        ],
        table='odd "name',
    )
    gx, sql = both(con, 'marts.odd "name', path)
    assert_parity(gx, sql)
    assert not sql.success and sql.table == 'marts.odd "name'


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (
            {"type": "expect_column_values_to_be_a_sanctioned_tanker", "kwargs": {"column": "a"}},
            "expect_column_values_to_be_a_sanctioned_tanker",
        ),
        (
            {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "a", "min_value": 0}},
            "expect_column_mean_to_be_between",
        ),
        (
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "result_format": "COMPLETE"}},
            "result_format",
        ),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"colum": "a", "min_value": 0}}, "colum"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "a"}}, "cannot both be None"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "a", "min_value": "soon"}}, "soon"),
        (
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "a", "min_value": {"$PARAMETER": "x"}}},
            "suite parameter",
        ),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "mostly": 1.5}}, "mostly"),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a", "row_condition": 'col("a") > 1', "condition_parser": "great_expectations"},
            },
            "condition_parser",
        ),
        (
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "a > 1"}},
            "query string",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {
                    "column": "a",
                    "row_condition": {
                        "type": "comparison",
                        "column": {"name": "a"},
                        "operator": "IN",
                        "parameter": [1, 2],
                    },
                },
            },
            "operator",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {
                    "column": "a",
                    "row_condition": {"type": "comparison", "column": "a", "operator": "==", "parameter": 1},
                },
            },
            "column",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {
                    "column": "a",
                    "row_condition": {
                        "type": "comparison",
                        "column": {"name": "a"},
                        "operator": "==",
                        "parameter": None,
                    },
                },
            },
            "parameter",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {
                    "column": "a",
                    "row_condition": {
                        "type": "and",
                        "conditions": [{"type": "or", "conditions": [null("a"), null("s")]}, null("d")],
                    },
                },
            },
            "no OR inside",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a", "row_condition": {"type": "pass_through", "pass_through_filter": "a > 1"}},
            },
            "pass_through",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a", "row_condition": cmp("s", "==", 1)},
            },
            "compares VARCHAR",
        ),
        ({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "ids", "value_set": ["a"]}}, "VARCHAR[]"),
        ({"type": "expect_column_values_to_match_regex", "kwargs": {"column": "d", "regex": "^1"}}, "DOUBLE"),
        (
            {"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "s"}},
            "does not compare",
        ),
        (
            {
                "type": "expect_column_pair_values_to_be_equal",
                "kwargs": {"column_A": "a", "column_B": "s", "ignore_row_if": "any_value_is_missing"},
            },
            "ignore_row_if",
        ),
        ({"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 5, "max_value": 1}}, "min_value"),
        ({"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a"]}}, "two columns"),
        (
            {"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "a"}},
            "same column",
        ),
    ],
)
def test_what_the_sql_executor_cannot_do_exactly_is_refused(con, tmp_path, entry, fragment):
    load(con, "t", [("a", "BIGINT"), ("s", "VARCHAR"), ("d", "DOUBLE"), ("ids", "VARCHAR[]")], [[1, "x", 1.0, ["a"]]])
    path = write_suite(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}, entry])
    with pytest.raises(gates.SuiteError) as info:
        validate_table_in_sql(con, "t", path)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_type_is_named_with_file_and_position(con, tmp_path):
    load(con, "t", [("a", "BIGINT")], [[1]])
    path = write_suite(
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
            {"type": "expect_column_kl_divergence_to_be_less_than", "kwargs": {"column": "a"}},
        ],
    )
    with pytest.raises(gates.SuiteError) as info:
        validate_table_in_sql(con, "t", path)
    message = str(info.value)
    assert "expect_column_kl_divergence_to_be_less_than" in message and str(path) in message and "#1" in message


def test_bad_suite_files_and_wrong_table_are_refused_like_gates(con, tmp_path):
    load(con, "t", [("a", "BIGINT")], [[1]])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(gates.SuiteError, match="not valid JSON"):
        validate_table_in_sql(con, "t", bad)
    other = write_suite(
        tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}], table="voyages"
    )
    with pytest.raises(gates.SuiteError, match="voyages"):
        validate_table_in_sql(con, "t", other)
    entry = write_suite(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwarg": {"column": "a"}}])
    with pytest.raises(gates.SuiteError, match="unknown keys"):
        validate_table_in_sql(con, "t", entry)


# --- validate_table_auto ---------------------------------------------------------------------


def test_warehouse_tables_of_every_size_go_to_sql(con, tmp_path):
    con.execute("create table t as select range as a, 'x' || (range % 3) as s from range(50)")
    path = write_suite(
        tmp_path,
        [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s"}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        ],
    )
    by_sql = gates.validate_table_auto(con, "t", path)
    by_gx = gates.validate_table(con, "t", path)
    assert (by_gx.engine, by_sql.engine) == ("great_expectations", "duckdb_sql")
    assert_parity(by_gx, by_sql)
    assert by_sql.to_dict()["engine"] == "duckdb_sql" and "[duckdb_sql]" in by_sql.summary()
    assert by_sql.summary().startswith("FAILED suite 's' on table 't' (50 rows): 1/2")
    assert by_sql.failures[0].unexpected_count == 50
    with pytest.raises(gates.GateFailed) as info:
        gates.raise_if_failed(by_sql)
    assert info.value.result is by_sql
    # The connection is not left blocked by an unfinished result.
    assert con.execute("select count(*) from t").fetchall() == [(50,)]


# --- failing rows ------------------------------------------------------------------------------


def test_failing_rows_name_each_row_by_the_grain_and_its_lineage(con, tmp_path):
    """The rows behind a failure are real rows of the table: the key the grain names, the lineage
    columns, and the expectation's own columns, bounded to the first twenty in table order."""
    rows = [["feed", "snap-1", i, f"V{i % 40}", 5.0 if i % 9 else 500.0, 10.0 - (i % 4)] for i in range(1, 101)]
    load(
        con,
        "t",
        [("source_name", "VARCHAR"), ("snapshot_id", "VARCHAR"), ("source_row", "BIGINT"), ("vessel_id", "VARCHAR"),
         ("draught_m", "DOUBLE"), ("max_draught_m", "DOUBLE")],
        rows,
    )
    suite = tmp_path / "s.json"
    suite.write_text(json.dumps({
        "name": "s",
        "meta": {"stage": "staging", "table": "t", "notes": "Grain: one row per message (vessel_id)."},
        "expectations": [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "draught_m", "max_value": 30}},
            {"type": "expect_column_pair_values_a_to_be_greater_than_b",
             "kwargs": {"column_A": "max_draught_m", "column_B": "draught_m", "or_equal": True}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["vessel_id", "snapshot_id"]}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 10}},
        ],
    }), encoding="utf-8")
    gx, sql = both(con, "t", suite)
    assert_parity(gx, sql)
    assert sql.key_columns == ["vessel_id", "source_name", "snapshot_id", "source_row"]
    between, pair, compound, count = sql.failures
    assert [r["source_row"] for r in between.failing_rows] == list(range(9, 101, 9))
    assert between.failing_rows[0] == {"vessel_id": "V9", "source_name": "feed", "snapshot_id": "snap-1",
                                       "source_row": 9, "draught_m": 500.0}
    assert [r["source_row"] for r in pair.failing_rows] == list(range(9, 101, 9))
    assert pair.failing_rows[0]["max_draught_m"] == 9.0
    # 40 ids over 100 rows: every row shares its id with another; the first twenty rows are shown.
    assert compound.unexpected_count == 100
    assert [r["source_row"] for r in compound.failing_rows] == list(range(1, 21))
    assert count.observed_value == 100 and count.failing_rows == []


def test_failing_rows_of_a_window_come_from_the_window(con, tmp_path):
    load(con, "t", [("source_row", "BIGINT"), ("snapshot_id", "VARCHAR"), ("id", "VARCHAR")],
         [[1, "old", "a"], [2, "old", "b"], [3, "new", "a"], [4, "new", "c"], [5, "new", "c"]])
    suite = write_suite(tmp_path, [{"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}}])
    result = validate_table_in_sql(con, "t", suite, window=("snapshot_id = $s", {"s": "new"}))
    assert result.scope == "window"
    [failure] = result.failures
    assert [(r["source_row"], r["id"]) for r in failure.failing_rows] == [(3, "a"), (4, "c"), (5, "c")]
