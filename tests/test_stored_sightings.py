"""int_sightings stores only the rows a rule reads: every model built on it must come out as if it stored all."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from bench.model_bench import load_raw
from scenarios import generate, generate_fleet_registry, generate_positions, generate_static
from tankerwatch.models import SQL_DIR, build_all, discover_models
from tankerwatch.pipeline import build_warehouse
from tankerwatch.sources import load_sources
from tankerwatch.warehouse import connect, fetch_all
from tests.scenario import Scenario
from tests.table_diff import row_differences
from tests.test_sts_and_dark import GIVER, LADEN_DRAUGHT, OPEN_SEA, RECEIVER, AisLog, h

pytestmark = pytest.mark.slow

UNSTORED_CITATIONS = """
    select count(*)
    from int_vessel_encounters,
        unnest([
            {'imo': imo_a, 'cited': state_before_a}, {'imo': imo_a, 'cited': state_after_a},
            {'imo': imo_b, 'cited': state_before_b}, {'imo': imo_b, 'cited': state_after_b}
        ]) as citations(citation)
    where citation.cited is not null and not exists (
        select 1 from int_sightings
        where int_sightings.imo = citation.imo
            and int_sightings.observed_at = citation.cited.observed_at
            and int_sightings.state = citation.cited.state
            and int_sightings.reject_reason is null
    )
"""
STORED_FILTER = "stored as (\n    select *\n    from judged\n    where\n"


def _storing_every_row(tmp_path: Path) -> dict:
    """The models, with int_sightings' `stored` filter turned off."""
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    model = sql_dir / "intermediate" / "int_sightings.sql"
    text = model.read_text(encoding="utf-8")
    assert text.count(STORED_FILTER) == 1
    model.write_text(text.replace(STORED_FILTER, STORED_FILTER + "        true or\n"), encoding="utf-8")
    return discover_models(sql_dir)


def _scenario(tmp_path: Path, seed: int) -> Path:
    """A generated scenario (imagery log, AIS NMEA, registry, sanctions) through the whole pipeline."""
    truth = generate(seed, tmp_path, tankers=12, voyages=40)
    warehouse = tmp_path / "warehouse.duckdb"
    build_warehouse(warehouse, load_sources(truth.sources_file), tmp_path / "landing")
    return warehouse


def _dense_ais_with_repeats(tmp_path: Path, seed: int) -> Path:
    """A fleet's AIS every few minutes (ships meet at sea), with one position in 97 heard twice in its
    second (half exact repeats, half a garbled copy 30 km off), three vessels silent for 15-20 hours, one without
    a draught report for five days (positions without a state) and one without any for its last four."""
    n_positions, n_vessels = 150_000, 12
    positions = generate_positions(n_positions, n_vessels, seed=seed)
    static = generate_static(n_positions, n_vessels, seed=seed)
    start = positions["received_at"].min()
    end = positions["received_at"].max()

    def between(mmsi: str, first, last) -> pl.Expr:
        return (pl.col("mmsi") == mmsi) & pl.col("received_at").is_between(first, last)

    positions = positions.filter(
        ~between("445000001", start + timedelta(days=10), start + timedelta(days=10, hours=20))
        & ~between("445000004", start + timedelta(days=20), start + timedelta(days=20, hours=15))
        & ~between("445000005", start + timedelta(days=30), start + timedelta(days=30, hours=15))
    )
    static = static.filter(
        ~between("445000002", start + timedelta(days=12), start + timedelta(days=17))
        & ~between("445000003", end - timedelta(days=4), end)
    )
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        load_raw(con, {
            "raw_ais_positions": positions,
            "raw_ais_static": static,
            "raw_registry_vessels": generate_fleet_registry(n_vessels, seed=seed, n_positions=n_positions),
        })
        con.execute(
            "insert into raw_ais_positions select * replace ("
            "source_row + 10000000 as source_row, latitude + if(source_row % 2 = 0, 0, 0.3) as latitude) "
            "from raw_ais_positions where source_row % 97 = 0"
        )
        build_all(con)
    return warehouse


