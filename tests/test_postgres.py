"""Dagster's run, event and schedule storage in PostgreSQL, as production runs it.

A real PostgreSQL server (Debian's `postgresql` package; `make test` installs it when missing) is started in a
temporary folder on a free port of 127.0.0.1, with password authentication. A $DAGSTER_HOME holding
deploy/dagster-postgres.yaml points the instance at it through the environment, `tankerwatch run` records its
run there, and the run, its asset materializations and its check evaluations are read back from PostgreSQL.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import psycopg2
import pytest
import yaml

from tankerwatch.publish import resolve_current
from tankerwatch.settings import REPO_ROOT

pytestmark = pytest.mark.slow

TRUTH = json.loads((REPO_ROOT / "demo" / "truth" / "summary.json").read_text())
INSTANCE_CONFIG = REPO_ROOT / "deploy" / "dagster-postgres.yaml"
PG_USER = "tankerwatch"
PG_DB = "dagster"
SERVER_USER = "postgres"  # the account Debian's package creates; the server refuses to run as root


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    assert found, "PostgreSQL's server binaries are missing: install Debian's postgresql package (make test does)"
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    port: int
    password: str

    def connect(self, db: str = PG_DB):
        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user=PG_USER, password=self.password, dbname=db, connect_timeout=10
        )

    def env(self) -> dict[str, str]:
        return {
            "DAGSTER_PG_USERNAME": PG_USER,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": PG_DB,
        }


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", SERVER_USER, "--", *cmd]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    bindir = postgres_bin()
    # Not under pytest's tmp folder: that is private to its owner, and the server runs as another user when
    # the tests run as root.
    root = Path(tempfile.mkdtemp(prefix="tankerwatch-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    password = os.urandom(12).hex()
    (root / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError:
            pytest.fail(f"running as root, and there is no '{SERVER_USER}' account to run PostgreSQL as (Debian's "
                        "postgresql package creates it)")
        for path in (root, sockets, root / "pwfile"):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = free_port()
    started = False
    try:
        subprocess.run(
            _as_server_user([
                str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, f"--pwfile={root / 'pwfile'}",
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--no-instructions",
            ]),
            check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        # A server thrown away after the test: no fsync, so the run's thousands of small event writes do not
        # each wait for the disk.
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sockets} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        start = subprocess.run(
            _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60",
                             "start"]),
            capture_output=True, text=True, timeout=90,
        )
        started = start.returncode == 0
        assert started, f"PostgreSQL did not start: {start.stderr}\n{log.read_text() if log.exists() else ''}"
        server = Server(port, password)
        con = server.connect("postgres")
        try:
            con.autocommit = True  # CREATE DATABASE runs outside a transaction
            with con.cursor() as cur:
                cur.execute(f"create database {PG_DB}")
        finally:
            con.close()
        yield server
    finally:
        if started:
            subprocess.run(
                _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True, timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def dagster_home(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(INSTANCE_CONFIG, folder / "dagster.yaml")
    return folder


def test_the_production_instance_keeps_dagster_yamls_concurrency_and_no_secret():
    production = yaml.safe_load(INSTANCE_CONFIG.read_text())
    local = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert production["concurrency"] == local["concurrency"]
    assert production["freshness"] == local["freshness"]
    connection = production["storage"]["postgres"]["postgres_db"]
    # Every connection setting is read from the environment when the instance opens.
    assert connection.pop("scheme") == "postgresql+psycopg2"
    assert set(connection) == {"username", "password", "hostname", "port", "db_name"}
    assert all(set(value) == {"env"} for value in connection.values())


@pytest.fixture(scope="module")
def recorded(postgres, tmp_path_factory) -> tuple[Path, Path]:
    """One `tankerwatch run` of the demo recorded in the PostgreSQL instance: ($DAGSTER_HOME, data directory)."""
    home = dagster_home(tmp_path_factory.mktemp("pg-run") / "dagster_home")
    data_dir = home.parent / "data"
    env = {**os.environ, **postgres.env(), "DAGSTER_HOME": str(home)}
    env.pop("TANKERWATCH_SOURCES", None)
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--data-dir", str(data_dir)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return home, data_dir


def test_the_cli_records_its_run_events_and_checks_in_postgresql(postgres, recorded):
    home, data_dir = recorded
    # The published set is the demo's answer.
    current = resolve_current(data_dir / "published")
    assert current is not None
    voyages = pl.read_parquet(current / "voyages.parquet")
    cap = pl.read_parquet(current / "cap_tracker.parquet").filter(pl.col("year") == 2024)
    assert (voyages.height, voyages["imo"].n_unique()) == (TRUTH["voyages"], TRUTH["tankers"]) == (43, 15)
    assert round(cap["delivered_bbl"][0]) == round(TRUTH["total_bbl"]) == 1_059_664
    assert str(cap["breach_date"][0]) == TRUTH["breach_date"] == "2024-07-11"

    # Nothing went to the SQLite databases a default instance keeps under $DAGSTER_HOME (only compute logs
    # are files there).
    assert sorted(p.name for p in home.rglob("*.db")) == []

    from orchestration.definitions import defs

    repo = defs.get_repository_def()
    asset_keys = {key.to_user_string() for key in repo.asset_graph.materializable_asset_keys}
    check_keys = {(key.asset_key.to_user_string(), key.name) for key in repo.asset_graph.asset_check_keys}

    with postgres.connect() as con, con.cursor() as cur:
        cur.execute("select run_id, pipeline_name, status from runs")
        runs = cur.fetchall()
        assert len(runs) == 1
        run_id, job_name, status = runs[0]
        assert (job_name, status) == ("tankerwatch_full", "SUCCESS")
        cur.execute(
            "select asset_key, partition from event_logs where run_id = %s and dagster_event_type = %s",
            (run_id, "ASSET_MATERIALIZATION"),
        )
        materialized = cur.fetchall()
        cur.execute(
            "select count(*) from event_logs where run_id = %s and dagster_event_type = %s",
            (run_id, "ASSET_CHECK_EVALUATION"),
        )
        (evaluation_count,) = cur.fetchone()
        cur.execute(
            "select asset_key, check_name, execution_status, evaluation_event is not null "
            "from asset_check_executions where run_id = %s",
            (run_id,),
        )
        executions = cur.fetchall()
    con.close()

    # Every asset of the graph was materialized in this run, the daily ones for the run's day.
    keys = {json.loads(key)[-1] for key, _ in materialized}
    assert keys == asset_keys
    day_partitioned = {json.loads(key)[-1] for key, partition in materialized if partition}
    assert day_partitioned and day_partitioned < asset_keys

    # Every check ran and passed, and its evaluation (with its metadata) is stored.
    assert evaluation_count == len(check_keys)
    assert {(json.loads(key)[-1], name) for key, name, _, _ in executions} == check_keys
    assert {(status, stored) for _, _, status, stored in executions} == {("SUCCEEDED", True)}


def test_the_instance_reads_the_run_back_from_postgresql(postgres, recorded, tmp_path):
    """What the UI and the daemon see: an instance opened from another $DAGSTER_HOME with the same settings, in
    another process, finds the run the CLI recorded."""
    home = dagster_home(tmp_path / "dagster_home")
    env = {**os.environ, **postgres.env(), "DAGSTER_HOME": str(home)}
    script = (
        "import json, dagster as dg\n"
        "instance = dg.DagsterInstance.get()\n"
        "runs = instance.get_runs()\n"
        "voyages = instance.get_latest_materialization_event(dg.AssetKey('voyages'))\n"
        "print(json.dumps({'run_storage': type(instance.run_storage).__name__,\n"
        "    'event_storage': type(instance.event_log_storage).__name__,\n"
        "    'schedule_storage': type(instance.schedule_storage).__name__,\n"
        "    'runs': [r.job_name for r in runs], 'statuses': [r.status.value for r in runs],\n"
        "    'voyages_run': voyages.run_id if voyages else None, 'run_ids': [r.run_id for r in runs],\n"
        "    'voyages_rows': voyages.asset_materialization.metadata['dagster/row_count'].value if voyages else None,\n"
        "}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert (seen["run_storage"], seen["event_storage"], seen["schedule_storage"]) == (
        "PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"
    )
    assert seen["runs"] == ["tankerwatch_full"] and seen["statuses"] == ["SUCCESS"]
    assert seen["voyages_run"] == seen["run_ids"][0]
    assert seen["voyages_rows"] == TRUTH["voyages"]
