"""Tests for tankerwatch.gates: suite loading, frame and DuckDB validation, failure reports."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pandas as pd
import polars as pl
import pytest

from tankerwatch import gates
from tankerwatch.errors import GateFailed, TankerwatchError


def write_suite(tmp_path, expectations, *, name="voyages_marts", stage="marts", table="voyages", **extra):
    path = tmp_path / f"{name}.json"
    spec = {"name": name, "meta": {"stage": stage, "table": table}, "expectations": expectations, **extra}
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


VOYAGE_EXPECTATIONS = [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "imo"}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "imo", "regex": "^[0-9]{7}$"}},
    {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "load_fraction", "min_value": 0, "max_value": 1},
    },
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "flag", "value_set": ["KP", "RU"]}},
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
]


def good_voyages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "imo": ["9123456", "8654321", "7777777"],
            "load_fraction": [0.9, 0.85, 0.92],
            "flag": ["KP", "KP", "RU"],
            "load_arrival_at": pd.to_datetime(["2024-03-01T06:00:00Z"] * 3),
        }
    )


@pytest.fixture
def voyage_suite(tmp_path):
    return write_suite(tmp_path, VOYAGE_EXPECTATIONS)


def test_passing_frame(voyage_suite):
    result = gates.validate_frame(voyage_suite, good_voyages())

    assert result.success
    assert (result.evaluated, result.passed) == (5, 5)
    assert result.failures == []
    assert (result.suite_name, result.table, result.stage, result.rows) == ("voyages_marts", "voyages", "marts", 3)
    assert result.summary().startswith("PASSED suite 'voyages_marts' on table 'voyages' (3 rows): 5/5")
    assert gates.raise_if_failed(result) is result


def test_failing_frame_reports_expectation_count_and_samples(voyage_suite):
    frame = pd.DataFrame(
        {
            "imo": ["9123456"] * 3 + ["8654321"] * 13,
            "load_fraction": [0.9, 1.5, 0.2, 1.2] + [1.01 + i / 100 for i in range(12)],
            "flag": ["KP"] * 16,
        }
    )
    result = gates.validate_frame(voyage_suite, frame)

    assert not result.success
    assert (result.evaluated, result.passed) == (5, 4)
    [failure] = result.failures
    assert failure.expectation_type == "expect_column_values_to_be_between"
    assert failure.column == "load_fraction"
    assert failure.kwargs == {"column": "load_fraction", "min_value": 0, "max_value": 1}
    assert failure.unexpected_count == 14
    assert failure.unexpected_percent == pytest.approx(100 * 14 / 16)
    # Samples are capped at 10 and come in row order.
    assert failure.sample_values == [1.5, 1.2] + [pytest.approx(1.01 + i / 100) for i in range(8)]
    assert failure.exception is None

    markdown = result.failure_markdown()
    assert "`expect_column_values_to_be_between`" in markdown
    assert "| load_fraction |" in markdown and "14 (87.5%)" in markdown and "1.5" in markdown
    assert "FAILED" in result.summary() and "expect_column_values_to_be_between(load_fraction)" in result.summary()
    assert "\n" not in result.summary()


def test_failures_follow_suite_order_and_null_samples_are_json_null(voyage_suite):
    frame = good_voyages()
    frame.loc[1, "imo"] = None
    frame.loc[2, "flag"] = "PA"
    result = gates.validate_frame(voyage_suite, frame)

    types = [f.expectation_type for f in result.failures]
    assert types == ["expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set"]
    assert result.failures[0].sample_values == [None]
    assert result.failures[1].sample_values == ["PA"]


def test_to_dict_is_json_and_complete(voyage_suite):
    frame = good_voyages()
    frame.loc[0, "load_fraction"] = float("nan")
    frame.loc[1, "load_fraction"] = 7.0
    data = gates.validate_frame(voyage_suite, frame).to_dict()

    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert set(data) >= {"suite_name", "table", "success", "evaluated", "passed", "failures"}
    assert data["failures"][0]["sample_values"] == [7.0]
    assert set(data["failures"][0]) == {
        "expectation_type",
        "column",
        "kwargs",
        "unexpected_count",
        "unexpected_percent",
        "sample_values",
        "observed_value",
        "exception",
        "failing_rows",
    }
    # No grain, unique key or lineage in this frame: its first column names the row.
    assert data["key_columns"] == ["imo"]
    assert data["failures"][0]["failing_rows"] == [{"imo": "8654321", "load_fraction": 7.0}]


def test_unknown_expectation_type_is_refused_not_dropped(tmp_path):
    path = write_suite(
        tmp_path,
        [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "imo"}},
            {"type": "expect_column_values_to_be_a_sanctioned_tanker", "kwargs": {"column": "imo"}},
        ],
    )
    with pytest.raises(gates.SuiteError) as info:
        gates.load_suite(path)
    message = str(info.value)
    assert "expect_column_values_to_be_a_sanctioned_tanker" in message
    assert str(path) in message and "#1" in message
    # Documented contract: a ValueError and a TankerwatchError, not a GateFailed.
    assert isinstance(info.value, ValueError) and isinstance(info.value, TankerwatchError)
    assert not isinstance(info.value, GateFailed)
    with pytest.raises(gates.SuiteError):
        gates.validate_frame(path, good_voyages())


def test_gx_itself_drops_unknown_types_silently():
    # The reason load_suite builds expectations one by one; if GX starts raising, good.
    import great_expectations as gx

    suite = gx.ExpectationSuite(
        name="canary",
        expectations=[
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
            {"type": "expect_no_such_thing", "kwargs": {"column": "a"}},
        ],
    )
    assert len(suite.expectations) == 1


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (
            {"type": "expect_column_values_to_be_between", "kwargs": {"colum": "x", "min_value": 0}},
            "expect_column_values_to_be_between",
        ),
        ({"type": "expect_column_values_to_not_be_null", "kwarg": {"column": "x"}}, "unknown keys"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": ["x"]}, "'kwargs' must be an object"),
        ({"kwargs": {"column": "x"}}, "no 'type'"),
    ],
)
def test_bad_expectation_entries_are_refused(tmp_path, entry, fragment):
    path = write_suite(tmp_path, [entry])
    with pytest.raises(gates.SuiteError) as info:
        gates.load_suite(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda s: s["meta"].update(stage="gold"), "meta.stage"),
        (lambda s: s["meta"].pop("table"), "meta.table"),
        (lambda s: s.update(expectations=[]), "non-empty list"),
        (lambda s: s.update(expectaions=[]), "unknown top-level keys"),
    ],
)
def test_bad_suite_files_are_refused(tmp_path, mutate, fragment):
    spec = {"name": "s", "meta": {"stage": "raw", "table": "t"}, "expectations": VOYAGE_EXPECTATIONS[:1]}
    mutate(spec)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(gates.SuiteError) as info:
        gates.load_suite(path)
    assert fragment in str(info.value)


def test_not_json_and_missing_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(gates.SuiteError, match="not valid JSON"):
        gates.load_suite(bad)
    with pytest.raises(gates.SuiteError, match="not found"):
        gates.load_suite(tmp_path / "missing.json")


def test_load_suite_accepts_gx_exported_ids(tmp_path):
    path = write_suite(
        tmp_path,
        [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "imo"},
                "id": "4b1f",
                "meta": {"why": "x"},
            }
        ],
        id="9a0c",
    )
    suite = gates.load_suite(path)
    assert len(suite.expectations) == 1
    assert suite.meta["table"] == "voyages"


def test_row_count_failure_reports_observed_value(tmp_path):
    path = write_suite(
        tmp_path, [{"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10, "max_value": 100}}]
    )
    result = gates.validate_frame(path, good_voyages())

    assert not result.success
    [failure] = result.failures
    assert failure.expectation_type == "expect_table_row_count_to_be_between"
    assert failure.column is None
    assert failure.observed_value == 3
    assert failure.unexpected_count is None and failure.sample_values == []
    assert "| 3 |" in result.failure_markdown()


def test_missing_column_is_a_failure_with_the_exception(tmp_path):
    path = write_suite(tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "mmsi"}}])
    result = gates.validate_frame(path, good_voyages())

    assert not result.success
    [failure] = result.failures
    assert failure.column == "mmsi"
    assert "mmsi" in failure.exception
    assert "error:" in result.failure_markdown()


def test_polars_input(voyage_suite):
    frame = pl.from_pandas(good_voyages())
    assert gates.validate_frame(voyage_suite, frame).success

    bad = frame.with_columns(pl.lit("XX").alias("flag"))
    result = gates.validate_frame(voyage_suite, bad)
    assert [f.expectation_type for f in result.failures] == ["expect_column_values_to_be_in_set"]
    assert result.failures[0].sample_values == ["XX", "XX", "XX"]


def test_other_inputs_are_refused(voyage_suite):
    with pytest.raises(TypeError, match="pandas or polars"):
        gates.validate_frame(voyage_suite, [{"imo": "9123456"}])


def test_validate_table_on_in_memory_duckdb(tmp_path):
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.voyages as
        select * from (values
            ('9123456', 0.90::double, 'KP', timestamptz '2024-03-01 06:00:00+00', 120000.500::decimal(18,3)),
            ('8654321', 1.40::double, 'KP', timestamptz '2024-04-01 06:00:00+00', 95000.000::decimal(18,3)),
            ('7777777', 0.80::double, 'RU', null, -1.250::decimal(18,3))
        ) t(imo, load_fraction, flag, load_departure_at, volume_bbl)
        """
    )
    path = write_suite(
        tmp_path,
        VOYAGE_EXPECTATIONS
        + [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "load_departure_at"}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "volume_bbl", "min_value": 0}},
        ],
    )
    result = gates.validate_table(con, "marts.voyages", path)

    assert result.table == "marts.voyages" and result.rows == 3
    assert not result.success
    assert (result.evaluated, result.passed) == (7, 4)
    by_column = {f.column: f for f in result.failures}
    assert by_column["load_fraction"].sample_values == [1.4]
    assert by_column["load_departure_at"].unexpected_count == 1
    assert by_column["volume_bbl"].sample_values in (["-1.250"], [-1.25])
    json.dumps(result.to_dict(), allow_nan=False)
    # The connection is not left blocked by an unfinished result.
    assert con.execute("select count(*) from marts.voyages").fetchall() == [(3,)]

    with pytest.raises(GateFailed) as info:
        gates.raise_if_failed(result)
    assert info.value.result is result
    text = str(info.value)
    assert text.splitlines()[0] == result.summary()
    assert "expect_column_values_to_be_between(load_fraction): 1 unexpected, e.g. [1.4]" in text


