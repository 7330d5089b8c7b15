"""An incremental model's fingerprint covers the SQL of the models it reads: int_sightings reads its
port attribution and its draughts from other models, and a change to those rules must rebuild it whole,
as a change to its own SQL does."""

from __future__ import annotations

import shutil

import duckdb

from tankerwatch import incremental
from tankerwatch.settings import SQL_DIR


def _names(texts: list[str]) -> list[str]:
    return [text.split("\n", 1)[0] for text in texts]


def test_the_models_int_sightings_reads_are_in_its_fingerprint(tmp_path, monkeypatch):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    monkeypatch.setattr(incremental, "SQL_DIR", sql_dir)
    monkeypatch.setattr(incremental, "INCREMENTAL_DIR", sql_dir / "incremental")
    con = duckdb.connect()
    # which of the read models are views decides how far the reads are followed
    con.execute("create view int_sighting_places as select 1 as x")
    con.execute("create view int_sighting_identities as select 1 as x")
    select = (sql_dir / "intermediate" / "int_sightings.sql").read_text(encoding="utf-8")

    before = incremental._models_read(con, select)
    names = _names(before)
    # read directly, and through the view int_sighting_places in turn
    assert {"int_sighting_places", "int_draught_intervals", "int_vessels", "int_sighting_identities"} <= set(names)
    assert "int_sightings" not in names
    # a table's own inputs are its own build's business
    assert "int_ais_static_reports" not in names

    draughts = sql_dir / "intermediate" / "int_draught_intervals.sql"
    draughts.write_text(draughts.read_text(encoding="utf-8").replace("draught_max_age()", "interval 1 hour", 1))
    after = incremental._models_read(con, select)
    assert _names(after) == names
    assert after != before
