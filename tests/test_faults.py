"""Faults never lose data nor publish a wrong set: publishers that are down, flapping, slow or send garbage; a run
killed (SIGKILL) while landing, inside a model, while writing a version and at the publish switch; two runs at
once; a full re-run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.cli import EXIT_LOCKED
from tankerwatch.errors import FetchError
from tankerwatch.fetch import STATE_FILE, Fetcher, FetchOptions
from tankerwatch.publish import current_version, list_versions, remove_interrupted, resolve_current
from tankerwatch.run_lock import run_lock
from tankerwatch.settings import DEMO_SOURCES_FILE, REPO_ROOT
from tankerwatch.soak import content_hashes, run_tankerwatch, version_problems, warehouse_problem
from tests.http_server import Reply, serve_script

pytestmark = pytest.mark.slow

UN_XML = (REPO_ROOT / "demo" / "sanctions" / "un_consolidated_dprk_20260227.xml").read_bytes()
QUICK = dict(connect_timeout_s=1.0, read_timeout_s=1.0, retries=1, backoff_s=0.0)


# -- publishers that misbehave never replace the last good snapshot -----------------------------------

SOURCE_FAULTS = {
    "down": [Reply(503, b"Service Unavailable")],
    "flapping": [Reply(502, b"bad gateway"), Reply(200, b"<html><body>try later</body></html>",
                                                  {"Content-Type": "text/html"}), Reply(500, b"oops")],
    "slow": [Reply(200, UN_XML, delay_s=5.0)],
    "stalls mid-body": [Reply(200, UN_XML, stall_s=5.0)],
    "html error page": [Reply(200, b"<!DOCTYPE html><html>Maintenance</html>")],
    "binary garbage": [Reply(200, b"<?xml\x00\x00\x9c\xff\x00garbage" * 40)],
    "not xml": [Reply(200, b'{"error": "quota exceeded"}')],
    "truncated": [Reply(200, UN_XML[:500], length=len(UN_XML))],
    "empty": [Reply(200, b"")],
    "huge": [Reply(200, b"<CONSOLIDATED_LIST>", filler=3 * 1024 * 1024)],
}


def _landing_state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("reuse", [True, False], ids=["reuse_last_good", "fail"])
@pytest.mark.parametrize("fault", sorted(SOURCE_FAULTS))
def test_a_misbehaving_publisher_never_overwrites_the_last_good_snapshot(tmp_path, fault, reuse):
    options = FetchOptions(
        **QUICK, expect="xml", max_bytes=2 * 1024 * 1024, on_fetch_error="reuse_last_good" if reuse else "fail"
    )
    with serve_script() as server, Fetcher(tmp_path / "landing", sleep=lambda s: None, log=lambda m: None) as fetcher:
        server.script("/un.xml", Reply(200, UN_XML, {"ETag": '"v1"'}))
        good = fetcher.fetch("un", "url", server.url("/un.xml"), tmp_path, options)
        folder = tmp_path / "landing" / "un" / "url"
        before = _landing_state(folder)

        server.script("/un.xml", *SOURCE_FAULTS[fault])
        started = time.monotonic()
        if reuse:
            stale = fetcher.fetch("un", "url", server.url("/un.xml"), tmp_path, options)
            assert stale.stale and stale.stale_reason
            assert (stale.sha256, stale.path, stale.fetched_at) == (good.sha256, good.path, good.fetched_at)
        else:
            with pytest.raises(FetchError, match="source 'un'"):
                fetcher.fetch("un", "url", server.url("/un.xml"), tmp_path, options)
        assert time.monotonic() - started < 15, "a slow publisher must not hold the run for long"
        assert _landing_state(folder) == before  # same files, same bytes, same state: nothing half-landed

        server.script("/un.xml", Reply(200, UN_XML))  # back to normal: the same bytes are recognised as unchanged
        again = fetcher.fetch("un", "url", server.url("/un.xml"), tmp_path, options)
    assert again.unchanged and again.sha256 == hashlib.sha256(UN_XML).hexdigest()
    assert json.loads((folder / STATE_FILE).read_text())["entries"][server.url("/un.xml")]["last_good"]["sha256"] == (
        good.sha256
    )


# -- a run killed at any point: current stays the previous complete set, and the next run completes ----


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """One complete run of the demo; every kill below happens on this data directory, in order."""
    data_dir = tmp_path_factory.mktemp("faults") / "data"
    result = run_tankerwatch(DEMO_SOURCES_FILE, data_dir)
    assert result.returncode == 0, result.stderr
    current = resolve_current(data_dir / "published")
    return data_dir, current.name, content_hashes(current)


def assert_previous_set_intact(data_dir: Path, version: str, hashes: dict[str, str]) -> None:
    published = data_dir / "published"
    assert current_version(published) == version
    current = resolve_current(published)
    assert version_problems(current) == []  # every file readable, and as the manifest says
    assert content_hashes(current) == hashes
    assert warehouse_problem(data_dir / "warehouse.duckdb") is None


@pytest.mark.parametrize("point, leftover", [("landing", "landing/*/*/.landing-*.part"), ("model:4", None)])
def test_a_run_killed_mid_way_leaves_the_previous_set_current_and_readable(baseline, point, leftover):
    data_dir, version, hashes = baseline
    versions_before = list_versions(data_dir / "published")
    left_before = list(data_dir.glob("landing/*/*/.landing-*.part"))  # by an earlier kill in this module
    result = run_tankerwatch(DEMO_SOURCES_FILE, data_dir, fault=point)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    if left_before:  # the next run removes what the killed one left, under the run lock, before anything else
        assert "leftover(s) of an interrupted run" in result.stderr
        assert not any(path.exists() for path in left_before)
    assert "published" not in result.stdout.split("data")[-1]  # it never got to print a headline
    if leftover:
        assert list(data_dir.glob(leftover)), f"the kill did not happen where {point} says"
    assert_previous_set_intact(data_dir, version, hashes)
    assert list_versions(data_dir / "published") == versions_before


# The publish steps are killed through the publish layer itself (a whole run takes most of a minute to get
# there; `make soak` kills whole runs at both points too).
PUBLISH = """
import sys, duckdb
from tankerwatch.publish import switch_current, write_version
con = duckdb.connect()
con.execute("create table voyages as select range as voyage_id, 'set ' || ? as label from range(50000)", [sys.argv[2]])
con.execute("create table cap_tracker as select 2024 as year, ? as version", [sys.argv[2]])
switch_current(sys.argv[1], write_version(con, sys.argv[1], sys.argv[2], ["voyages", "cap_tracker"], {"run_id": "r"}))
"""


def publish(published: Path, version: str, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TANKERWATCH_FAULT"}
    if fault:
        env["TANKERWATCH_FAULT"] = fault
    command = [sys.executable, "-c", PUBLISH, str(published), version]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "point, leftover, versions_after",
    [
        ("publish.write", "versions/.tmp-v2-*", ["v1"]),  # the new set was never renamed into place
        ("publish.switch", ".current.*.tmp", ["v1", "v2"]),  # complete, but current never moved to it
    ],
)
def test_a_publish_killed_mid_way_leaves_the_previous_set_current_and_the_next_publish_works(
    tmp_path, point, leftover, versions_after
):
    published = tmp_path / "published"
    assert publish(published, "v1").returncode == 0
    hashes = content_hashes(published / "versions" / "v1")

    result = publish(published, "v2", fault=point)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert list(published.glob(leftover)), f"the kill did not happen where {point} says"
    assert current_version(published) == "v1" and list_versions(published) == versions_after
    assert version_problems(resolve_current(published)) == [] and content_hashes(resolve_current(published)) == hashes

    assert remove_interrupted(published) and not list(published.glob(leftover))
    assert publish(published, "v3").returncode == 0
    assert current_version(published) == "v3" and version_problems(published / "versions" / "v3") == []
    assert content_hashes(published / "versions" / "v1") == hashes


def test_after_the_kills_two_runs_at_once_both_complete_and_publish_identical_content(baseline):
    data_dir, version, hashes = baseline
    versions_before = list_versions(data_dir / "published")
    env = {k: v for k, v in os.environ.items() if k != "TANKERWATCH_FAULT"}  # the session's $DAGSTER_HOME
    command = [sys.executable, "-m", "orchestration.cli", "run", "--sources", str(DEMO_SOURCES_FILE),
               "--data-dir", str(data_dir), "--lock-wait", "600"]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=900) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    assert sum("is using" in err and "waiting up to 600 s" in err for _, err in outputs) == 1  # one waited
    assert not list(data_dir.glob("published/versions/.tmp-*")) and not list(data_dir.glob("landing/*/*/.*.part"))

    published = data_dir / "published"
    new = [v for v in list_versions(published) if v not in versions_before]
    assert len(new) == 2 and current_version(published) in new
    for name in list_versions(published):  # nothing lost: every version ever published is still whole
        assert version_problems(published / "versions" / name) == []
    # A full re-run on the same inputs publishes the same data (the manifest's run id and times differ).
    assert [content_hashes(published / "versions" / name) for name in new] == [hashes, hashes]
    assert version in list_versions(published)


def test_a_run_that_cannot_get_the_lock_in_time_gives_up_clearly_and_touches_nothing(tmp_path):
    data_dir = tmp_path / "data"
    with run_lock(data_dir, wait_s=0):
        started = time.monotonic()
        result = run_tankerwatch(DEMO_SOURCES_FILE, data_dir, lock_wait_s=1)
    assert result.returncode == EXIT_LOCKED
    assert f"another run (pid {os.getpid()}) holds the lock on {data_dir}" in result.stderr
    assert "gave up after waiting 1 s" in result.stderr and "nothing was run" in result.stderr
    assert time.monotonic() - started < 60
    assert sorted(p.name for p in data_dir.iterdir()) == [".tankerwatch-run.lock"]


def test_a_stale_source_warning_neither_fails_the_run_nor_hides_a_failed_gate():
    import dagster as dg

    from orchestration.cli import failed_and_warned

    def evaluation(name, passed, severity):
        return dg.AssetCheckEvaluation(asset_key=dg.AssetKey(name), check_name="c", passed=passed, severity=severity)

    stale = evaluation("raw_un_designations", False, dg.AssetCheckSeverity.WARN)
    gate = evaluation("stg_registry_vessels", False, dg.AssetCheckSeverity.ERROR)
    passed = evaluation("voyages", True, dg.AssetCheckSeverity.ERROR)
    assert failed_and_warned([stale, passed]) == ([stale], [])
    assert failed_and_warned([stale, gate, passed]) == ([stale], [gate])


def test_every_documented_fault_point_is_reached_somewhere_in_the_code():
    from tankerwatch.faults import POINTS

    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO_ROOT / "tankerwatch").rglob("*.py"))
    assert [point for point in POINTS if f'fault_point("{point}")' not in code] == []
