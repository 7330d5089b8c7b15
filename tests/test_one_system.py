"""The command line and the UI are one system: `tankerwatch run` records its runs in the Dagster instance the UI
reads, and one lock per data directory serializes every run however it was started (command line, UI,
schedule). A run that finds the data directory busy waits for it, says for whom, and gives up after a bounded
wait with a message naming the holder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from orchestration.cli import EXIT_CONFIG, main, prepare_dagster_home
from orchestration.definitions import defs
from orchestration.jobs import FULL_JOB_NAME, locked_in_process_executor, recover_run_that_died_holding
from tankerwatch.publish import resolve_current
from tankerwatch.run_lock import LOCK_NAME, LOCK_WAIT_ENV, Holder, RunLocked, run_lock
from tankerwatch.settings import REPO_ROOT

TRUTH = json.loads((REPO_ROOT / "demo" / "truth" / "summary.json").read_text())

# A second process that takes the lock on argv[1], says when it has it, and holds it for argv[2] seconds
# (or until killed). It prints what it was told while waiting.
HOLDER = """
import sys, time
from tankerwatch.run_lock import run_lock
with run_lock(sys.argv[1], wait_s=float(sys.argv[3]), poll_s=0.05, run_id=sys.argv[4] or None,
              on_wait=lambda m: print("WAIT " + m, flush=True)) as held:
    print("GOT " + str(held.died_holding), flush=True)
    time.sleep(float(sys.argv[2]))