@pytest.mark.parametrize("make_warehouse, seed", [(_scenario, 1), (_scenario, 2), (_dense_ais_with_repeats, 5)])
def test_models_read_the_same_from_the_stored_rows_as_from_every_row(tmp_path, make_warehouse, seed):
    warehouse = make_warehouse(tmp_path, seed)
    models = discover_models()
    tables = [name for name, model in models.items() if model.materialized != "view" and name != "int_sightings"]
    downstream = [name for name in tables if "int_sightings" in _upstream(models, name)]
    with connect(warehouse) as con:
        [(stored,)] = fetch_all(con, "select count(*) from int_sightings")
        for name in [*tables, "int_sightings"]:
            con.execute(f"create temp table kept_{name} as select * from {name}")

        build_all(con, _storing_every_row(tmp_path))
        [(every_row,)] = fetch_all(con, "select count(*) from int_sightings")
        assert stored < every_row, "the scenario must have rows no rule reads"
        # each stored row is the row computed with every row stored, column for column
        assert row_differences(con, "kept_int_sightings", "int_sightings")[0] == 0
        for name in tables:
            assert row_differences(con, f"kept_{name}", name) == (0, 0), f"{name} differs"
        # the comparison reaches the rules that cite a neighbour's row
        # and in the stored rows alone, every neighbour an encounter cites by time and state is found, as
        # sts_transfers looks it up
        con.execute("create or replace table int_sightings as select * from kept_int_sightings")
        assert fetch_all(con, UNSTORED_CITATIONS) == [(0,)]
        counts = dict(fetch_all(
            con,
            "select 'encounters', count(*) from int_vessel_encounters union all select 'gaps', count(*) from int_ais_gaps "
            "union all select 'changes', count(*) from int_state_changes union all select 'calls', count(*) from int_port_calls "
            "union all select 'rejects', count(*) from int_sightings where reject_reason is not null "
            "union all select 'stateless', count(*) from int_sightings where state is null",
        ))
    assert counts["changes"] > 0 and counts["calls"] > 0
    assert {"voyages", "vessels", "sts_transfers", "ais_dark_periods", "int_port_calls"} <= set(downstream)


def _upstream(models: dict, name: str) -> set[str]:
    seen: set[str] = set()
    pending = [name]
    while pending:
        for dep in models[pending.pop()].deps:
            if dep in models and dep not in seen:
                seen.add(dep)
                pending.append(dep)
    return seen


def test_the_rows_an_encounter_cites_and_each_vessels_last_row_are_stored(tmp_path):
    """Two vessels meet at sea while vessel a's draught report has expired; its state after the meeting is a
    sighting no other rule keeps (same state as before, not first in its half hour, not after a compared
    sighting), and vessel b's last position is kept only for counting. Positions a few minutes apart in
    one half hour are otherwise not stored."""
    giver, receiver = 445000001, 445000002
    minutes = lambda m: h(26) + timedelta(minutes=m)  # noqa: E731  (h(26) is on the hour)
    log = AisLog()
    log.static(giver, h(0), GIVER, "GIVER", LADEN_DRAUGHT).position(giver, h(1), OPEN_SEA)
    # 26 hours after the report: no state
    for m in (0, 6, 12):
        log.position(giver, minutes(m), OPEN_SEA).position(receiver, minutes(m), OPEN_SEA)
    log.static(giver, minutes(15), GIVER, "GIVER", LADEN_DRAUGHT)
    log.position(giver, minutes(18), OPEN_SEA).position(giver, minutes(24), OPEN_SEA)
    s = Scenario(tmp_path, with_sanctions=False)
    s.vessel(GIVER, "GIVER", mmsi=str(giver), summer_draught_m="6.0")
    s.vessel(RECEIVER, "RECEIVER", mmsi=str(receiver), summer_draught_m="6.0")  # no draught report: no state
    s.source("ais", "ais_nmea", "ais.nmea", log.text())
    s.build()

    stored = s.query("select imo, observed_at, state from int_sightings order by imo, sighting_number").rows()
    assert stored == [
        (GIVER, h(1), "laden"),  # its first state, and the last before positions without one
        (GIVER, minutes(0), None),  # first fix of its half hour at sea: compared for encounters
        (GIVER, minutes(6), None),  # the row after a compared sighting
        (GIVER, minutes(18), "laden"),  # the first state after positions without one: the state after
        (GIVER, minutes(24), "laden"),  # the vessel's last row
        (RECEIVER, minutes(0), None),
        (RECEIVER, minutes(6), None),
        (RECEIVER, minutes(12), None),  # the vessel's last row
    ]
    assert dict(s.query("select imo, sightings from vessels where imo in (?, ?)", [GIVER, RECEIVER]).rows()) == {
        GIVER: 6, RECEIVER: 3,
    }
    [encounter] = s.query("select state_before_a, state_after_a from int_vessel_encounters").to_dicts()
    assert (encounter["state_before_a"]["observed_at"], encounter["state_after_a"]["observed_at"]) == (h(1), minutes(18))
    with connect(tmp_path / "warehouse.duckdb") as con:
        assert fetch_all(con, UNSTORED_CITATIONS) == [(0,)]
