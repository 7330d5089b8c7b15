"""The gates of the models over AIS positions validate the rows no passing gate has seen, and never fewer."""

from __future__ import annotations

import json
from contextlib import contextmanager

import duckdb
import pytest

from bench.model_bench import load_raw
from tankerwatch.gate_windows import validate_gate
from tankerwatch.gates import WHOLE_TABLE
from tankerwatch.gates_sql import validate_table_in_sql
from tankerwatch.models import build_all, discover_models
from tankerwatch.settings import EXPECTATIONS_DIR
from tankerwatch.warehouse import connect, fetch_all
from tests.synthetic_days import fleet, load_day, remove_day  # noqa: F401  (fleet is a fixture)

pytestmark = pytest.mark.slow

WINDOWED = ("stg_ais_positions", "int_ais_positions", "int_sighting_identities", "int_sightings")


def _gate(con, name: str):
    return validate_gate(con, name, EXPECTATIONS_DIR / f"{name}.json", discover_models()[name])


def _gate_all(con) -> dict:
    return {name: _gate(con, name) for name in WINDOWED}


def _count(con, sql: str, params=None) -> int:
    return fetch_all(con, sql, params)[0][0]


@contextmanager
def _warehouse_with_days(tmp_path, fleet, days: int):  # noqa: F811
    positions, static, registry = fleet
    with connect(tmp_path / "w.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        for day in range(days):
            load_day(con, positions, static, day)
        build_all(con)
        yield con


def test_only_rows_no_passing_gate_has_seen_are_validated(tmp_path, fleet):  # noqa: F811
    positions, static, _ = fleet
    with _warehouse_with_days(tmp_path, fleet, 4) as con:
        first = _gate_all(con)
        for name, result in first.items():
            assert result.success, result.summary()
            assert result.scope.startswith(WHOLE_TABLE), (name, result.scope)
        assert first["int_sightings"].rows == _count(con, "select count(*) from int_sightings")
        assert first["stg_ais_positions"].rows == _count(con, "select count(*) from raw_ais_positions")

        load_day(con, positions, static, 4)
        build_all(con)
        [(rewritten_from,)] = fetch_all(
            con, "select unvalidated_from from incremental_builds where model = 'int_sightings'"
        )
        night = _gate_all(con)
        assert all(r.success for r in night.values()), [r.summary() for r in night.values()]
        day_rows = _count(con, "select count(*) from raw_ais_positions where snapshot_id = 'ais-004-a'")
        assert day_rows > 0
        assert night["stg_ais_positions"].rows == day_rows
        assert night["stg_ais_positions"].scope == "rows of the 1 snapshot(s) loaded since the last passing gate"
        assert night["int_ais_positions"].rows == _count(
            con, "select count(*) from int_ais_positions where snapshot_id = 'ais-004-a'"
        )
        assert night["int_sighting_identities"].rows == _count(
            con, "select count(*) from int_sighting_identities where evidence_kind <> 'ais' or snapshot_id = 'ais-004-a'"
        )
        # int_sightings: every row the build rewrote, which starts before the day (each vessel resumes
        # from its last state before it), and nothing earlier
        rewritten = _count(con, "select count(*) from int_sightings where observed_at >= ?", [rewritten_from])
        assert night["int_sightings"].rows == rewritten
        assert 0 < rewritten < _count(con, "select count(*) from int_sightings")
        assert night["int_sightings"].scope.startswith("rows from ")

        again = _gate_all(con)
        assert {name: r.rows for name, r in again.items()} == dict.fromkeys(WINDOWED, 0)
        assert all(r.success for r in again.values())


def test_a_failing_window_is_validated_again_until_it_passes(tmp_path, fleet):  # noqa: F811
    positions, static, _ = fleet
    with _warehouse_with_days(tmp_path, fleet, 3) as con:
        assert all(r.success for r in _gate_all(con).values())
        load_day(con, positions, static, 3)
        build_all(con)
        [(bad_id, old_id)] = fetch_all(
            con,
            "select (select max(sighting_id) from int_sightings where observed_at >= '2024-01-04'), "
            "(select min(sighting_id) from int_sightings where observed_at < '2024-01-02')",
        )
        # a new row claiming an old row's id: a duplicate only the whole table shows
        con.execute("update int_sightings set sighting_id = ? where sighting_id = ?", [old_id, bad_id])
        con.execute("update int_sightings set load_fraction = 2 where sighting_id = ?", [old_id])
        failed = _gate(con, "int_sightings")
        assert not failed.success
        by_type = {f.expectation_type: f for f in failed.failures}
        assert by_type["expect_column_values_to_be_unique"].unexpected_count == 1
        assert by_type["expect_column_values_to_be_unique"].sample_values == [old_id]
        assert by_type["expect_column_values_to_be_between"].unexpected_count == 1

        # nothing rebuilt, but the failed rows were never marked validated
        still = _gate(con, "int_sightings")
        assert not still.success and still.rows == failed.rows > 0

        con.execute("update int_sightings set sighting_id = ?, load_fraction = null where sighting_id = ? and observed_at >= '2024-01-04'", [bad_id, old_id])
        fixed = _gate(con, "int_sightings")
        assert fixed.success, fixed.summary()
        assert _gate(con, "int_sightings").rows == 0


def test_the_whole_model_is_validated_when_a_window_would_not_be_enough(tmp_path, fleet):  # noqa: F811
    positions, static, registry = fleet
    with _warehouse_with_days(tmp_path, fleet, 3) as con:
        assert all(r.success for r in _gate_all(con).values())

        # a day withdrawn: rows of other snapshots may appear (a repeat's original), so all is checked
        remove_day(con, 2)
        build_all(con)
        withdrawn = _gate_all(con)
        total = _count(con, "select count(*) from raw_ais_positions")
        assert withdrawn["stg_ais_positions"].rows == total
        assert withdrawn["stg_ais_positions"].scope == f"{WHOLE_TABLE} (1 snapshot(s) removed since the last passing gate)"

        # new MMSI links change which IMO old positions resolve to: the identity view is checked whole,
        # the staging view (which does not read them) only for the new day, int_sightings is rebuilt whole
        relinked = registry.with_columns(mmsi=registry["mmsi"].reverse())
        con.execute("delete from raw_registry_vessels")
        load_raw(con, {"raw_registry_vessels": relinked})
        load_day(con, positions, static, 2)
        build_all(con)
        changed = _gate_all(con)
        assert changed["int_sighting_identities"].scope.startswith(f"{WHOLE_TABLE} (the SQL, the DuckDB version or the tables")
        assert changed["int_sighting_identities"].rows == _count(con, "select count(*) from int_sighting_identities")
        assert changed["stg_ais_positions"].rows == _count(
            con, "select count(*) from raw_ais_positions where snapshot_id = 'ais-002-a'"
        )
        assert changed["int_sightings"].scope == f"{WHOLE_TABLE} (built whole since the last passing gate)"
        assert changed["int_sightings"].rows == _count(con, "select count(*) from int_sightings")


def test_a_new_duckdb_version_validates_the_windowed_views_whole(tmp_path, fleet, monkeypatch):  # noqa: F811
    # DuckDB's functions compute the views' rows: rows a gate passed under one version are not trusted under another
    with _warehouse_with_days(tmp_path, fleet, 2) as con:
        assert all(r.success for r in _gate_all(con).values())
        monkeypatch.setattr(duckdb, "__version__", f"{duckdb.__version__}.next")
        upgraded = _gate_all(con)
        assert upgraded["stg_ais_positions"].scope.startswith(f"{WHOLE_TABLE} (the SQL, the DuckDB version")
        assert upgraded["stg_ais_positions"].rows == _count(con, "select count(*) from raw_ais_positions")


def _suite(tmp_path, expectations: list[dict]):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"name": "t", "meta": {"table": "t", "stage": "intermediate"}, "expectations": expectations}))
    return path


