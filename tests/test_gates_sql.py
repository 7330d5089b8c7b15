"""Parity of tankerwatch.gates_sql (suites evaluated in DuckDB) with GX on pandas (gates.validate_table).

Every suite in expectations/ is run by both engines on a generated table that satisfies it
and on variants that violate each of its expectations; hand-written tables cover
the semantics GX's pandas engine has and SQL does not (NaN, nullable dtypes, `$`, ...).
Both engines must agree on each expectation's verdict, unexpected count and percent,
sample values, observed value and whether it raised.
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
from tankerwatch.gates_sql import SUPPORTED_TYPES, python_regex_to_re2, validate_table_in_sql

REPO = Path(__file__).resolve().parent.parent
SUITES = sorted((REPO / "expectations").glob("*.json"))
UTC = dt.timezone.utc


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
    head = lambda r: (r.suite_name, r.table, r.stage, r.rows, r.success, r.evaluated, r.passed)  # noqa: E731
    assert head(sql) == head(gx), context
    assert [f.expectation_type for f in sql.failures] == [f.expectation_type for f in gx.failures], context
    for g, s in zip(gx.failures, sql.failures):
        where = f"{context} {g.expectation_type} {g.kwargs}"
        assert s.column == g.column, where
        assert s.unexpected_count == g.unexpected_count, where
        assert s.unexpected_percent == g.unexpected_percent, where
        assert _multiset(s.sample_values) == _multiset(g.sample_values), where
        assert _hashable(s.observed_value) == _hashable(g.observed_value), where
        assert (s.exception is None) == (g.exception is None), f"{where}: {g.exception!r} vs {s.exception!r}"
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
    return [f for f in result.failures if f.expectation_type == etype and all(f.kwargs.get(k) == v for k, v in kwargs.items())]


def load(con, table, columns, rows):
    """(Re)create `table` with `columns` [(name, duckdb type)] holding `rows`."""
    con.execute(f"drop table if exists {gates.quote_identifier(table)}")
    spec = ", ".join(f'"{n}" {t}' for n, t in columns)
    con.execute(f"create table {gates.quote_identifier(table)} ({spec})")
    if rows:
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"insert into {gates.quote_identifier(table)} values ({marks})", [list(r) for r in rows])


# --- generating tables from a suite ---------------------------------------------------------


def _class_members(items, c):
    negate = items and items[0][0] is c.NEGATE
    items = items[1:] if negate else items

    def hit(ch):
        for op, av in items:
            if op is c.LITERAL and ord(ch) == av:
                return True
            if op is c.RANGE and av[0] <= ord(ch) <= av[1]:
                return True
            if op is c.CATEGORY and re.fullmatch({c.CATEGORY_DIGIT: r"\d", c.CATEGORY_WORD: r"\w", c.CATEGORY_SPACE: r"\s"}.get(av, r"(?!)"), ch):
                return True
        return False

    return [ch for ch in map(chr, range(32, 127)) if hit(ch) != negate]


def regex_sample(pattern, k):
    """A string matching `pattern` for re.search; larger k gives a larger string where the
    pattern has a fixed shape (so ordered pairs of regex-checked columns can be generated)."""
    from re import _constants as c
    from re import _parser as sre_parse

    slots = []

    def walk(items):
        nonlocal k
        for op, av in items:
            if op is c.LITERAL:
                slots.append(chr(av))
            elif op is c.NOT_LITERAL:
                slots.append("x" if av != ord("x") else "y")
            elif op is c.ANY:
                slots.append(list("abcdefgh"))
            elif op is c.IN:
                slots.append(_class_members(list(av), c))
            elif op is c.BRANCH:
                branches = av[1]
                choice, k = k % len(branches), k // len(branches)
                walk(list(branches[choice]))
            elif op is c.SUBPATTERN:
                walk(list(av[3]))
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                low, high, sub = av
                for _ in range(max(low, min(high, 3))):
                    walk(list(sub))
            elif op is c.AT:
                continue
            else:
                raise ValueError(f"regex_sample cannot generate {op}")

    walk(list(sre_parse.parse(pattern)))
    out = []
    for slot in reversed(slots):
        if isinstance(slot, str):
            out.append(slot)
        else:
            k, digit = divmod(k, len(slot))
            out.append(slot[digit])
    text = "".join(reversed(out))
    assert re.search(pattern, text), (pattern, text)
    return text


class SuiteTable:
    """A small table that satisfies a suite, with column types inferred from the suite."""

    BASE_TIME = dt.datetime(2024, 3, 1, 6, 0, tzinfo=UTC)

    def __init__(self, spec):
        self.spec = spec
        self.table = spec["meta"]["table"]
        exps = spec["expectations"]
        self.exps = exps
        ordered = [e["kwargs"]["column_list"] for e in exps if e["type"] == "expect_table_columns_to_match_ordered_list"]
        names = list(ordered[0]) if ordered else []
        for e in exps:
            k = e["kwargs"]
            for col in [k.get("column"), k.get("column_A"), k.get("column_B"), *k.get("column_list", []), *k.get("column_set", [])]:
                if col and col not in names:
                    names.append(col)
        self.names = names
        self.in_set, self.regex, self.bounds, self.unique = {}, {}, {}, set()
        self.greater, self.equal, self.literal_types, self.null_tested = [], [], {}, set()
        for e in exps:
            k, t = e["kwargs"], e["type"]
            col = k.get("column")
            if t == "expect_column_values_to_be_in_set":
                self.in_set[col] = k["value_set"]
            elif t == "expect_column_values_to_match_regex":
                self.regex[col] = k["regex"]
            elif t == "expect_column_values_to_be_between":
                lo, hi = self.bounds.get(col, (None, None))
                new_lo, new_hi = k.get("min_value"), k.get("max_value")
                lo = new_lo if lo is None else (lo if new_lo is None else max(lo, new_lo))
                hi = new_hi if hi is None else (hi if new_hi is None else min(hi, new_hi))
                self.bounds[col] = (lo, hi)
            elif t == "expect_column_values_to_be_unique":
                self.unique.add(col)
            elif t == "expect_column_pair_values_a_to_be_greater_than_b":
                self.greater.append((k["column_A"], k["column_B"], bool(k.get("or_equal"))))
            elif t == "expect_column_pair_values_to_be_equal":
                self.equal.append((k["column_A"], k["column_B"]))
            condition = k.get("row_condition")
            if condition:
                for name, literal in re.findall(r"(\w+)\s*[!=<>]=?\s*(True|False|\"[^\"]*\"|'[^']*'|[-\d.]+)", condition):
                    self.literal_types[name] = (
                        "BOOLEAN" if literal in ("True", "False") else "VARCHAR" if literal[0] in "\"'" else "DOUBLE"
                    )
                self.null_tested.update(re.findall(r"(\w+)\.(?:isnull|isna|notnull|notna)\(\)", condition))
        self.group = {n: n for n in names}
        for a, b in self.equal:
            self._union(a, b)
        self.types = self._types()
        self.rank = self._ranks()
        self.n = self._row_count()

    def _find(self, name):
        while self.group[name] != name:
            name = self.group[name]
        return name

    def _union(self, a, b):
        self.group[self._find(a)] = self._find(b)

    def _own_type(self, name):
        if name in self.in_set:
            values = [v for v in self.in_set[name] if v is not None]
            if values and all(isinstance(v, bool) for v in values):
                return "BOOLEAN"
            if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                return "BIGINT" if all(isinstance(v, int) for v in values) else "DOUBLE"
            return "VARCHAR"
        if name in self.regex:
            return "VARCHAR"
        if name in self.bounds:
            lo, hi = self.bounds[name]
            ints = all(isinstance(v, int) for v in (lo, hi) if v is not None)
            wide = lo is None or hi is None or hi - lo >= 100
            return "BIGINT" if ints and wide else "DOUBLE"
        return self.literal_types.get(name)

    def _types(self):
        own = {n: self._own_type(n) for n in self.names}
        # Columns compared with each other take one type: the strongest evidence in their chain.
        linked = {n: {n} for n in self.names}
        for a, b, *_ in self.greater + self.equal:
            merged = linked[a] | linked[b]
            for n in merged:
                linked[n] = merged
        types = {}
        for n in self.names:
            found = [own[m] for m in sorted(linked[n]) if own[m]]
            if found:
                types[n] = "DOUBLE" if "DOUBLE" in found else found[0]
            elif n.endswith("_at") or (len(linked[n]) > 1 and any(m.endswith(("_at", "_from", "_to")) for m in linked[n])):
                types[n] = "TIMESTAMPTZ"
            elif "date" in n or n.endswith("_on"):
                types[n] = "DATE"
            elif len(linked[n]) > 1:
                types[n] = "DOUBLE"  # compared with another column: a quantity
            else:
                types[n] = "VARCHAR"
        return types

    def _ranks(self):
        rank = {n: 0 for n in self.names}
        for _ in range(len(self.names) + 1):
            for a, b, _or_equal in self.greater:
                ga, gb = self._find(a), self._find(b)
                if rank[ga] <= rank[gb]:
                    rank[ga] = rank[gb] + 1
        return {n: rank[self._find(n)] for n in self.names}

    def _row_count(self):
        n = 8
        for e in self.exps:
            if e["type"] == "expect_table_row_count_to_be_between":
                lo, hi = e["kwargs"].get("min_value"), e["kwargs"].get("max_value")
                if lo is not None:
                    n = max(n, lo)
                if hi is not None:
                    n = min(n, hi)
        return n

    def _component_bounds(self, name):
        lows, highs = [], []
        for m in self.names:
            if self._linked(name, m) and m in self.bounds:
                lo, hi = self.bounds[m]
                if lo is not None:
                    lows.append(lo)
                if hi is not None:
                    highs.append(hi)
        lo = max(lows) if lows else None
        hi = min(highs) if highs else None
        if lo is None and hi is None:
            lo, hi = 0, 1000
        elif hi is None:
            hi = lo + 1000
        elif lo is None:
            lo = hi - 1000
        return lo, hi

    def _linked(self, a, b):
        if a == b:
            return True
        edges = [(x, y) for x, y, *_ in self.greater + self.equal]
        seen, todo = {a}, [a]
        while todo:
            cur = todo.pop()
            for x, y in edges:
                for nxt in ((y,) if x == cur else (x,) if y == cur else ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
        return b in seen

    def value(self, name, i):
        kind, rank = self.types[name], self.rank[name]
        if name in self.null_tested and i % 2 == 1:
            return None
        if name in self.in_set:
            values = [v for v in self.in_set[name] if v is not None]
            return values[i % len(values)]
        if name in self.regex:
            return regex_sample(self.regex[name], i * 10 + rank + 1)
        if kind == "BOOLEAN":
            return i % 2 == 0
        if kind in ("DOUBLE", "BIGINT"):
            lo, hi = self._component_bounds(name)
            x = lo + (hi - lo) * (0.1 + 0.5 * i / max(self.n, 1) + 0.08 * rank)
            return round(x) if kind == "BIGINT" else x
        if kind == "TIMESTAMPTZ":
            return self.BASE_TIME + dt.timedelta(days=i, hours=rank)
        if kind == "DATE":
            return dt.date(2024, 3, 1) + dt.timedelta(days=10 * i + rank)
        return f"v{i:03d}-{rank}"

    @property
    def columns(self):
        return [(n, self.types[n]) for n in self.names]

    def rows(self):
        return [[self.value(n, i) for n in self.names] for i in range(self.n)]


# --- violating one expectation --------------------------------------------------------------


def _domain_rows(con, table, kwargs):
    frame = con.sql(f"select * from {gates.quote_identifier(table)}").df()
    condition = kwargs.get("row_condition")
    return list(frame.query(condition).index) if condition else list(frame.index)


def _pick(rows, domain, count):
    """`count` row numbers inside the domain, appending copies of the first row if it is too small."""
    picked = list(domain[:count])
    while len(picked) < count:
        rows.append(list(rows[domain[0] if domain else 0]))
        picked.append(len(rows) - 1)
    return picked


def _outside(kind, lo, hi, above):
    if above and hi is not None:
        return hi + (1 if kind == "BIGINT" else 0.5)
    if lo is not None:
        return lo - (1 if kind == "BIGINT" else 0.5)
    return hi + 1


def mutations(model, domains, index):
    """Ways to break expectation `index`: ("rows", label, mutate) edits rows of the satisfying
    table in place; ("table", label, columns, rows) is a whole other table (for table-level
    expectations)."""
    exp = model.exps[index]
    t, k = exp["type"], exp["kwargs"]
    columns, base = model.columns, model.rows()
    names = [n for n, _ in columns]
    domain = domains[k.get("row_condition") or ""]
    pos = names.index(k["column"]) if "column" in k and k["column"] in names else None
    kind = dict(columns).get(k.get("column"))
    out = []

    if t == "expect_column_values_to_not_be_null":
        def nulls(rows):
            first, second = _pick(rows, domain, 2)
            rows[first][pos] = None
            rows[second][pos] = math.nan if kind == "DOUBLE" else None
        out.append(("rows", "nulls", nulls))
    elif t == "expect_column_values_to_be_between":
        lo, hi = k.get("min_value"), k.get("max_value")
        def outside(rows):
            a, b, c = _pick(rows, domain, 3)
            rows[a][pos] = _outside(kind, lo, hi, above=True)
            rows[b][pos] = _outside(kind, lo, hi, above=False)
            rows[c][pos] = math.nan if kind == "DOUBLE" else None
        def many(rows):
            for r in _pick(rows, domain, 12):
                rows[r][pos] = _outside(kind, lo, hi, above=True)
        out += [("rows", "outside", outside), ("rows", "twelve outside", many)]
    elif t == "expect_column_values_to_be_in_set":
        values = k["value_set"]
        stranger = {"BOOLEAN": False if True in values else True, "BIGINT": 987654, "DOUBLE": 987654.5}.get(kind, "zz-not-in-set")
        def foreign(rows):
            a, b = _pick(rows, domain, 2)
            rows[a][pos] = stranger
            rows[b][pos] = None
        if not (kind == "BOOLEAN" and {True, False} <= set(values)):
            out.append(("rows", "foreign", foreign))
    elif t == "expect_column_values_to_match_regex":
        def mismatches(rows):
            a, b, c, d = _pick(rows, domain, 4)
            good = regex_sample(k["regex"], 3)
            rows[a][pos] = "!!no match"
            rows[b][pos] = good + "\n"  # Python's $ matches before a final newline
            rows[c][pos] = "\n" + good
            rows[d][pos] = None
        out.append(("rows", "mismatches", mismatches))
    elif t == "expect_column_values_to_be_unique":
        def duplicates(rows):
            a, b, c = _pick(rows, domain, 3)
            rows[b][pos] = rows[a][pos]
            rows[c][pos] = rows[a][pos]
        out.append(("rows", "duplicates", duplicates))
    elif t == "expect_compound_columns_to_be_unique":
        idx = [names.index(c) for c in k["column_list"]]
        def duplicates(rows):
            a, b, c, d = _pick(rows, domain, 4)
            for i in idx:
                rows[b][i] = rows[a][i]
                rows[c][i] = None
                rows[d][i] = None
        out.append(("rows", "duplicates and all-missing", duplicates))
    elif t in ("expect_column_pair_values_a_to_be_greater_than_b", "expect_column_pair_values_to_be_equal"):
        ia, ib = names.index(k["column_A"]), names.index(k["column_B"])
        def broken(rows):
            a, b, c = _pick(rows, domain, 3)
            if t == "expect_column_pair_values_to_be_equal":
                rows[a][ia] = model.value(k["column_A"], 5 if a != 5 else 6)
            else:
                rows[a][ia], rows[a][ib] = rows[a][ib], rows[a][ia]
            rows[b][ia] = None
            rows[c][ib] = None
        out.append(("rows", "broken pair", broken))
    elif t == "expect_table_columns_to_match_ordered_list":
        out.append(("table", "reversed", columns[::-1], [r[::-1] for r in base]))
        out.append(("table", "one missing", columns[:-1], [r[:-1] for r in base]))
        out.append(("table", "one extra", columns + [("zz_extra", "VARCHAR")], [r + ["x"] for r in base]))
    elif t == "expect_table_columns_to_match_set":
        out.append(("table", "one missing", columns[:-1], [r[:-1] for r in base]))
        out.append(("table", "one extra", columns + [("zz_extra", "VARCHAR")], [r + ["x"] for r in base]))
    elif t == "expect_table_row_count_to_be_between":
        lo, hi = k.get("min_value"), k.get("max_value")
        if lo:
            out.append(("table", "too few", columns, base[: lo - 1]))
        if hi is not None:
            out.append(("table", "too many", columns, base + [list(base[0]) for _ in range(hi + 1 - len(base))]))
    else:
        raise AssertionError(f"no violation generator for {t}")
    return out


def _touched(kwargs):
    names = {kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B"), *kwargs.get("column_list", [])}
    names |= set(re.findall(r"[A-Za-z_]\w*", kwargs.get("row_condition") or ""))
    return names - {None}


def violation_tables(model, con, planned):
    """Tables that each break one or more expectations, with the indexes they break.

    Row-level breaks of expectations on disjoint columns (row conditions included) share a
    table: each only adds unexpected values, nulls or duplicates on its own columns, so none
    repairs another, and the parity run costs one GX validation per group, not per expectation.
    """
    load(con, model.table, model.columns, model.rows())
    conditions = {e["kwargs"].get("row_condition") or "" for e in model.exps}
    domains = {c: _domain_rows(con, model.table, {"row_condition": c}) for c in conditions}
    groups: list[tuple[set, list]] = []
    for index, exp in enumerate(model.exps):
        cases = mutations(model, domains, index)
        if cases:
            planned.add(index)
        if cases and cases[0][0] == "table":
            for _, label, columns, rows in cases:
                yield f"#{index} {exp['type']} ({label})", [index], columns, rows
            continue
        touched = _touched(exp["kwargs"])
        for used, members in groups:
            if not used & touched:
                used |= touched
                members.append((index, cases))
                break
        else:
            groups.append((set(touched), [(index, cases)]))
    for _, members in groups:
        for v in range(max(len(cases) for _, cases in members)):
            rows = model.rows()
            broken, labels = [], []
            for index, cases in members:
                if v < len(cases):
                    _, label, mutate = cases[v]
                    mutate(rows)
                    broken.append(index)
                    labels.append(f"#{index} {model.exps[index]['type']} ({label})")
            yield "; ".join(labels), broken, model.columns, rows


# --- every suite in expectations/ ----------------------------------------------------------------


def test_every_suite_uses_only_implemented_types():
    for path in SUITES:
        for entry in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            assert entry["type"] in SUPPORTED_TYPES, f"{path.name}: {entry['type']}"


@pytest.mark.parametrize("suite_path", SUITES, ids=lambda p: p.stem)
def test_suite_parity_on_generated_tables(suite_path):
    spec = json.loads(suite_path.read_text(encoding="utf-8"))
    model = SuiteTable(spec)
    con = duckdb.connect()

    load(con, model.table, model.columns, model.rows())
    gx, sql = both(con, model.table, suite_path)
    assert_parity(gx, sql, "satisfying table")
    assert gx.success, f"the generated table should satisfy {suite_path.name}: {gx.summary()}"

    planned, covered = set(), set()
    for label, broken, columns, rows in list(violation_tables(model, con, planned)):
        load(con, model.table, columns, rows)
        context = f"{suite_path.name}: {label}"
        gx, sql = both(con, model.table, suite_path)
        assert_parity(gx, sql, context)
        for index in broken:
            exp = spec["expectations"][index]
            hit = [f for f in sql.failures if f.kwargs == exp["kwargs"] and f.expectation_type == exp["type"]]
            assert hit, f"{context}: the table does not violate #{index}"
            covered.add(index)
    assert covered == planned
    # Only an in_set that admits both booleans cannot be broken by a value of its column.
    for index in set(range(len(spec["expectations"]))) - planned:
        assert spec["expectations"][index]["type"] == "expect_column_values_to_be_in_set"


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
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": c, "value_set": [1.5, 0.1, 2.5, 1, 0.3]}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": c}},
        ]
    exps.append({"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "d", "column_B": "f", "ignore_row_if": "neither"}})
    exps.append({"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["d", "f"], "ignore_row_if": "never"}})
    gx, _ = check(con, tmp_path, exps)
    assert failing(gx, "expect_column_values_to_not_be_null", column="d")[0].unexpected_count == 2


def test_signed_zero_and_nan_duplicates(con, tmp_path):
    load(con, "t", [("d", "DOUBLE"), ("s", "VARCHAR")], [[0.0, "a"], [-0.0, "a"], [math.nan, "b"], [None, "b"], [2.0, None]])
    check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "d"}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["d", "s"]}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["d", "s"], "ignore_row_if": "any_value_is_missing"}},
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
    for g, s in zip(gx.failures, sql.failures):
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
            {"type": "expect_column_pair_values_a_to_be_greater_than_b", "kwargs": {"column_A": "a", "column_B": "b", "or_equal": True}},
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "^id"}},
        ],
    )
    assert all(f.unexpected_count > 10 for f in gx.failures) and len(gx.failures) == 4
    for g, s in zip(gx.failures, sql.failures):
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
        (("DOUBLE", "DOUBLE"), [[1.0, 2.0], [None, 1.0], [math.nan, 3.0], [None, None], [5.0, math.nan], [1.0, 1.0], [3.0, 2.0]]),
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
        (("DATE", "TIMESTAMP"), [[dt.date(2024, 1, 2), dt.datetime(2024, 1, 1, 12)], [dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, 12)], [None, None]]),
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
            {"type": "expect_column_pair_values_a_to_be_greater_than_b", "kwargs": {"column_A": "a", "column_B": "b", "or_equal": True, "ignore_row_if": ignore_row_if}},
            {"type": "expect_column_pair_values_a_to_be_greater_than_b", "kwargs": {"column_A": "a", "column_B": "b", "ignore_row_if": ignore_row_if}},
            {"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "b", "ignore_row_if": ignore_row_if}},
            {"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "b", "ignore_row_if": ignore_row_if, "mostly": 0.5}},
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


@pytest.mark.parametrize(
    "condition",
    [
        "flag == True",
        "flag != True",
        "flag == False",
        "flag",
        "not flag",
        'st != "unconfirmed"',
        "st == 'unconfirmed'",
        'st > "b"',
        "s.isnull()",
        "s.isna()",
        "s.notnull()",
        "~s.notna()",
        "a > 1",
        "a != 1",
        "not (a > 1)",
        "c != 1",
        "not (c > 1)",
        "c <= 1.0",
        "1 < a",
        "a >= -1",
        "c.notnull() and a > 0",
        'c.notnull() & st != "a"',
        "flag == True | a == 1",
        "(flag == True or a == 1) and not s.isnull()",
    ],
)
def test_row_conditions_follow_pandas_null_semantics(con, tmp_path, condition):
    load(con, "t", [("c", "DOUBLE"), ("a", "BIGINT"), ("flag", "BOOLEAN"), ("st", "VARCHAR"), ("s", "VARCHAR")], ROW_CONDITION_ROWS)
    rc = {"row_condition": condition, "condition_parser": "pandas"}
    check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "c", **rc}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "c", "min_value": 2, **rc}},
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "st", "value_set": ["a"], **rc}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s", **rc}},
            {"type": "expect_column_pair_values_a_to_be_greater_than_b", "kwargs": {"column_A": "c", "column_B": "a", "ignore_row_if": "either_value_is_missing", **rc}},
            {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["s", "st"], **rc}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 3, **rc}},
        ],
    )


def test_row_condition_without_parser_and_on_a_missing_column(con, tmp_path):
    load(con, "t", [("c", "DOUBLE"), ("s", "VARCHAR")], [[1.0, "x"], [None, "y"]])
    gx, sql = check(
        con,
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "c", "row_condition": 's == "y"'}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "c", "row_condition": "zz == 1", "condition_parser": "pandas"}},
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
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "c", "max_value": 3.5, "mostly": mostly}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s", "mostly": mostly}},
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "^[ab]$", "mostly": mostly}},
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


@pytest.mark.parametrize("rows", [TEMPORAL_ROWS, TEMPORAL_ROWS[2:], []], ids=["values", "only nulls", "empty"])
def test_between_on_every_column_kind_and_bound_kind(con, tmp_path, rows):
    # GX raises for incomparable pairs (a tz-aware column with a naive bound, a date bound,
    # a string column): on the tz-aware dtype always, elsewhere only once a value is compared.
    load(con, "t", TEMPORAL_COLUMNS, rows)
    exps = []
    for column, _ in TEMPORAL_COLUMNS:
        for bound in BOUNDS.values():
            exps.append({"type": "expect_column_values_to_be_between", "kwargs": {"column": column, "min_value": bound}})
            exps.append({"type": "expect_column_values_to_be_between", "kwargs": {"column": column, "max_value": bound, "strict_max": True}})
    exps.append({"type": "expect_column_values_to_be_between", "kwargs": {"column": "i", "min_value": 3, "max_value": 1}})
    exps.append({"type": "expect_column_values_to_be_between", "kwargs": {"column": "tz", "min_value": "2024-01-02", "max_value": "2024-01-02T12:00:00"}})
    exps.append({"type": "expect_column_values_to_be_between", "kwargs": {"column": "ts", "min_value": "2024-01-01T00:00:00", "max_value": "2024-01-02T12:00:00", "strict_min": True}})
    check(con, tmp_path, exps)


@pytest.mark.parametrize(
    "value_set",
    [[True], [1], [1.0], ["1"], ["True"], ["2024-01-01T00:00:00+00:00"], ["2024-01-01"], [0.5], [None], [1, None], [], [0, 1, "a", "c"]],
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
        [{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": c, "value_set": value_set}} for c, _ in TEMPORAL_COLUMNS],
    )


REGEX_SUBJECTS = [
    "1234567",
    "1234567\n",
    "1234567\n\n",
    "\n1234567",
    "123456",
    "١٢٣٤٥٦٧",  # Arabic-Indic digits: \d in Python, not [0-9]
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
]
REGEX_PATTERNS = [
    r"^[0-9]{7}$",
    r"^[0-9]{9}$",
    r"^[A-Z0-9]+$",
    r"^[A-Z]{2}$",
    r"^(?:OFAC SDN|UN SC Consolidated List|UK Sanctions List|OpenSanctions \(.+\))$",
    r"^\d{7}$",
    r"\D",
    r"a\sb",
    r"a\Sb",
    r"^\w+$",
    r"[^\w]",
    r"a.b",
    r"a[^x]b",
    r"^$",
    r"\Z",
    r"^1|7$",
    r"^(12)+3?",
    r"[\]\-]",
    r"x*?\d{2,3}",
    r"(?x) ^ [A-Z] {2} $",
    r"",
]


@pytest.mark.parametrize("pattern", REGEX_PATTERNS)
def test_regex_translation_matches_python_re_search(con, pattern):
    translated = python_regex_to_re2(pattern)
    for subject in REGEX_SUBJECTS:
        [(matched,)] = con.execute("select regexp_matches(?, ?)", [subject, translated]).fetchall()
        assert matched == bool(re.search(pattern, subject)), (pattern, translated, subject)


@pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression:UserWarning")
def test_regex_parity_with_gx_on_text_integer_and_boolean_columns(con, tmp_path):
    load(
        con,
        "t",
        [("s", "VARCHAR"), ("i", "BIGINT"), ("b", "BOOLEAN")],
        [[s, n, n % 2 == 0] for n, s in enumerate(REGEX_SUBJECTS)] + [[None, None, None]],
    )
    exps = [{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": p}} for p in REGEX_PATTERNS]
    exps += [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "i", "regex": r"^[0-9]$"}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "b", "regex": r"^True$"}},
        # GX builds an invalid pattern and fails it when it runs; so must we.
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": "(["}},
    ]
    gx, sql = check(con, tmp_path, exps)
    assert sql.failures[-1].exception


@pytest.mark.parametrize(
    "pattern",
    [r"^(?=a)", r"(?!a)b", r"(a)\1", r"\bword\b", r"(?i)kp", r"a$b", r"(?m)^a$", r"a{1001}", r"[^\S\d]", r"(?>ab)", r"a++"],
)
def test_untranslatable_regex_is_refused(tmp_path, con, pattern):
    load(con, "t", [("s", "VARCHAR")], [["a"]])
    path = write_suite(tmp_path, [{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "s", "regex": pattern}}])
    with pytest.raises(gates.SuiteError, match="regex"):
        validate_table_in_sql(con, "t", path)


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
        ({"type": "expect_column_values_to_be_a_sanctioned_tanker", "kwargs": {"column": "a"}}, "expect_column_values_to_be_a_sanctioned_tanker"),
        ({"type": "expect_column_mean_to_be_between", "kwargs": {"column": "a", "min_value": 0}}, "expect_column_mean_to_be_between"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "result_format": "COMPLETE"}}, "result_format"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"colum": "a", "min_value": 0}}, "colum"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "a"}}, "cannot both be None"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "a", "min_value": "soon"}}, "soon"),
        ({"type": "expect_column_values_to_be_between", "kwargs": {"column": "a", "min_value": {"$PARAMETER": "x"}}}, "suite parameter"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "mostly": 1.5}}, "mostly"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": 'col("a") > 1', "condition_parser": "great_expectations"}}, "condition_parser"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "a in [1, 2]", "condition_parser": "pandas"}}, "row_condition"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "a > @limit", "condition_parser": "pandas"}}, "row_condition"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "a.str.len() > 1", "condition_parser": "pandas"}}, "row_condition"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "`a b` > 1", "condition_parser": "pandas"}}, "row_condition"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "1 < a < 3", "condition_parser": "pandas"}}, "row_condition"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "a == s", "condition_parser": "pandas"}}, "row_condition"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "a == None", "condition_parser": "pandas"}}, "row_condition"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "a = 1", "condition_parser": "pandas"}}, "row_condition"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "index > 1", "condition_parser": "pandas"}}, "row_condition"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a", "row_condition": "s == 1", "condition_parser": "pandas"}}, "comparing VARCHAR"),
        ({"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "ids", "value_set": ["a"]}}, "VARCHAR[]"),
        ({"type": "expect_column_values_to_match_regex", "kwargs": {"column": "d", "regex": "^1"}}, "DOUBLE"),
        ({"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "s"}}, "does not compare"),
        ({"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "s", "ignore_row_if": "any_value_is_missing"}}, "ignore_row_if"),
        ({"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 5, "max_value": 1}}, "min_value"),
        ({"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a"]}}, "two columns"),
        ({"type": "expect_column_pair_values_to_be_equal", "kwargs": {"column_A": "a", "column_B": "a"}}, "same column"),
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
    path = write_suite(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}, {"type": "expect_column_kl_divergence_to_be_less_than", "kwargs": {"column": "a"}}])
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
    other = write_suite(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}}], table="voyages")
    with pytest.raises(gates.SuiteError, match="voyages"):
        validate_table_in_sql(con, "t", other)
    entry = write_suite(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwarg": {"column": "a"}}])
    with pytest.raises(gates.SuiteError, match="unknown keys"):
        validate_table_in_sql(con, "t", entry)


# --- validate_table_auto ---------------------------------------------------------------------


def test_auto_picks_the_engine_by_row_count(con, tmp_path):
    con.execute("create table t as select range as a, 'x' || (range % 3) as s from range(50)")
    path = write_suite(
        tmp_path,
        [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "s"}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        ],
    )
    small = gates.validate_table_auto(con, "t", path, sql_threshold_rows=51)
    large = gates.validate_table_auto(con, "t", path, sql_threshold_rows=50)
    assert (small.engine, large.engine) == ("great_expectations", "duckdb_sql")
    assert_parity(small, large)
    # warehouse tables of every size go to SQL unless a caller asks for GX below a size
    assert gates.validate_table_auto(con, "t", path).engine == "duckdb_sql"

    assert large.to_dict()["engine"] == "duckdb_sql" and small.to_dict()["engine"] == "great_expectations"
    assert "[duckdb_sql]" in large.summary() and "[great_expectations]" in small.summary()
    assert large.summary().startswith("FAILED suite 's' on table 't' (50 rows): 1/2")
    with pytest.raises(gates.GateFailed) as info:
        gates.raise_if_failed(large)
    assert info.value.result is large
    # The connection is not left blocked by an unfinished result.
    assert con.execute("select count(*) from t").fetchall() == [(50,)]