def test_validate_table_quotes_identifiers_and_refuses_wrong_suite(tmp_path):
    con = duckdb.connect()
    con.execute('create table "odd ""name" as select 1 as imo')
    path = write_suite(
        tmp_path,
        [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "imo"}}],
        table='odd "name',
    )
    assert gates.validate_table(con, 'odd "name', path).success

    other = write_suite(tmp_path, VOYAGE_EXPECTATIONS, name="ports", table="port_calls")
    with pytest.raises(gates.SuiteError, match="port_calls"):
        gates.validate_table(con, 'odd "name', other)


def test_quote_identifier():
    assert gates.quote_identifier("marts.voyages") == '"marts"."voyages"'
    assert gates.quote_identifier('a"b') == '"a""b"'
    for bad in ["", "a..b", ".a"]:
        with pytest.raises(ValueError):
            gates.quote_identifier(bad)


def test_no_progress_bars_and_no_gx_noise(voyage_suite, capfd):
    gates.validate_frame(voyage_suite, good_voyages())
    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in out + err


def test_to_jsonable_handles_pipeline_types():
    import numpy as np

    values = [
        np.int64(3),
        np.float32(0.5),
        float("inf"),
        pd.NaT,
        pd.NA,
        pd.Timestamp("2024-03-01T06:00:00Z"),
        Decimal("1.10"),
        np.array([1, 2]),
        b"\x00\x01",
        np.bool_(True),
    ]
    assert gates.to_jsonable(values) == [
        3,
        0.5,
        None,
        None,
        None,
        "2024-03-01T06:00:00+00:00",
        "1.10",
        [1, 2],
        "AAE=",
        True,
    ]


