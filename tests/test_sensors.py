"""The imagery drop sensor: one run per new or changed file, none for an unchanged folder, nothing for a file
still being written, a SkipReason for a missing folder."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import dagster as dg
import pytest

from assets.partitions import last_complete_day
from assets.resources import TankerwatchResource
from orchestration.definitions import defs
from orchestration.jobs import FULL_JOB_NAME
from orchestration.sensors import DROP_DIR_ENV, SENSOR_NAME, imagery_drop_sensor

HEADER = "sighting_id,observed_at,source,image_id,latitude,longitude,vessel_name,imo,mmsi,laden_state,load_fraction,confidence,notes\n"


def drop(folder, name, body=HEADER, age_s=300.0):
    """A file written ``age_s`` seconds ago (complete unless age_s is small)."""
    path = folder / name
    path.write_text(body)
    when = time.time() - age_s
    os.utime(path, (when, when))
    return path


def evaluate(cursor, tankerwatch=None):
    context = dg.build_sensor_context(
        cursor=cursor, resources={"tankerwatch": tankerwatch or TankerwatchResource()}, sensor_name=SENSOR_NAME
    )
    return imagery_drop_sensor(context), context


def run_keys(result) -> list[str]:
    return [r.run_key for r in result.run_requests or []]


@pytest.fixture
def drops(tmp_path, monkeypatch):
    folder = tmp_path / "drops"
    folder.mkdir()
    monkeypatch.setenv(DROP_DIR_ENV, str(folder))
    return folder


def test_each_new_file_gives_exactly_one_run_with_a_stable_key(drops):
    drop(drops, "imagery_2024-03-01.csv")
    first, _ = evaluate(None)  # the first evaluation records what is there, launches nothing
    assert run_keys(first) == [] and "recorded 1 existing file" in first.skip_reason.skip_message
    cursor = first.cursor

    unchanged, _ = evaluate(cursor)
    assert run_keys(unchanged) == [] and unchanged.skip_reason is not None
    assert unchanged.cursor == cursor

    drop(drops, "imagery_2024-03-02.csv")
    drop(drops, "imagery_2024-03-03.csv")
    new, _ = evaluate(cursor)
    keys = run_keys(new)
    assert len(keys) == 2 and len(set(keys)) == 2
    assert ["imagery_2024-03-02.csv" in keys[0], "imagery_2024-03-03.csv" in keys[1]] == [True, True]
    assert all(r.job_name in (None, FULL_JOB_NAME) for r in new.run_requests)

    # The same state evaluated again (e.g. the cursor was not saved) gives the same keys: Dagster dedupes them.
    again, _ = evaluate(cursor)
    assert run_keys(again) == keys
    # With the cursor saved, nothing more.
    after, _ = evaluate(new.cursor)
    assert run_keys(after) == []


def test_a_changed_file_gives_one_new_run(drops):
    path = drop(drops, "imagery_2024-03-01.csv")
    cursor = evaluate(None)[0].cursor
    drop(drops, path.name, HEADER + "s-1,2024-03-01T00:00:00+00:00,x,i,42.7,133.0,A,,,,,,\n", age_s=120)
    changed, _ = evaluate(cursor)
    assert len(run_keys(changed)) == 1
    assert json.loads(changed.cursor) != json.loads(cursor)
    assert run_keys(evaluate(changed.cursor)[0]) == []


@pytest.mark.parametrize("name, age_s", [("imagery_2024-03-02.csv", 1.0), ("imagery_2024-03-02.csv.part", 300.0), (".imagery_2024-03-02.csv", 300.0)])
def test_a_file_still_being_written_is_skipped_until_complete(drops, name, age_s):
    cursor = evaluate(None)[0].cursor
    path = drop(drops, name, age_s=age_s)
    waiting, _ = evaluate(cursor)
    assert run_keys(waiting) == []
    assert "still being written" in waiting.skip_reason.skip_message
    # Complete: the writer renamed it into place, or stopped writing a while ago.
    final = path.with_name("imagery_2024-03-02.csv")
    path.rename(final)
    when = time.time() - 300
    os.utime(final, (when, when))
    done, _ = evaluate(waiting.cursor)
    assert len(run_keys(done)) == 1 and "imagery_2024-03-02.csv" in run_keys(done)[0]


def test_a_missing_folder_is_a_skip_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(DROP_DIR_ENV, str(tmp_path / "not-mounted"))
    result, _ = evaluate('{"/somewhere/old.csv": "1:2"}')
    assert result.run_requests in (None, [])
    assert "missing" in result.skip_reason.skip_message and "not-mounted" in result.skip_reason.skip_message
    assert result.cursor == '{"/somewhere/old.csv": "1:2"}'  # kept: a folder that comes back is not all new


def test_without_the_variable_the_sources_files_local_imagery_glob_is_watched(tmp_path, monkeypatch):
    monkeypatch.delenv(DROP_DIR_ENV, raising=False)
    (tmp_path / "drops").mkdir()
    (tmp_path / "sources.yaml").write_text(
        "sources:\n"
        "  imagery:\n    kind: imagery_sightings_csv\n    url: drops/imagery_*.csv\n"
        "  remote:\n    kind: imagery_sightings_csv\n    url: https://example.org/imagery.csv\n"
    )
    resource = TankerwatchResource(sources_file=str(tmp_path / "sources.yaml"), data_dir=str(tmp_path / "data"))
    cursor = evaluate(None, resource)[0].cursor
    drop(tmp_path / "drops", "imagery_2024-04-01.csv")
    drop(tmp_path / "drops", "notes.txt")  # not matched by the glob
    result, _ = evaluate(cursor, resource)
    assert len(run_keys(result)) == 1 and "imagery_2024-04-01.csv" in run_keys(result)[0]


def test_each_run_loads_the_day_its_file_names_else_the_last_complete_day(drops):
    cursor = evaluate(None)[0].cursor
    drop(drops, "imagery_2024-03-02.csv")
    drop(drops, "batch-2024-03-01_to_2024-03-04.csv")  # the last date named is the day loaded
    drop(drops, "analyst_notes.csv")  # no date: the day that ended last
    drop(drops, "imagery_1999-01-01.csv")  # before the first partition: as if undated
    result, _ = evaluate(cursor)
    days = {r.tags["tankerwatch/drop_file"]: r.partition_key for r in result.run_requests}
    yesterday = last_complete_day(datetime.now(UTC))
    assert days == {
        "imagery_2024-03-02.csv": "2024-03-02",
        "batch-2024-03-01_to_2024-03-04.csv": "2024-03-04",
        "analyst_notes.csv": yesterday,
        "imagery_1999-01-01.csv": yesterday,
    }


def test_a_daily_imagery_source_is_watched_with_any_day_in_place_of_its_placeholder(tmp_path, monkeypatch):
    monkeypatch.delenv(DROP_DIR_ENV, raising=False)
    (tmp_path / "drops").mkdir()
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  imagery:\n    kind: imagery_sightings_csv\n    url: drops/imagery_{date}.csv\n"
    )
    resource = TankerwatchResource(sources_file=str(tmp_path / "sources.yaml"), data_dir=str(tmp_path / "data"))
    cursor = evaluate(None, resource)[0].cursor
    drop(tmp_path / "drops", "imagery_2024-04-01.csv")
    drop(tmp_path / "drops", "other_2024-04-02.csv")
    result, _ = evaluate(cursor, resource)
    assert [(r.tags["tankerwatch/drop_file"], r.partition_key) for r in result.run_requests] == [
        ("imagery_2024-04-01.csv", "2024-04-01")
    ]


def test_the_sensor_is_registered_for_the_full_job_and_stopped_by_default():
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    assert sensor.job_name == FULL_JOB_NAME
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_every_schedule_and_sensor_starts_stopped():
    """A new deployment (or `make ui` on the demo) launches nothing until an operator switches it on; the README
    and docs/production.md say so."""
    assert {s.name: s.default_status for s in defs.get_repository_def().schedule_defs} == {
        "nightly_full_run": dg.DefaultScheduleStatus.STOPPED
    }
    assert {s.name: s.default_status for s in defs.get_repository_def().sensor_defs} == {
        SENSOR_NAME: dg.DefaultSensorStatus.STOPPED
    }
