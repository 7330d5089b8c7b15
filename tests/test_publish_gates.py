"""Publishing rests on the newest result of every gate, whichever run made it.

A backfill launched from the UI splits the graph over several runs and goes on after a failed gate in an
earlier one; the run that publishes must see that failure, and list every gate in the manifest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from orchestration.definitions import defs
from orchestration.jobs import FULL_JOB_NAME
from tankerwatch.publish import current_version, resolve_current
from tankerwatch.publish_set import latest_gate_results, publish_blockers
from tankerwatch.settings import EXPECTATIONS_DIR
from tankerwatch.warehouse import connect

PUBLISH_STEPS = [dg.AssetKey("publish_candidate"), dg.AssetKey("publish_report"), dg.AssetKey("published_current")]


def record(con, run_id: str, asset: str, success: bool, at: datetime) -> None:
    con.execute(
        "insert into gate_results (run_id, asset, suite, success, evaluated, passed, result_json, checked_at) "
        "values (?, ?, ?, ?, 3, ?, '{}', ?)",
        [run_id, asset, asset, success, 3 if success else 2, at],
    )


def test_the_newest_result_of_each_gate_counts_whichever_run_made_it():
    start = datetime(2024, 5, 11, 2, tzinfo=UTC)
    with connect(":memory:") as con:
        record(con, "ingest-run", "raw_ais_positions", True, start)
        record(con, "model-run", "int_vessel_capacities", False, start + timedelta(minutes=1))
        record(con, "publish-run", "voyages", True, start + timedelta(minutes=2))
        record(con, "publish-run", "publish_candidate", True, start + timedelta(minutes=3))
        checks = latest_gate_results(con)
        assert [(c["run_id"], c["suite"], c["success"]) for c in checks] == [
            ("ingest-run", "raw_ais_positions", True),
            ("model-run", "int_vessel_capacities", False),
            ("publish-run", "voyages", True),
            ("publish-run", "publish_candidate", True),
        ]
        expected = {"raw_ais_positions", "int_vessel_capacities", "voyages", "publish_candidate", "rejects"}
        assert publish_blockers(checks, expected, "publish-run", {"publish_candidate"}) == [
            "int_vessel_capacities failed (run model-run)",
            "rejects has no result",
        ]
        assert publish_blockers(checks, {"publish_candidate"}, "another-run", {"publish_candidate"}) == [
            "int_vessel_capacities failed (run model-run)",
            "publish_candidate was checked by run publish-run, not by this run",
        ]
        # the gate passes again in a later run: it no longer blocks
        record(con, "rerun", "int_vessel_capacities", True, start + timedelta(minutes=4))
        checks = latest_gate_results(con)
        assert publish_blockers(checks, {c["suite"] for c in checks}, "publish-run", {"publish_candidate"}) == []


@pytest.fixture
def published_once(tmp_path):
    data_dir = tmp_path / "data"
    config = {"resources": {"tankerwatch": {"config": {"data_dir": str(data_dir)}}}}
    result = defs.resolve_job_def(FULL_JOB_NAME).execute_in_process(
        run_config=config, partition_key="2024-05-10", instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    return data_dir, config


@pytest.mark.slow
def test_a_gate_that_failed_in_an_earlier_run_of_a_backfill_stops_the_publish(published_once):
    data_dir, config = published_once
    before = current_version(data_dir / "published")
    with connect(data_dir / "warehouse.duckdb") as con:
        record(con, "earlier-backfill-run", "int_vessel_capacities", False, datetime.now(UTC))
    last_run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        run_config=config, asset_selection=PUBLISH_STEPS, instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not last_run.success
    failure = next(e for e in last_run.all_events if e.is_step_failure)
    assert failure.step_key == "published_current"
    assert "int_vessel_capacities failed (run earlier-backfill-run)" in failure.event_specific_data.error.cause.message
    assert current_version(data_dir / "published") == before


@pytest.mark.slow
def test_a_publish_after_earlier_runs_lists_every_gate_with_its_run(published_once):
    data_dir, config = published_once
    first = json.loads((resolve_current(data_dir / "published") / "manifest.json").read_text())
    last_run = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        run_config=config, asset_selection=PUBLISH_STEPS, instance=dg.DagsterInstance.ephemeral()
    )
    manifest = json.loads((resolve_current(data_dir / "published") / "manifest.json").read_text())
    assert manifest["run_id"] == last_run.run_id != first["run_id"]
    assert {c["suite"] for c in manifest["checks"]} == {p.stem for p in EXPECTATIONS_DIR.glob("*.json")}
    by_run = {c["suite"]: c["run_id"] for c in manifest["checks"]}
    assert by_run["raw_ais_positions"] == by_run["voyages"] == first["run_id"]  # gated by the earlier run
    assert by_run["publish_files"] == by_run["publish_report"] == last_run.run_id
