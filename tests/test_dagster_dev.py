"""`dagster dev` as a user starts it: webserver and daemon on 127.0.0.1, the repository's dagster.yaml in a
temporary DAGSTER_HOME, the job `tankerwatch_full` launched through the GraphQL API for one day partition, the
published set read back as a consumer reads it, the run queue holding a second run while the first is in
progress, a backfill of three days launched as the UI launches it (launchPartitionBackfill), and every process
of `dagster dev` gone afterwards, whatever happened in between."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pytest
import requests
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from orchestration.jobs import FULL_JOB_NAME
from tankerwatch.ingest import KIND_TABLES
from tankerwatch.publish import resolve_current
from tankerwatch.settings import EXPECTATIONS_DIR, REPO_ROOT, DataPaths
from tankerwatch.sources import DAILY_KINDS

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
TRUTH = json.loads((REPO_ROOT / "demo" / "truth" / "summary.json").read_text())
STARTUP_DEADLINE_S = 240
RUN_DEADLINE_S = 15 * 60
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
IN_PROGRESS = {DagsterRunStatus.STARTING, DagsterRunStatus.STARTED}
# tankerwatch_full is day-partitioned (the sighting and AIS ingest assets): every launch names its day.
PARTITION_TAG = "dagster/partition"
DAY = "2024-05-10"
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
BACKFILL_TAG = "dagster/backfill"
BACKFILL_DAYS = ["2024-05-10", "2024-05-11", "2024-05-12"]
# The backfill daemon looks at a backfill about every 30 s and requests the next runs once their parents are
# done; with one run at a time (dagster.yaml) three day partitions take about 2.5 minutes here.
BACKFILL_DEADLINE_S = 10 * 60
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
BACKFILL_SUCCEEDED = {"COMPLETED", "COMPLETED_SUCCESS"}  # COMPLETED: older Dagster's name for the same end

RUN_QUERY = """
query RunInfo($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status startTime endTime }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

