"""`make soak`: run the pipeline many times in a row with random faults, then prove nothing was lost or corrupted.

Each run is a real `tankerwatch run` subprocess on one data directory. Before a run, at most one
fault is drawn at random:

* a kill (SIGKILL through ``TANKERWATCH_FAULT``) while landing, inside a model's transaction,
  while a version is written, or at the switch of ``current``;
* a publisher fault on the UN list, which the soak serves itself on 127.0.0.1 (loopback only) with
  ``on_fetch_error: reuse_last_good``: down (503), garbage (an HTML page), or slow (no answer
  within the read timeout).

After every run the soak checks: ``current`` is a complete version whose files match its manifest;
every version published so far is still there, unchanged; the warehouse opens; a run without a kill
finished and published; and, as the inputs never change, every published set has the same content.
It prints a table and exits non-zero when anything was lost or corrupted.

    python -m tankerwatch.soak [--runs 8] [--max-minutes 5] [--fault-rate 0.6] [--seed 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import polars as pl

from tankerwatch.faults import FAULT_ENV
from tankerwatch.models import discover_models
from tankerwatch.publish import MANIFEST_NAME, VERSIONS_NAME, list_versions, resolve_current
from tankerwatch.settings import DEMO_DIR

KILL_FAULTS = ("kill:landing", "kill:model", "kill:publish.write", "kill:publish.switch")
SOURCE_FAULTS = ("source:down", "source:garbage", "source:slow")
FAULTS = KILL_FAULTS + SOURCE_FAULTS
SERVED_SOURCE = "un_consolidated"
_READ_TIMEOUT_S = 2.0


# -- integrity: shared with the fault tests ---------------------------------------------------------


def version_problems(version_dir: Path) -> list[str]:
    """What is wrong with a published version: a missing or unreadable file, or one whose hash or rows
    disagree with manifest.json. An empty list means the version is complete and intact."""
    version_dir = Path(version_dir)
    try:
        manifest = json.loads((version_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{version_dir.name}: manifest unreadable: {exc}"]
    files = manifest.get("files") or {}
    problems = [] if files else [f"{version_dir.name}: the manifest lists no files"]
    for table, entry in sorted(files.items()):
        path = version_dir / entry["file"]
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            rows = pl.read_parquet(path).height if path.suffix == ".parquet" else None
        except Exception as exc:  # noqa: BLE001 - any failure to read a published file is the finding
            problems.append(f"{version_dir.name}/{entry['file']}: unreadable: {exc}")
            continue
        if digest != entry["sha256"]:
            problems.append(f"{version_dir.name}/{entry['file']}: sha256 differs from the manifest")
        expected = manifest.get("row_counts", {}).get(table)
        if rows is not None and expected is not None and rows != expected:
            problems.append(f"{version_dir.name}/{entry['file']}: {rows} rows, the manifest says {expected}")
    return problems


def content_hashes(version_dir: Path) -> dict[str, str]:
    """sha256 of each published table's rows, independent of row order and of the parquet encoding.

    Run ids and times live only in the manifest, so two runs on the same inputs must give equal hashes.
    """
    hashes = {}
    for path in sorted(Path(version_dir).glob("*.parquet")):
        frame = pl.read_parquet(path)
        lines = sorted(frame.write_ndjson().splitlines()) if frame.height else []
        schema = json.dumps({name: str(dtype) for name, dtype in frame.schema.items()})
        hashes[path.stem] = hashlib.sha256("\n".join([schema, *lines]).encode("utf-8")).hexdigest()
    return hashes


def warehouse_problem(warehouse: Path) -> str | None:
    """None when the warehouse opens (replaying its WAL) and answers a query; else what went wrong."""
    if not Path(warehouse).exists():
        return None
    try:
        con = duckdb.connect(str(warehouse))
        try:
            con.execute("select count(*) from information_schema.tables").fetchall()
        finally:
            con.close()
    except duckdb.Error as exc:
        return f"warehouse {warehouse} does not open: {exc}"
    return None


def run_tankerwatch(
    sources: Path, data_dir: Path, *, fault: str | None = None, timeout_s: float = 900, lock_wait_s: float = 600
) -> subprocess.CompletedProcess:
    """`tankerwatch run` as a subprocess, with ``TANKERWATCH_FAULT`` set to ``fault`` (a point name)."""
    # Its own Dagster instance beside the data directory: the soak's killed runs are not the operator's to see.
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    env["DAGSTER_HOME"] = str(data_dir.parent / "dagster_home")
    if fault:
        env[FAULT_ENV] = fault
    command = [sys.executable, "-m", "orchestration.cli", "run", "--sources", str(sources), "--data-dir", str(data_dir),
               "--lock-wait", str(lock_wait_s)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)


# -- the publisher the soak controls ------------------------------------------------------------------


class _Publisher:
    """Serves a folder on 127.0.0.1; ``mode`` makes it answer normally, 503, an HTML page, or nothing in time."""

    def __init__(self, folder: Path) -> None:
        self.mode = "ok"
        publisher = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
                pass

            def do_GET(self):
                if publisher.mode == "down":
                    self.send_error(503, "Service Unavailable")
                elif publisher.mode == "garbage":
                    body = b"<!DOCTYPE html><html><body>Maintenance</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif publisher.mode == "slow":
                    # Nothing within the read timeout; then the connection just closes.
                    time.sleep(_READ_TIMEOUT_S * 2)
                else:
                    super().do_GET()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _soak_sources(folder: Path, base_url: str) -> Path:
    """The demo's sources, with the UN list fetched over loopback HTTP so the soak can fail it."""
    shutil.copytree(DEMO_DIR, folder / "demo")
    shutil.copy(DEMO_DIR / "sanctions" / "un_consolidated_dprk_20260227.xml", folder / "served" / "un.xml")
    text = (DEMO_DIR / "sources.yaml").read_text(encoding="utf-8")
    local_url = "url: sanctions/un_consolidated_dprk_20260227.xml"
    if local_url not in text:
        raise SystemExit("soak: demo/sources.yaml no longer names the UN list as expected")
    text = text.replace(
        local_url,
        f"url: {base_url}/un.xml\n    on_fetch_error: reuse_last_good\n    retries: 1\n"
        f"    read_timeout_s: {_READ_TIMEOUT_S}\n    connect_timeout_s: 2",
    )
    sources = folder / "demo" / "soak-sources.yaml"
    sources.write_text(text, encoding="utf-8")
    return sources


