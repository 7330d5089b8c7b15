"""The whole graph under Dagster's multiprocess executor: every step in its own process, sharing nothing in
memory, as on the Kubernetes or Celery executors. The repository's dagster.yaml (pool `duckdb` of one) keeps
DuckDB's one writer; the run must succeed and publish the demo's answer.

Child processes come from a forkserver that has already imported Dagster, GX and tankerwatch, so the ~110
steps cost seconds each rather than a fresh interpreter each (about 7 minutes on 2 cores)."""

from __future__ import annotations

import json
import shutil

import dagster as dg
import polars as pl
import pytest

from tankerwatch.publish import resolve_current
from tankerwatch.settings import REPO_ROOT
from tests.multiprocess_job import MULTIPROCESS_JOB_NAME, multiprocess_full_job

pytestmark = pytest.mark.slow

TRUTH = json.loads((REPO_ROOT / "demo" / "truth" / "summary.json").read_text())
PRELOADED = ["tests.multiprocess_job", "great_expectations", "tankerwatch.gates", "tankerwatch.gates_sql", "pandas"]


def test_the_whole_graph_runs_green_with_every_step_in_its_own_process(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    data_dir = tmp_path / "data"
    run_config = {
        "execution": {
            "config": {"max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": PRELOADED}}}
        },
        "resources": {"tankerwatch": {"config": {"data_dir": str(data_dir)}}},
        "loggers": {"console": {"config": {"log_level": "ERROR"}}},
    }
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(multiprocess_full_job),
            instance=instance,
            run_config=run_config,
            tags={"dagster/partition": "2024-05-10"},
        )
        events = result.all_events
    failures = [f"{e.step_key}: {e.event_specific_data.error.message}" for e in events if e.is_step_failure]
    assert result.success and not failures, failures

    workers = [e for e in events if e.event_type == dg.DagsterEventType.STEP_WORKER_STARTED]
    successes = [e for e in events if e.is_step_success]
    assert result.job_def.name == MULTIPROCESS_JOB_NAME
    assert len(workers) == len(successes) > 100  # every asset and every check step, each started in a worker
    assert len({e.pid for e in workers}) == len(workers), "two steps shared a process"

    current = resolve_current(data_dir / "published")
    assert current is not None, "nothing was published"
    voyages = pl.read_parquet(current / "voyages.parquet")
    cap = pl.read_parquet(current / "cap_tracker.parquet").filter(pl.col("year") == 2024)
    manifest = json.loads((current / "manifest.json").read_text())
    assert voyages.height == TRUTH["voyages"]
    assert str(cap["breach_date"][0]) == TRUTH["breach_date"]
    assert manifest["run_id"] == result.run_id
    assert manifest["checks"] and all(c["success"] for c in manifest["checks"])
