"""An incremental model's fingerprint covers the SQL of the models it reads: int_sightings reads its
port attribution and its draughts from other models, and a change to those rules must rebuild it whole,
as a change to its own SQL does."""

from __future__ import annotations

import shutil

from tankerwatch.models import discover_models, models_read
from tankerwatch.settings import SQL_DIR


def _names(texts: list[str]) -> list[str]:
    return [text.split("\n", 1)[0] for text in texts]


def test_the_models_int_sightings_reads_are_in_its_fingerprint(tmp_path):
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)

    before = models_read(discover_models(sql_dir), "int_sightings")
    names = _names(before)
    # read directly, and through the view int_sighting_places in turn (its contract says view)
    assert {"int_sighting_places", "int_draught_intervals", "int_vessels", "int_sighting_identities"} <= set(names)
    assert "int_sightings" not in names
    # a table's own inputs are its own build's business
    assert "int_ais_static_reports" not in names

    draughts = sql_dir / "intermediate" / "int_draught_intervals.sql"
    draughts.write_text(draughts.read_text(encoding="utf-8").replace("draught_max_age()", "interval 1 hour", 1))
    # discover_models keeps what it read per folder; the changed file is read afresh
    after = models_read(discover_models.__wrapped__(sql_dir), "int_sightings")
    assert _names(after) == names
    assert after != before
