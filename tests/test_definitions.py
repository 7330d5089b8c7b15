"""The Dagster graph as the UI shows it: every asset described, gated by a blocking suite, in dependency order."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
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


def test_the_latest_day_partition_is_the_last_complete_utc_day():
    from assets.partitions import DAILY_PARTITIONS, last_complete_day
    from orchestration.cli import parse_days
    from orchestration.schedules import nightly_full_run

    for now, latest in [
        (datetime(2026, 12, 8, 0, 0, 1, tzinfo=UTC), "2026-12-07"),  # just after midnight: yesterday has ended
        (datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC), "2026-12-06"),  # the 7th is still being written
        (datetime(2024, 3, 1, 12, tzinfo=UTC), "2024-02-29"),
    ]:
        keys = DAILY_PARTITIONS.get_partition_keys(current_time=now)
        assert keys[-1] == latest == last_complete_day(now)
        assert now.date().isoformat() not in keys
    # The nightly tick loads the day that just ended, which is the latest partition at that moment.
    tick = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    request = nightly_full_run(dg.build_schedule_context(scheduled_execution_time=tick))
    assert request.partition_key == "2026-12-07" == DAILY_PARTITIONS.get_partition_keys(current_time=tick)[-1]
    # The CLI's default day is the UI's latest partition; today is not a day a run may name.
    now = datetime.now(UTC)
    default, _ = parse_days(None)
    if default != last_complete_day(datetime.now(UTC)):  # midnight passed between the two reads
        default, _ = parse_days(None)
    assert default == DAILY_PARTITIONS.get_last_partition_key()
    today = datetime.now(UTC).date().isoformat()
    if today == now.date().isoformat():
        with pytest.raises(ValueError, match="is not a day partition"):
            parse_days(today)


def test_only_the_raw_tables_of_daily_feeds_are_day_partitioned_and_say_what_a_partition_means():
    from assets.ingest import DAILY_PARTITION_NOTE
    from tankerwatch.ingest import KIND_TABLES
    from tankerwatch.sources import DAILY_KINDS

    graph = defs.resolve_asset_graph()
    partitioned = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).is_partitioned}
    assert partitioned == {table for kind in DAILY_KINDS for table in KIND_TABLES[kind]}
    assert DAILY_KINDS == ("imagery_sightings_csv", "ais_nmea", "ais_dma_csv")
    for key in graph.get_all_asset_keys():
        description = graph.get(key).description or ""
        assert (DAILY_PARTITION_NOTE in description) == (key.to_user_string() in partitioned), key


def _ingest_imagery(sources: Path, data_dir: Path, **partition) -> dict:
    """Materialize the imagery raw table alone for a day or a range; its materializations' metadata, by day."""
    from assets.ingest import ingest_assets
    from assets.resources import TankerwatchResource

    (asset,) = [a for a in ingest_assets if dg.AssetKey("raw_imagery_sightings") in a.keys]
    result = dg.materialize(
        [asset],
        resources={"tankerwatch": TankerwatchResource(sources_file=str(sources), data_dir=str(data_dir))},
        instance=dg.DagsterInstance.ephemeral(),
        **partition,
    )
    assert result.success
    return {
        m.partition: {name: value.value for name, value in m.metadata.items()}
        for m in result.asset_materializations_for_node("ingest_imagery_sightings_csv")
    }


def test_a_whole_file_sources_materialization_covers_every_day(tmp_path):
    from tankerwatch.settings import DEMO_SOURCES_FILE

    by_day = _ingest_imagery(DEMO_SOURCES_FILE, tmp_path / "data", partition_key="2024-03-01")
    assert list(by_day) == ["2024-03-01"]
    metadata = by_day["2024-03-01"]
    assert metadata["covers"] == "every day from imagery_log, read whole (no {date} in its url)"
    assert metadata["read_whole"] == ["imagery_log"]
    assert metadata["day_files"] == {}
    assert metadata["dagster/row_count"] > 0


def test_a_daily_feeds_materialization_covers_the_days_it_loaded(tmp_path):
    from tests.daily_feeds import write_daily_feeds

    folder = tmp_path / "feeds"
    days = write_daily_feeds(folder)
    first, second = days[0], days[1]
    sources = folder / "imagery-daily.yaml"
    sources.write_text(
        "sources:\n  imagery_days:\n    kind: imagery_sightings_csv\n    url: imagery/{date}.csv\n"
        "  imagery_archive:\n    kind: imagery_sightings_csv\n    url: imagery/" + f"{first}.csv\n"
    )
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": second}
    by_day = _ingest_imagery(sources, tmp_path / "data", tags=tags)
    # One materialization per day of the range, each saying what the run covered.
    assert sorted(by_day) == [first, second]
    metadata = by_day[second]
    assert by_day[first] == metadata
    assert metadata["covers"] == (
        f"{first}..{second} from the day files of imagery_days; "
        "every day from imagery_archive, read whole (no {date} in its url)"
    )
    assert metadata["day_files"] == {"imagery_days": [first, second]}
    assert metadata["read_whole"] == ["imagery_archive"]
    rows = sum(len((folder / "imagery" / f"{d}.csv").read_text().splitlines()) - 1 for d in (first, second, first))
    assert metadata["dagster/row_count"] == rows


@pytest.mark.parametrize(
    ("config", "field", "why"),
    [
        ({"keep_versions": 1}, "keep_versions", "keep at least 2 versions"),
        ({"keep_versions": -3}, "keep_versions", "not -3"),
        ({"product": "jet_a1"}, "product", "unknown product 'jet_a1'; choose one of"),
        ({"sources_file": "/nonexistent/sources.yaml"}, "sources_file", "cannot read sources file"),
        ({"data_dir": "FILE"}, "data_dir", "is a file, not a folder"),
        ({"data_dir": "FILE/data"}, "data_dir", "cannot be created: its parent"),
    ],
)
def test_bad_launchpad_config_is_refused_before_any_step_naming_the_field(tmp_path, config, field, why):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    config = {name: str(value).replace("FILE", str(a_file)) if name == "data_dir" else value
              for name, value in config.items()}
    config.setdefault("data_dir", str(tmp_path / "data"))
    job = defs.resolve_job_def("tankerwatch_full")
    result = job.execute_in_process(
        run_config={"resources": {"tankerwatch": {"config": config}}},
        instance=dg.DagsterInstance.ephemeral(),
        partition_key="2024-03-01",
        raise_on_error=False,
    )
    assert not result.success
    events = [event.event_type_value for event in result.all_events]
    assert "STEP_START" not in events and "RESOURCE_INIT_FAILURE" in events
    (failure,) = [event for event in result.all_events if event.event_type_value == "RESOURCE_INIT_FAILURE"]
    error, messages = failure.event_specific_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    message = next(m for m in messages if "config cannot be used" in m)
    assert "the tankerwatch resource's config cannot be used, so no step ran" in message
    assert f"{field}: " in message and why in message
    # Only the bad field is named.
    assert [name for name in ("sources_file", "data_dir", "product", "keep_versions") if f"{name}: " in message] == [
        field
    ]
    assert not (tmp_path / "data").exists()