print("RELEASED", flush=True)
"""


def start_holder(data_dir: Path, hold_s: float, wait_s: float = 60, run_id: str = "") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), str(hold_s), str(wait_s), run_id],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def read_line(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    assert line, f"the holder process ended early: {proc.stderr.read()}"
    return line.strip()


# -- the lock ---------------------------------------------------------------------------------------------------


def test_a_second_process_waits_for_the_lock_names_its_holder_and_gets_it_once_released(tmp_path):
    data_dir = tmp_path / "data"
    with run_lock(data_dir, wait_s=0, run_id="first-run") as held:
        assert held.died_holding is None and not held.reentered
        assert (data_dir / LOCK_NAME).read_text() == f"{os.getpid()} first-run\n"
        second = start_holder(data_dir, hold_s=0)
        expected = f"WAIT another run (pid {os.getpid()}, run first-run) is using {data_dir}; waiting up to 60 s"
        assert read_line(second) == expected
        time.sleep(0.5)
        assert second.poll() is None  # still waiting while we hold it
    # released cleanly: the second gets it and does not take us for a run that died holding it
    assert read_line(second) == "GOT None"
    assert read_line(second) == "RELEASED"
    assert second.wait(timeout=30) == 0
    assert (data_dir / LOCK_NAME).read_text() == ""


def test_a_run_that_cannot_get_the_lock_in_time_gives_up_naming_the_holder(tmp_path):
    data_dir = tmp_path / "data"
    holder = start_holder(data_dir, hold_s=60, run_id="busy-run")
    try:
        assert read_line(holder) == "GOT None"
        started = time.monotonic()
        with pytest.raises(RunLocked, match=rf"another run \(pid {holder.pid}, run busy-run\) holds the lock on "
                                            rf"{data_dir} .*; gave up after waiting 1 s"):
            with run_lock(data_dir, wait_s=1, poll_s=0.05):
                pass
        assert 1 <= time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()


def test_a_process_holding_the_lock_enters_it_again_instead_of_waiting_for_itself(tmp_path):
    data_dir = tmp_path / "data"
    with run_lock(data_dir, wait_s=0, run_id="outer"):
        with run_lock(data_dir, wait_s=0, run_id="inner") as inner:  # wait_s=0: a second flock would raise
            assert inner.reentered
        assert (data_dir / LOCK_NAME).read_text() == f"{os.getpid()} outer\n"  # still ours after the inner exit
        other = start_holder(data_dir, hold_s=0, wait_s=0.2)
        assert read_line(other).startswith("WAIT")
        assert other.wait(timeout=30) == 1 and "gave up after waiting 0 s" in other.stderr.read()


def test_a_holder_killed_with_the_lock_is_named_to_the_next_holder(tmp_path):
    data_dir = tmp_path / "data"
    victim = start_holder(data_dir, hold_s=60, run_id="killed-run")
    assert read_line(victim) == "GOT None"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    with run_lock(data_dir, wait_s=5) as held:  # the kernel released it with the process
        assert held.died_holding == Holder(str(victim.pid), "killed-run")
    with run_lock(data_dir, wait_s=5) as held:
        assert held.died_holding is None


def test_a_run_that_died_holding_the_lock_is_marked_failed_and_its_pool_slot_freed(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    job = defs.resolve_job_def(FULL_JOB_NAME)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_id = "00000000-0000-4000-8000-00000000dead"
        run = instance.create_run_for_job(job, run_id=run_id, status=dg.DagsterRunStatus.STARTED)
        instance.event_log_storage.set_concurrency_slots("duckdb", 1)
        claim = instance.event_log_storage.claim_concurrency_slot("duckdb", run.run_id, "voyages")
        assert claim.is_claimed
        done = recover_run_that_died_holding(instance, Holder("4242", run.run_id), tmp_path / "data")
        assert done == (f"marked run {run.run_id} failed (its process, pid 4242, died while running); "
                        "freed the pool slot(s) it held")
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots == []
        # a run that finished, or a holder that never named a run, is left alone
        assert recover_run_that_died_holding(instance, Holder("4242", run.run_id), tmp_path / "data") is None
        assert recover_run_that_died_holding(instance, Holder("4242"), tmp_path / "data") is None


# -- every Dagster run holds it ----------------------------------------------------------------------------------


@dg.op(required_resource_keys={"tankerwatch"})
def read_lock_file(context) -> str:
    return (context.resources.tankerwatch.paths().root / LOCK_NAME).read_text()


def lock_probe_job() -> dg.JobDefinition:
    from assets.resources import TankerwatchResource

    @dg.job(executor_def=locked_in_process_executor, resource_defs={"tankerwatch": TankerwatchResource()})
    def lock_probe():
        read_lock_file()

    return lock_probe


def test_every_job_and_asset_run_of_the_definitions_uses_the_locking_executor():
    assert defs.resolve_job_def(FULL_JOB_NAME).executor_def is locked_in_process_executor
    assert defs.resolve_implicit_global_asset_job_def().executor_def is locked_in_process_executor


def test_a_dagster_run_holds_the_lock_of_its_configured_data_directory_and_waits_for_another_run(
    tmp_path, monkeypatch
):
    data_dir = tmp_path / "data"
    run_config = {"resources": {"tankerwatch": {"config": {"data_dir": str(data_dir)}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        with dg.execute_job(dg.reconstructable(lock_probe_job), instance=instance, run_config=run_config) as result:
            assert result.success
            assert result.output_for_node("read_lock_file") == f"{os.getpid()} {result.run_id}\n"
        assert (data_dir / LOCK_NAME).read_text() == ""  # let go cleanly at the end

        holder = start_holder(data_dir, hold_s=3, run_id="cli-run")
        try:
            assert read_line(holder) == "GOT None"
            result = dg.execute_job(dg.reconstructable(lock_probe_job), instance=instance, run_config=run_config)
            assert result.success  # it waited the 3 s out
            waits = [e.message for e in instance.all_logs(result.run_id) if "is using" in (e.message or "")]
            assert waits == [f"another run (pid {holder.pid}, run cli-run) is using {data_dir}; waiting up to 3600 s"]
        finally:
            holder.wait(timeout=30)

        monkeypatch.setenv(LOCK_WAIT_ENV, "1")
        holder = start_holder(data_dir, hold_s=60, run_id="cli-run")
        try:
            assert read_line(holder) == "GOT None"
            result = dg.execute_job(dg.reconstructable(lock_probe_job), instance=instance, run_config=run_config)
        finally:
            holder.kill()
            holder.wait()
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        assert f"another run (pid {holder.pid}, run cli-run) holds the lock on {data_dir}" in str(
            failure.event_specific_data.error.message
        )
        assert "gave up after waiting 1 s" in failure.event_specific_data.error.message
        assert not any(e.is_step_start for e in result.all_events)  # nothing ran


# -- the command line's instance and version -------------------------------------------------------------------


def test_the_command_line_records_into_dot_dagster_home_by_default_and_keeps_an_operators_settings(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME")
    home = prepare_dagster_home()
    assert home == tmp_path / ".dagster_home"
    assert (home / "dagster.yaml").read_text() == (REPO_ROOT / "dagster.yaml").read_text()

    operators = tmp_path / "operator_home"
    operators.mkdir()
    (operators / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(operators))
    assert prepare_dagster_home() == operators
    assert (operators / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_an_unusable_dagster_home_is_one_line_and_nothing_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "missing" / "home"))
    assert main(["run", "--data-dir", str(tmp_path / "data")]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"$DAGSTER_HOME ({tmp_path / 'missing' / 'home'}) cannot be created: its parent" in err
    assert "nothing was run" in err
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_version_prints_the_installed_package_version():
    result = subprocess.run([sys.executable, "-m", "orchestration.cli", "--version"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tankerwatch {version('tankerwatch')}"


# -- dagster dev and the command line at once --------------------------------------------------------------------


@pytest.mark.slow
def test_a_cli_run_during_a_ui_run_waits_and_both_are_in_the_instance_the_ui_reads(tmp_path):
    from tests.test_dagster_dev import DAY, PARTITION_TAG, read_published, start_dagster_dev, wait_until_ready

    server = start_dagster_dev(tmp_path)
    try:
        wait_until_ready(server)
        ui_run = server.client.submit_job_execution(FULL_JOB_NAME, tags={PARTITION_TAG: DAY})
        lock_file = server.data_dir / LOCK_NAME
        deadline = time.monotonic() + 180
        while not (lock_file.exists() and ui_run in lock_file.read_text()):  # the UI's run worker holds it
            assert time.monotonic() < deadline, f"the UI run never took the lock\n{server.run_summary(ui_run)}"
            assert server.client.get_run_status(ui_run) != dg.DagsterRunStatus.FAILURE, server.run_summary(ui_run)
            time.sleep(0.2)

        env = {k: v for k, v in os.environ.items() if not k.startswith(("TANKERWATCH_", "DAGSTER_"))}
        env["DAGSTER_HOME"] = str(server.home)
        cli = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "run", "--data-dir", str(server.data_dir), "--days", DAY,
             "--lock-wait", "600"],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        server.assert_succeeded(ui_run)
        out, err = cli.communicate(timeout=600)
        assert cli.returncode == 0, err[-4000:]
        holder_pid = None
        for line in err.splitlines():
            if "is using" in line:
                holder_pid = line.split("(pid ")[1].split(",")[0]
                assert line == (f"tankerwatch: another run (pid {holder_pid}, run {ui_run}) is using "
                                f"{server.data_dir}; waiting up to 600 s")
        assert holder_pid is not None, f"the command line did not wait for the UI run:\n{err[-4000:]}"
        cli_run = next(line.split()[-1] for line in out.splitlines() if line.startswith("tankerwatch: run "))

        # the UI reads the command line's run from the same instance
        assert server.run_info(cli_run)["status"] == "SUCCESS"
        with dg.DagsterInstance.from_config(str(server.home)) as instance:
            runs = {run.run_id: run for run in instance.get_runs()}
            assert {ui_run, cli_run} <= set(runs)
            assert runs[ui_run].status == runs[cli_run].status == dg.DagsterRunStatus.SUCCESS
            assert runs[cli_run].tags.get(PARTITION_TAG) == DAY
            graph = defs.resolve_asset_graph()
            materialized = {
                r.event_log_entry.dagster_event.asset_key
                for r in instance.get_records_for_run(cli_run, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
                                                      limit=1000).records
            }  # fmt: skip
            assert materialized == set(graph.get_all_asset_keys())
            evaluations = [
                r.event_log_entry.dagster_event.event_specific_data
                for r in instance.get_records_for_run(cli_run, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                                                      limit=1000).records
            ]  # fmt: skip
            assert {e.asset_check_key for e in evaluations} == set(graph.asset_check_keys)
            assert all(e.passed for e in evaluations), [e.asset_check_key for e in evaluations if not e.passed]
            # the asset page's latest materialization of a published table is the command line's
            latest = instance.get_latest_materialization_event(dg.AssetKey("voyages"))
            assert latest.run_id == cli_run

        current, voyages, cap, manifest = read_published(server.data_dir)
        assert manifest["run_id"] == cli_run  # the later run's set is current
        year = cap.filter(pl.col("year") == 2024).to_dicts()[0]
        assert (voyages.height, voyages["imo"].n_unique()) == (TRUTH["voyages"], TRUTH["tankers"]) == (43, 15)
        assert round(year["delivered_bbl"]) == 1_059_664
        assert str(year["breach_date"]) == TRUTH["breach_date"] == "2024-07-11"
        assert resolve_current(server.data_dir / "published") == current
    finally:
        server.stop()
    assert not server.left_behind, f"dagster dev left processes behind: {server.left_behind}"
