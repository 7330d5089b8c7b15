"""`dagster dev` as a user starts it: webserver and daemon on 127.0.0.1, the repository's dagster.yaml in a
temporary DAGSTER_HOME, the job `tankerwatch_full` launched through the GraphQL API, the published set read back
as a consumer reads it, the run queue holding a second run while the first is in progress, and every process of
`dagster dev` gone afterwards, whatever happened in between."""

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

import polars as pl
import pytest
import requests
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from orchestration.jobs import FULL_JOB_NAME
from tankerwatch.publish import resolve_current
from tankerwatch.settings import EXPECTATIONS_DIR, REPO_ROOT

HOST = "127.0.0.1"
TRUTH = json.loads((REPO_ROOT / "demo" / "truth" / "summary.json").read_text())
STARTUP_DEADLINE_S = 240
RUN_DEADLINE_S = 15 * 60
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
IN_PROGRESS = {DagsterRunStatus.STARTING, DagsterRunStatus.STARTED}

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

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), f"GraphQL errors: {body['errors']}"
        return body["data"]

    def run_info(self, run_id: str) -> dict:
        info = self.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        assert info["__typename"] == "Run", f"run {run_id}: {info}"
        return info

    def run_summary(self, run_id: str, last: int = 60) -> str:
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
    run_id = dagster_dev.client.submit_job_execution(FULL_JOB_NAME)
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
    first = dagster_dev.client.submit_job_execution(FULL_JOB_NAME, tags={"tankerwatch/test": "queue-first"})
    deadline = time.monotonic() + 120
    while (status := dagster_dev.client.get_run_status(first)) not in IN_PROGRESS:
        assert status not in FINISHED, f"first run ended before the second was submitted\n{dagster_dev.run_summary(first)}"
        assert time.monotonic() < deadline, f"first run still {status.value} after 120 s\n{dagster_dev.run_summary(first)}"
        time.sleep(0.5)

    second = dagster_dev.client.submit_job_execution(FULL_JOB_NAME, tags={"tankerwatch/test": "queue-second"})
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