def test_window_uniqueness_looks_at_the_whole_table_and_whole_table_expectations_see_everything(tmp_path):
    with connect(tmp_path / "u.duckdb") as con:
        con.execute("create table t as select * from (values ('a', 1), ('b', 1), ('a', 2), ('c', 2), ('c', 2)) as v(id, day)")
        unique = _suite(tmp_path, [{"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}}])
        window = ("day = $day", {"day": 2})
        result = validate_table_in_sql(con, "t", unique, window=window)
        # day 2: 'a' repeats a day-1 row, 'c' repeats itself; GX's every-occurrence rule within the window
        assert (result.rows, result.scope) == (3, "window")
        assert result.failures[0].unexpected_count == 3
        assert sorted(result.failures[0].sample_values) == ["a", "c", "c"]

        clean = validate_table_in_sql(con, "t", unique, window=("day = $day", {"day": 1}))
        assert not clean.success and clean.failures[0].unexpected_count == 1  # 'a', repeated on day 2

        counted = _suite(tmp_path, [{"type": "expect_table_row_count_to_be_between", "kwargs": {"max_value": 4}}])
        whole = validate_table_in_sql(con, "t", counted, window=window)
        assert (whole.rows, whole.scope, whole.success) == (5, WHOLE_TABLE, False)


@pytest.mark.parametrize("name", WINDOWED)
def test_windowed_models_declare_a_window_the_gate_understands(name):
    model = discover_models()[name]
    assert model.gate_window is not None
    assert ("$unvalidated_snapshots" in model.gate_window) != ("$unvalidated_from" in model.gate_window)


def test_the_same_bytes_from_another_source_are_validated_again(tmp_path, fleet):  # noqa: F811
    with _warehouse_with_days(tmp_path, fleet, 2) as con:
        assert _gate(con, "stg_ais_positions").success
        # a second feed serving the same file: same snapshot id, rows of its own
        con.execute(
            "insert into raw_ais_positions by name "
            "select * replace ('ais_mirror' as source_name) from raw_ais_positions where snapshot_id = 'ais-000-a'"
        )
        con.execute(
            "insert into raw_source_snapshots select * replace ('ais_mirror' as source_name) "
            "from raw_source_snapshots where snapshot_id = 'ais-000-a'"
        )
        mirrored = _gate(con, "stg_ais_positions")
        assert mirrored.rows == _count(con, "select count(*) from raw_ais_positions where snapshot_id = 'ais-000-a'")
        assert mirrored.rows > 0
