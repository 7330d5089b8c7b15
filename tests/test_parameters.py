"""The domain constants live in sql/parameters.yml only: SQL and Python read the same values, and no
model writes one of them as a literal of its own."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from scenarios import reference
from tankerwatch import parameters
from tankerwatch.settings import SQL_DIR
from tankerwatch.warehouse import connect

MODEL_FILES = sorted(path for path in SQL_DIR.glob("*/*.sql"))
_COMMENT = re.compile(r"--.*$", re.MULTILINE)
_INTERVAL = re.compile(
    r"\binterval\s+'?\s*(\d+(?:\.\d+)?)\s*'?\s*(microseconds?|seconds?|minutes?|hours?|days?)\b", re.IGNORECASE
)
_UNIT_SECONDS = {"microsecond": 1e-6, "second": 1, "minute": 60, "hour": 3600, "day": 86400}


def _code(path) -> str:
    return _COMMENT.sub("", path.read_text(encoding="utf-8"))


def test_the_file_defines_every_rule_constant_with_its_meaning():
    loaded = parameters.load()
    for name in ("port_call_max_gap", "draught_max_age", "laden_draught_ratio", "empty_draught_ratio",
                 "partial_laden_fraction", "port_cell_deg", "encounter_max_distance_km", "encounter_max_time_gap",
                 "encounter_cluster_gap", "encounter_grid_deg", "encounter_ais_slot", "sts_state_window",
                 "ais_dark_min_gap", "dark_port_max_distance_km"):
        assert loaded[name].meaning and loaded[name].rule.startswith("DOMAIN §3"), name
    assert parameters.value("port_call_max_gap") == timedelta(days=5)
    assert parameters.value("laden_draught_ratio") == 0.8
    assert parameters.seconds("draught_max_age") == 24 * 3600


def test_the_generated_macros_are_up_to_date():
    text = parameters.MACROS_FILE.read_text(encoding="utf-8")
    assert parameters.macros_with_parameters(text) == text, "run: .venv/bin/python -m tankerwatch.parameters"


def test_sql_and_python_see_the_same_values(tmp_path):
    loaded = parameters.load()
    with connect(str(tmp_path / "warehouse.duckdb")) as con:
        for name, parameter in loaded.items():
            (in_sql,) = con.execute(f"select {name}()").fetchone()
            if parameter.is_interval:
                assert in_sql == parameter.python_value, name
            else:
                assert isinstance(in_sql, (Decimal, float, int)) and float(in_sql) == parameter.python_value, name
    # the scenarios' answer key applies the same rules with the same constants
    assert reference.CALL_GAP_S == loaded["port_call_max_gap"].python_value.total_seconds()
    assert reference.DRAUGHT_MAX_AGE_S == loaded["draught_max_age"].python_value.total_seconds()
    assert reference.LADEN_RATIO == loaded["laden_draught_ratio"].value
    assert reference.EMPTY_RATIO == loaded["empty_draught_ratio"].value
    assert reference.PARTIAL_LADEN_FRACTION == loaded["partial_laden_fraction"].value


def test_a_changed_value_reaches_the_macros():
    changed = dict(parameters.load())
    changed["port_call_max_gap"] = parameters.Parameter("port_call_max_gap", 4, "days", "a gap", "DOMAIN §3 Port call")
    text = parameters.macros_with_parameters(parameters.MACROS_FILE.read_text(encoding="utf-8"), changed)
    assert "create or replace macro port_call_max_gap() as interval 4 days;" in text
    assert "interval 5 days" not in text
    assert text.count(parameters.BEGIN_MARKER) == 1


def test_no_model_keeps_a_params_cte_or_an_interval_the_file_defines():
    intervals = {p.python_value.total_seconds(): name for name, p in parameters.load().items() if p.is_interval}
    found = []
    for path in MODEL_FILES:
        code = _code(path)
        if re.search(r"\bparams\s+as\s*\(", code):
            found.append(f"{path.name}: a params CTE")
        for number, unit in _INTERVAL.findall(code):
            seconds = float(number) * _UNIT_SECONDS[unit.lower().rstrip("s")]
            if seconds in intervals:
                found.append(f"{path.name}: interval {number} {unit} is {intervals[seconds]}()")
    assert not found, "\n".join(found)


def test_no_model_compares_a_distance_ratio_or_cell_to_a_literal_the_file_defines():
    patterns = {
        "km": r"(\w*(distance|_km)\w*\s*(<=|<|>=|>|=)\s*{n}\b|\b{n}\s+as\s+\w*_km\b)",
        "ratio": r"(\w*(ratio|fraction)\w*\s*(<=|<|>=|>)\s*{n}\b|\b{n}\s+as\s+\w*(ratio|fraction)\b)",
        "fraction": r"(\w*(ratio|fraction)\w*\s*(<=|<|>=|>)\s*{n}\b|\b{n}\s+as\s+\w*(ratio|fraction)\b)",
        "degrees": r"(/\s*{n}\b|\b{n}\s+as\s+\w*(deg|cell)\w*)",
    }
    found = []
    for name, parameter in parameters.load().items():
        if parameter.is_interval:
            continue
        pattern = re.compile(patterns[parameter.unit].format(n=re.escape(parameter.sql_literal)), re.I)
        found += [f"{path.name}: {name}" for path in MODEL_FILES if pattern.search(_code(path))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ("value: five\n  unit: days\n  meaning: m\n  rule: r", "no finite number"),
        ("value: 1.5\n  unit: days\n  meaning: m\n  rule: r", "whole days"),
        ("value: 1\n  unit: days\n  meaning: m", "must have exactly"),
    ],
)
def test_a_bad_entry_is_refused_with_the_file_named(tmp_path, entry, complaint):
    path = tmp_path / "parameters.yml"
    path.write_text(f"port_call_max_gap:\n  {entry}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=complaint) as error:
        parameters.load(path)
    assert str(path) in str(error.value)


def test_a_suite_bound_that_restates_a_parameter_equals_it():
    """GX suites hold literal bounds; one that restates a parameter says so in its notes, and follows it."""
    loaded = parameters.load()
    restated = []
    for path in sorted((SQL_DIR.parent / "expectations").glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8"))["expectations"]:
            named = [name for name in loaded if re.search(rf"\b{name}\b", str(entry.get("notes", "")))]
            for name in named:
                bounds = {entry["kwargs"].get("min_value"), entry["kwargs"].get("max_value")}
                assert loaded[name].value in bounds, f"{path.name} {entry['kwargs'].get('column')}: {name}"
                restated.append(name)
    assert {"encounter_max_distance_km", "dark_port_max_distance_km"} <= set(restated)