LOGS_QUERY = """
query RunLogs($runId: ID!, $afterCursor: String) {
  logsForRun(runId: $runId, afterCursor: $afterCursor, limit: 1000) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ErrorEvent { error { message } }
      }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

WORKSPACE_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""

ASSET_NODES_QUERY = """
{
  assetNodes {
    assetKey { path }
    isMaterializable
    isPartitioned
  }
}
"""

# The mutation the UI sends from "Materialize" -> choose partitions -> "Launch backfill"
# (ui-core/src/instance/backfill/BackfillUtils.tsx), with __typename so a refusal is named.
LAUNCH_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on UnauthorizedError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PresetNotFoundError { message }
    ... on RunConfigValidationInvalid { pipelineName errors { message path reason } }
    ... on PythonError { message stack }
  }
}
"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id
      status
      isAssetBackfill
      error { message stack }
      runs { runId status jobName tags { key value } }
    }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

BACKFILLS_QUERY = """
{
  partitionBackfillsOrError {
    __typename
    ... on PartitionBackfills { results { id status } }
    ... on PythonError { message }
  }
}
"""

MATERIALIZATIONS_QUERY = """
query Materializations($assetKey: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset { assetMaterializations(partitions: $partitions) { partition runId } }
    ... on AssetNotFoundError { message }
  }
}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _proc_stat(pid: int) -> tuple[str, int, int, int, int] | None:
    """(state, ppid, pgrp, session, start time) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19])


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


@dataclass
class DagsterDev:
    """One `dagster dev` in its own session and process group (its pid is the group's and the session's id)."""

    proc: subprocess.Popen
    port: int
    home: Path
    data_dir: Path
    log_path: Path
    known: dict[int, int] = field(default_factory=dict)  # pid -> start time of every process seen in the tree
    stopped_by: str | None = None
    left_behind: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def client(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient(HOST, port_number=self.port, timeout=60)

    def members(self) -> set[int]:
        """Live (non-zombie) processes of the group or session, or descended from its leader."""
        pgid = self.proc.pid
        stats = {pid: s for pid in _all_pids() if (s := _proc_stat(pid)) is not None}
        tree = {pid for pid, s in stats.items() if s[2] == pgid or s[3] == pgid}
        # a process seen before that left the group (same pid and start time, so never a reused pid)
        tree |= {pid for pid, start in self.known.items() if pid in stats and stats[pid][4] == start}
        grew = True
        while grew:  # descendants that called setsid/setpgid still have a parent in the tree
            children = {pid for pid, s in stats.items() if s[1] in tree} - tree
            tree |= children
            grew = bool(children)
        tree.discard(os.getpid())
        self.known.update({pid: stats[pid][4] for pid in tree})
        return {pid for pid in tree if stats[pid][0] not in ("Z", "X")}

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no dagster dev log: {exc})"

    def graphql_response(self, query: str, variables: dict | None = None) -> tuple[int, dict]:
        """The HTTP status and the body (GraphQL errors come with a 4xx/5xx status too)."""
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"errors": [{"message": response.text[:2000]}]}

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        status, body = self.graphql_response(query, variables)
        assert status == 200 and not body.get("errors"), f"GraphQL (HTTP {status}) errors: {body.get('errors') or body}"
        return body["data"]

    def run_info(self, run_id: str) -> dict:
        info = self.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        assert info["__typename"] == "Run", f"run {run_id}: {info}"
        return info

    def run_summary(self, run_id: str, last: int = 60, log_tail: bool = True) -> str:
        """The run's status and its last events (errors in full), for a failure message."""
        lines: list[str] = []
        try:
            lines.append(f"run {run_id}: {self.run_info(run_id)}")
            cursor = None
            events: list[dict] = []
            for _ in range(50):
                page = self.graphql(LOGS_QUERY, {"runId": run_id, "afterCursor": cursor})["logsForRun"]
                if page["__typename"] != "EventConnection":
                    lines.append(f"logsForRun: {page}")
                    break
                events += page["events"]
                cursor = page["cursor"]
                if not page["hasMore"]:
                    break
            for event in events[-last:]:
                text = f"  {event['__typename']} [{event.get('level')}] {event.get('stepKey') or '-'}: {event.get('message')}"
                if event.get("error"):
                    text += f"\n    {event['error']['message']}"
                lines.append(text)
        except Exception as exc:  # the summary must never hide the failure it explains
            lines.append(f"(could not read the run's events: {exc!r})")
        if log_tail:
            lines.append("--- dagster dev log (tail) ---")
            lines.append(self.log_tail())
        return "\n".join(lines)

    def wait_for_run(self, run_id: str, deadline_s: float = RUN_DEADLINE_S) -> DagsterRunStatus:
        deadline = time.monotonic() + deadline_s
        while True:
            status = self.client.get_run_status(run_id)
            if status in FINISHED:
                return status
            if time.monotonic() > deadline:
                pytest.fail(f"run {run_id} still {status.value} after {deadline_s} s\n{self.run_summary(run_id)}")
            if self.proc.poll() is not None:
                pytest.fail(f"dagster dev exited ({self.proc.returncode}) during run {run_id}\n{self.run_summary(run_id)}")
            time.sleep(1)

    def assert_succeeded(self, run_id: str) -> None:
        status = self.wait_for_run(run_id)
        assert status == DagsterRunStatus.SUCCESS, f"run {run_id} ended {status.value}\n{self.run_summary(run_id)}"

    def launch_backfill(self, params: dict) -> dict:
        """launchPartitionBackfill as the UI sends it; returns the union member it answered."""
        return self.graphql(LAUNCH_BACKFILL_MUTATION, {"backfillParams": params})["launchPartitionBackfill"]

    def backfill_info(self, backfill_id: str) -> dict:
        info = self.graphql(BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"]
        assert info["__typename"] == "PartitionBackfill", f"backfill {backfill_id}: {info}"
        return info

    def backfill_summary(self, backfill_id: str) -> str:
        """The backfill's status and error, then every run it launched with its last events, then the log."""
        lines: list[str] = []
        try:
            info = self.backfill_info(backfill_id)
            lines.append(f"backfill {backfill_id}: {info['status']}, {len(info['runs'])} run(s)")
            if info.get("error"):
                lines.append(f"  error: {info['error']['message']}\n{info['error'].get('stack') or ''}")
            for run in info["runs"]:
                tags = {t["key"]: t["value"] for t in run["tags"] if t["key"].startswith("dagster/")}
                lines.append(f"- {run['jobName']} {run['status']} {tags}")
                lines.append(self.run_summary(run["runId"], last=25, log_tail=False))
        except Exception as exc:  # the summary must never hide the failure it explains
            lines.append(f"(could not read the backfill: {exc!r})")
        lines.append("--- dagster dev log (tail) ---")
        lines.append(self.log_tail())
        return "\n".join(lines)

    def wait_for_backfill(self, backfill_id: str, deadline_s: float = BACKFILL_DEADLINE_S) -> dict:
        """Bounded poll until the backfill has ended (whatever its end); returns its last state."""
        deadline = time.monotonic() + deadline_s
        while True:
            info = self.backfill_info(backfill_id)
            if info["status"] in BACKFILL_DONE:
                return info
            if time.monotonic() > deadline:
                pytest.fail(f"backfill {backfill_id} still {info['status']} after {deadline_s} s\n"
                            f"{self.backfill_summary(backfill_id)}")
            if self.proc.poll() is not None:
                pytest.fail(f"dagster dev exited ({self.proc.returncode}) during backfill {backfill_id}\n"
                            f"{self.backfill_summary(backfill_id)}")
            time.sleep(2)

    def _signal_all(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        for pid in self.members():  # anything that left the group (own session or group) but is still ours
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _wait_gone(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is None:
                try:
                    self.proc.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
            if self.proc.poll() is not None and not self.members():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGINT to the whole group, then SIGTERM, then SIGKILL, each with a bounded wait; idempotent."""
        if self.stopped_by is not None:
            return
        self.members()  # record the tree before anything starts exiting and being re-parented
        for sig, wait_s in ((signal.SIGINT, 45), (signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            self._signal_all(sig)
            if self._wait_gone(wait_s):
                self.stopped_by = sig.name
                break
        else:
            self.stopped_by = "nothing"
        self.left_behind = [f"{pid} {_cmdline(pid)}" for pid in sorted(self.members())]


def start_dagster_dev(tmp: Path) -> DagsterDev:
    home = tmp / "dagster_home"
    data_dir = tmp / "data"
    home.mkdir()
    data_dir.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANKERWATCH_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        TANKERWATCH_DATA_DIR=str(data_dir),  # no TANKERWATCH_SOURCES: the bundled demo is the default
        PYTHONUNBUFFERED="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        NO_PROXY="*",
    )
    port = free_port()
    log_path = tmp / "dagster_dev.log"
    dagster = Path(sys.executable).parent / "dagster"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(dagster), "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", HOST, "-p", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return DagsterDev(proc=proc, port=port, home=home, data_dir=data_dir, log_path=log_path)


def wait_until_ready(server: DagsterDev) -> None:
    """Bounded poll: /server_info answers, then the code location has loaded (a load error fails at once)."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    last = "nothing yet"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"dagster dev exited with {server.proc.returncode} while starting\n{server.log_tail()}")
        try:
            if requests.get(f"{server.url}/server_info", timeout=5).status_code == 200:
                workspace = server.graphql(WORKSPACE_QUERY)["workspaceOrError"]
                entries = workspace.get("locationEntries") or []
                for entry in entries:
                    error = entry["locationOrLoadError"]
                    if error and error["__typename"] == "PythonError":
                        pytest.fail(f"code location {entry['name']} failed to load: {error['message']}")
                if entries and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries):
                    return
                last = str(workspace)
        except requests.RequestException as exc:
            last = repr(exc)
        time.sleep(1)
    pytest.fail(f"dagster dev not ready after {STARTUP_DEADLINE_S} s (last: {last})\n{server.log_tail()}")


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    server = start_dagster_dev(tmp_path_factory.mktemp("dagster-dev"))
    try:
        wait_until_ready(server)
        yield server
    finally:
        server.stop()
        assert not server.left_behind, f"dagster dev left processes behind: {server.left_behind}"


def read_published(data_dir: Path) -> tuple[Path, pl.DataFrame, pl.DataFrame, dict]:
    """As a consumer reads it: resolve current once, then read every file from that directory."""
    current = resolve_current(data_dir / "published")
    assert current is not None, "nothing was published"
    voyages = pl.read_parquet(current / "voyages.parquet")
    cap = pl.read_parquet(current / "cap_tracker.parquet")
    manifest = json.loads((current / "manifest.json").read_text())
    return current, voyages, cap, manifest


def test_full_job_launched_through_graphql_publishes_the_demo(dagster_dev):
    with pytest.raises(DagsterGraphQLClientError, match="2024-13-45"):  # not a day: refused at launch
        dagster_dev.client.submit_job_execution(FULL_JOB_NAME, tags={PARTITION_TAG: "2024-13-45"})
    run_id = dagster_dev.client.submit_job_execution(FULL_JOB_NAME, tags={PARTITION_TAG: DAY})
    dagster_dev.assert_succeeded(run_id)
    summary = dagster_dev.run_summary(run_id)  # what a failure would print: it must be readable
    assert "RunSuccessEvent" in summary and "could not read" not in summary, summary

    current, voyages, cap, manifest = read_published(dagster_dev.data_dir)
    assert manifest["run_id"] == run_id
    assert manifest["version"] == current.name
    assert voyages.height == TRUTH["voyages"] == 43
    assert voyages["imo"].n_unique() == TRUTH["tankers"]
    year = cap.filter(pl.col("year") == 2024).to_dicts()
    assert len(year) == 1
    assert str(year[0]["breach_date"]) == TRUTH["breach_date"]
    assert year[0]["voyages"] == 43
    assert {c["suite"] for c in manifest["checks"]} == {p.stem for p in EXPECTATIONS_DIR.glob("*.json")}
    assert manifest["checks"] and all(c["success"] for c in manifest["checks"])


def test_a_second_run_waits_in_the_queue_and_both_succeed(dagster_dev):
    first = dagster_dev.client.submit_job_execution(
        FULL_JOB_NAME, tags={PARTITION_TAG: DAY, "tankerwatch/test": "queue-first"}
    )
    deadline = time.monotonic() + 120
    while (status := dagster_dev.client.get_run_status(first)) not in IN_PROGRESS:
        assert status not in FINISHED, f"first run ended before the second was submitted\n{dagster_dev.run_summary(first)}"
        assert time.monotonic() < deadline, f"first run still {status.value} after 120 s\n{dagster_dev.run_summary(first)}"
        time.sleep(0.5)

    second = dagster_dev.client.submit_job_execution(
        FULL_JOB_NAME, tags={PARTITION_TAG: DAY, "tankerwatch/test": "queue-second"}
    )
    seen_while_first_ran: set[DagsterRunStatus] = set()
    while True:
        status_second = dagster_dev.client.get_run_status(second)
        status_first = dagster_dev.client.get_run_status(first)
        if status_first not in IN_PROGRESS:
            break  # the first finished: from here the second may start
        # read before the first's status, so the first was still in progress when the second was seen
        seen_while_first_ran.add(status_second)
        assert status_second == DagsterRunStatus.QUEUED, (
            f"second run is {status_second.value} while the first is {status_first.value}: the run queue of "
            f"dagster.yaml (max_concurrent_runs: 1) did not hold it\n{dagster_dev.run_summary(second)}"
        )
        time.sleep(0.5)
    assert seen_while_first_ran == {DagsterRunStatus.QUEUED}

    dagster_dev.assert_succeeded(first)
    dagster_dev.assert_succeeded(second)
    first_info, second_info = dagster_dev.run_info(first), dagster_dev.run_info(second)
    assert second_info["startTime"] >= first_info["endTime"], (first_info, second_info)

    current, voyages, cap, manifest = read_published(dagster_dev.data_dir)
    assert manifest["run_id"] == second  # the later run's set is current
    assert voyages.height == 43
    assert str(cap.filter(pl.col("year") == 2024)["breach_date"][0]) == TRUTH["breach_date"]


def test_a_backfill_of_three_days_launched_as_the_ui_does_publishes_the_demo(dagster_dev):
    """Every asset, three day partitions, launched as the UI's "Materialize all" -> partitions -> "Launch
    backfill" sends it: a pure asset backfill (the assets' first common job is the hidden __ASSET_JOB), the
    daily ingest assets loading the three days in one run (BackfillPolicy.single_run), the unpartitioned rest
    once after them. The demo sources have no {date}: the imagery log and AIS feed are read whole."""
    nodes = dagster_dev.graphql(ASSET_NODES_QUERY)["assetNodes"]
    asset_keys = [{"path": node["assetKey"]["path"]} for node in nodes if node["isMaterializable"]]
    daily = sorted(node["assetKey"]["path"][-1] for node in nodes if node["isPartitioned"])
    assert daily == sorted(t for kind in DAILY_KINDS for t in KIND_TABLES[kind]), daily
    before = resolve_current(dagster_dev.data_dir / "published")

    # What LaunchAssetChoosePartitionsDialog.tsx (onLaunchAsBackfill) sends when the assets' common job is the
    # hidden __ASSET_JOB, as it is for "Materialize all" on the asset graph. From the tankerwatch_full job page
    # it adds selector {partitionSetName: "tankerwatch_full_partition_set", repositorySelector}: a job backfill.
    def ui_params(days: list[str]) -> dict:
        return {
            "tags": [{"key": "dagster/from_ui", "value": "true"}],
            "assetSelection": asset_keys,
            "partitionNames": days,
            "fromFailure": False,
        }

    # A day that is not a partition key is refused when launched (a PythonError, HTTP 500), and no backfill is made.
    status, refused = dagster_dev.graphql_response(
        LAUNCH_BACKFILL_MUTATION, {"backfillParams": ui_params([BACKFILL_DAYS[0], "2024-13-45"])}
    )
    answer = (refused.get("data") or {}).get("launchPartitionBackfill") or {}
    assert answer.get("__typename") != "LaunchBackfillSuccess" and "2024-13-45" in str(refused), (status, refused)
    assert dagster_dev.graphql(BACKFILLS_QUERY)["partitionBackfillsOrError"]["results"] == []

    launched = dagster_dev.launch_backfill(ui_params(BACKFILL_DAYS))
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]
    info = dagster_dev.wait_for_backfill(backfill_id)

    def explain() -> str:  # read only when an assertion fails
        return dagster_dev.backfill_summary(backfill_id)

    assert info["status"] in BACKFILL_SUCCEEDED, explain()
    assert info["isAssetBackfill"], info
    runs = info["runs"]
    assert runs and all(run["status"] == "SUCCESS" for run in runs), explain()
    run_ids = {run["runId"] for run in runs}
    tags = [{t["key"]: t["value"] for t in run["tags"]} for run in runs]
    assert all(t.get(BACKFILL_TAG) == backfill_id for t in tags), tags
    # single_run: the three days are one run over the range, not one run per day
    ranged = [t for t in tags if RANGE_START_TAG in t]
    assert [(t[RANGE_START_TAG], t[RANGE_END_TAG]) for t in ranged] == [(BACKFILL_DAYS[0], BACKFILL_DAYS[-1])], tags
    assert not any(PARTITION_TAG in t for t in tags), tags

    for table in daily:
        found = dagster_dev.graphql(MATERIALIZATIONS_QUERY, {"assetKey": {"path": [table]}, "partitions": BACKFILL_DAYS})
        asset = found["assetOrError"]
        assert asset["__typename"] == "Asset", asset
        by_day = {m["partition"]: m["runId"] for m in asset["assetMaterializations"] if m["runId"] in run_ids}
        assert sorted(by_day) == BACKFILL_DAYS, f"{table}: partitions materialized by the backfill: {by_day}\n{explain()}"

    current, voyages, cap, manifest = read_published(dagster_dev.data_dir)
    assert current != before, f"the backfill published nothing new: current is still {before}"
    assert manifest["run_id"] in run_ids, (manifest["run_id"], run_ids)
    assert manifest["version"] == current.name
    assert voyages.height == TRUTH["voyages"] == 43
    year = cap.filter(pl.col("year") == 2024).to_dicts()
    assert len(year) == 1 and str(year[0]["breach_date"]) == TRUTH["breach_date"], year
    assert manifest["checks"] and all(c["success"] for c in manifest["checks"]), manifest["checks"]

    # the backfill has ended, so nothing writes the warehouse: read it as a consumer would, read-only
    with duckdb.connect(str(DataPaths(dagster_dev.data_dir).warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw_imagery_sightings").fetchone()[0] > 0
        daily_snapshots = con.execute(
            "select distinct source_name, partition_day from raw_source_snapshots where kind in "
            f"({', '.join('?' for _ in DAILY_KINDS)}) order by 1",
            list(DAILY_KINDS),
        ).fetchall()
    # whole sources (no {date}): one snapshot each, whatever the days, with no day of their own
    assert daily_snapshots == [("ais_feed", None), ("imagery_log", None)], daily_snapshots


def test_a_set_published_by_a_backfill_lists_every_gate_in_its_manifest(dagster_dev):
    backfills = dagster_dev.graphql(BACKFILLS_QUERY)["partitionBackfillsOrError"]["results"]
    run_ids = {
        run["runId"]
        for backfill in backfills
        if backfill["status"] in BACKFILL_SUCCEEDED
        for run in dagster_dev.backfill_info(backfill["id"])["runs"]
    }
    manifest = read_published(dagster_dev.data_dir)[3]
    assert manifest["run_id"] in run_ids, "the backfill test above publishes the current set"
    missing = sorted({p.stem for p in EXPECTATIONS_DIR.glob("*.json")} - {c["suite"] for c in manifest["checks"]})
    assert not missing, f"the manifest of the set backfill run {manifest['run_id']} published lacks {len(missing)} gates: {missing}"
    # the raw tables were gated by the backfill's ingest run, the candidate by the publishing run
    assert {c["run_id"] for c in manifest["checks"]} <= run_ids
    assert len({c["run_id"] for c in manifest["checks"]}) > 1
    assert all(c["success"] for c in manifest["checks"])


def test_dagster_dev_stops_on_interrupt_and_leaves_no_process(dagster_dev):
    pids = dagster_dev.members()
    assert dagster_dev.proc.pid in pids and len(pids) >= 3  # dev, webserver, daemon (and the code server)
    dagster_dev.stop()
    print(f"dagster dev ({len(pids)} processes) stopped by {dagster_dev.stopped_by}")
    assert dagster_dev.proc.returncode is not None
    assert dagster_dev.left_behind == [], f"left behind after SIGKILL: {dagster_dev.left_behind}"
    assert not dagster_dev.members()
    # the group is empty once its last zombies are reaped by whoever adopted them: a bounded wait
    deadline = time.monotonic() + 15
    while True:
        try:
            os.killpg(dagster_dev.proc.pid, 0)
        except ProcessLookupError:
            break
        if time.monotonic() > deadline:
            remaining = [
                f"{pid} {s[0]} {_cmdline(pid)}" for pid in _all_pids()
                if (s := _proc_stat(pid)) is not None and s[2] == dagster_dev.proc.pid
            ]
            pytest.fail(f"process group {dagster_dev.proc.pid} still has members: {remaining}")
        time.sleep(0.2)