# -- the soak ----------------------------------------------------------------------------------------


@dataclass
class SoakReport:
    runs: int = 0
    completed: int = 0
    failed: int = 0
    killed: int = 0
    faults: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    verified: int = 0
    seconds: float = 0.0

    def table(self) -> str:
        rows = [
            ("runs", self.runs),
            ("  completed and published", self.completed),
            ("  killed by an injected fault", self.killed),
            ("  failed (exit 1)", self.failed),
            ("faults injected", sum(self.faults.values())),
            *((f"  {name}", self.faults[name]) for name in FAULTS),
            ("published versions", len(self.published)),
            ("versions verified intact", self.verified),
            ("seconds", f"{self.seconds:.0f}"),
            ("verdict", "nothing lost or corrupted" if not self.problems else f"{len(self.problems)} PROBLEM(S)"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def soak(runs: int, max_seconds: float, fault_rate: float, seed: int, workdir: Path) -> SoakReport:
    rng = random.Random(seed)
    report = SoakReport()
    started = time.monotonic()
    (workdir / "served").mkdir()
    publisher = _Publisher(workdir / "served")
    try:
        sources = _soak_sources(workdir, publisher.base_url)
        data_dir = workdir / "data"
        published = data_dir / "published"
        reference: dict[str, str] | None = None
        intact: dict[str, dict[str, str]] = {}  # version -> content hashes, as first verified
        for number in range(1, runs + 1):
            if time.monotonic() - started > max_seconds:
                break
            # The first run is clean: a reused last good snapshot needs one to exist.
            fault = rng.choice(FAULTS) if number > 1 and rng.random() < fault_rate else None
            before = resolve_current(published)
            publisher.mode = fault.split(":")[1] if fault in SOURCE_FAULTS else "ok"
            kill_point = fault.split(":", 1)[1] if fault in KILL_FAULTS else None
            if kill_point == "model":
                kill_point = f"model:{rng.randint(1, len(discover_models()))}"
            result = run_tankerwatch(sources, data_dir, fault=kill_point)
            report.runs += 1
            if fault:
                report.faults[fault] += 1
            after = resolve_current(published)
            label = f"run {number} ({fault or 'no fault'})"
            if result.returncode == -signal.SIGKILL:
                report.killed += 1
                if after != before:
                    report.problems.append(f"{label}: current moved from {before} to {after} in a killed run")
            elif result.returncode == 0:
                report.completed += 1
                if kill_point:
                    # Not data loss, but the soak would be testing less than it says: the point is gone.
                    report.problems.append(f"{label}: the run was never killed: no code reaches {kill_point}")
                if after is None or after == before:
                    report.problems.append(f"{label}: exit 0 but no new version became current")
            else:
                report.failed += 1
                report.problems.append(f"{label}: exit {result.returncode}: {result.stderr.strip()[-500:]}")
                if after != before:
                    report.problems.append(f"{label}: a failed run moved current from {before} to {after}")
            report.problems += _check_after_run(label, data_dir, intact)
            current = resolve_current(published)
            if current is not None:
                hashes = intact.get(current.name) or content_hashes(current)
                if reference is None:
                    reference = hashes
                elif hashes != reference:
                    changed = sorted(t for t in set(hashes) | set(reference) if hashes.get(t) != reference.get(t))
                    report.problems.append(f"{label}: {current.name} differs in content from the first set: {changed}")
            print(f"soak: {label}: exit {result.returncode}, current {current.name if current else None}", flush=True)
        report.published = list_versions(published)
        report.verified = len(intact)
    finally:
        publisher.close()
        report.seconds = time.monotonic() - started
    return report


def _check_after_run(label: str, data_dir: Path, intact: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    published = data_dir / "published"
    current = resolve_current(published)
    if current is not None:
        problems += [f"{label}: current: {p}" for p in version_problems(current)]
    versions = set(list_versions(published))
    for version, hashes in intact.items():
        if version not in versions:
            problems.append(f"{version}: lost after {label}")
        elif content_hashes(published / VERSIONS_NAME / version) != hashes:
            problems.append(f"{version}: changed after {label}")
    for version in sorted(versions - set(intact)):
        found = version_problems(published / VERSIONS_NAME / version)
        problems += [f"{version}: {p}" for p in found]
        if not found:
            intact[version] = content_hashes(published / VERSIONS_NAME / version)
    if (problem := warehouse_problem(data_dir / "warehouse.duckdb")) is not None:
        problems.append(f"{label}: {problem}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tankerwatch.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8, help="at most this many runs (default 8)")
    parser.add_argument("--max-minutes", type=float, default=5.0, help="start no run after this long (default 5)")
    parser.add_argument("--fault-rate", type=float, default=0.6, help="chance of a fault in each run after the first")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault draw (default: random, printed)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.runs < 1 or not 0 <= args.fault_rate <= 1:
        parser.error("--runs must be at least 1 and --fault-rate between 0 and 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    print(f"soak: seed {seed}, up to {args.runs} runs or {args.max_minutes:g} minutes, fault rate {args.fault_rate:g}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        if any(args.keep.iterdir()):
            parser.error(f"--keep {args.keep} must be an empty folder")
        report = soak(args.runs, args.max_minutes * 60, args.fault_rate, seed, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="tankerwatch-soak-") as tmp:
            report = soak(args.runs, args.max_minutes * 60, args.fault_rate, seed, Path(tmp))
    print(report.table())
    for problem in report.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
