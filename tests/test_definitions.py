"""The Dagster graph as the UI shows it: every asset described, gated by a blocking suite, in dependency order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.checks import GX_SUITE_CHECK, PUBLISH_SET_CHECK
from assets.ingest import FRESH_SNAPSHOTS_CHECK
from orchestration.definitions import defs
from tankerwatch.models import discover_models
from tankerwatch.quarantine import QUARANTINE_CHECK
from tankerwatch.settings import EXPECTATIONS_DIR, REPO_ROOT


@pytest.mark.slow
def test_workspace_validates_with_the_dagster_cli():
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_every_asset_has_a_description_group_owner_and_a_blocking_gate():
    graph = defs.resolve_asset_graph()
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description and len(node.description) > 30, name
        assert node.group_name in {"ingest", "reference", "staging", "intermediate", "marts", "publish"}, name
        assert node.owners, name
        if name == "publish_candidate":
            assert (name, PUBLISH_SET_CHECK) in checks
        elif name != "published_current":
            assert (name, GX_SUITE_CHECK) in checks, f"{name} has no Great Expectations gate"
    for check_key in graph.asset_check_keys:
        # fresh_snapshots only warns (a reused last good snapshot is allowed by the sources file), and so does
        # quarantined_rows (rows no rule foresaw are rejects, not a reason to stop the publish)
        warning_only = {FRESH_SNAPSHOTS_CHECK, QUARANTINE_CHECK}
        assert graph.get_check_spec(check_key).blocking == (check_key.name not in warning_only), check_key


def test_every_suite_file_belongs_to_an_asset_or_the_publish_gate():
    assets = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    for suite in EXPECTATIONS_DIR.glob("*.json"):
        assert suite.stem in assets or suite.stem.startswith("publish_"), suite.name


def test_models_document_their_grain_and_every_column_they_produce(tmp_path):
    from tests.scenario import Scenario

    s = Scenario(tmp_path)
    s.build()
    models = discover_models()
    for name, model in models.items():
        assert model.grain, name
        columns = s.query(
            "select column_name from information_schema.columns where table_name = ? order by ordinal_position", [name]
        )["column_name"].to_list()
        assert columns == list(model.columns), f"{model.path.name}: header documents {list(model.columns)}, table has {columns}"


def test_the_full_job_runs_in_process_and_selects_every_asset():
    job = defs.resolve_job_def("tankerwatch_full")
    assert isinstance(job.executor_def, dg.ExecutorDefinition) and job.executor_def.name == "in_process"
    schedule = defs.resolve_schedule_def("nightly_full_run")
    assert (schedule.job_name, schedule.cron_schedule, schedule.execution_timezone) == ("tankerwatch_full", "0 2 * * *", "UTC")
    assert len(job.asset_layer.selected_asset_keys) == len(defs.resolve_asset_graph().get_all_asset_keys())


def test_instance_settings_run_one_duckdb_step_and_one_run_at_a_time(tmp_path):
    import shutil

    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        config = instance.get_concurrency_config()
    assert config.pool_config.default_pool_limit == 1
    assert config.run_queue_config.max_concurrent_runs == 1
    pools = {node.pools and next(iter(node.pools)) for node in defs.resolve_asset_graph().asset_nodes}
    assert pools == {"duckdb"}
    # checks open the warehouse read-write too (bootstrap, gate_results): under a multiprocess
    # executor a check outside the pool ran beside a writing step and failed on DuckDB's lock
    assert {checks.op.pool for checks in defs.asset_checks} == {"duckdb"}