def test_gx_evaluates_structured_row_conditions_natively(tmp_path):
    """GX reads the structured form the suites use, with no string parser in between: a row outside
    the condition is not counted, and each kind of term (nullity, == true, != a string) selects."""
    used = {
        "type": "and",
        "conditions": [
            {"type": "nullity", "column": {"name": "reject_reason"}, "is_null": True},
            {"type": "comparison", "column": {"name": "counts_toward_cap"}, "operator": "==", "parameter": True},
            {"type": "comparison", "column": {"name": "capacity_source"}, "operator": "!=", "parameter": "unknown"},
        ],
    }
    frame = pd.DataFrame(
        {
            "load_fraction": [0.5, 7.0, 8.0, 9.0, 3.0, None],
            "reject_reason": [None, "a rule said so", None, None, None, None],
            "counts_toward_cap": [True, True, False, True, True, True],
            "capacity_source": ["registry", "registry", "registry", "unknown", "registry", "registry"],
        }
    )
    path = write_suite(
        tmp_path,
        [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "load_fraction", "max_value": 1, "row_condition": used},
            },
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "load_fraction", "row_condition": used},
            },
        ],
    )
    result = gates.validate_frame(path, frame)
    # Rows 1-3 each fail one term; of the rest, 3.0 is out of range and one value is missing.
    between, not_null = result.failures
    assert (between.unexpected_count, between.sample_values) == (1, [3.0])
    assert (not_null.unexpected_count, not_null.unexpected_percent) == (1, 1 / 3 * 100)
    assert between.kwargs["row_condition"]["type"] == "and"
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"row_condition": "reject_reason.isnull()", "condition_parser": "pandas"}, "condition_parser"),
        ({"row_condition": "reject_reason.isnull()"}, "query string"),
        ({"row_condition": {"type": "nullity", "column": {"name": "reject_reason"}}}, "is_null"),
        (
            {
                "row_condition": {
                    "type": "comparison",
                    "column": {"name": "imo"},
                    "operator": "NOT_IN",
                    "parameter": ["1"],
                }
            },
            "operator",
        ),
    ],
)
def test_row_conditions_other_than_the_structured_form_are_refused(tmp_path, kwargs, fragment):
    path = write_suite(
        tmp_path, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "imo", **kwargs}}]
    )
    with pytest.raises(gates.SuiteError, match=fragment) as info:
        gates.validate_frame(path, good_voyages())
    assert str(path) in str(info.value) and "#0" in str(info.value)
