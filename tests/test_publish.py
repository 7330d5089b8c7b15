"""Tests for tankerwatch.publish: immutable parquet versions, manifests and the atomic `current` switch."""

from __future__ import annotations

import json
import os
import threading
import time

import duckdb
import pyarrow.parquet as pq
import pytest

from tankerwatch import publish

TABLES = ["marts.voyages", "cap_tracker"]


def make_db(run: str, voyages: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.voyages as
        select 'V' || range as voyage_id, ? as run, 0.9::double as load_fraction,
               timestamptz '2024-03-01 00:00:00+00' + to_hours(range) as load_arrival_at
        from range(?)
        """,
        [run, voyages],
    ).fetchall()
    con.execute(
        "create table cap_tracker as select 2024 as year, ? as run, ?::bigint as voyages", [run, voyages]
    ).fetchall()
    return con


def publish_version(published, version_id, voyages, **manifest):
    con = make_db(version_id, voyages)
    return publish.write_version(
        con, published, version_id, TABLES, manifest={"run_id": version_id, **manifest}
    )


@pytest.fixture
def published(tmp_path):
    return tmp_path / "data" / "published"


def test_two_versions_switch_and_keep_the_first(published):
    first = publish_version(published, "2024-11-01T000000Z", 3)
    assert publish.switch_current(published, first) is None
    second = publish_version(published, "2024-11-02T000000Z", 5)
    assert publish.switch_current(published, second) == "2024-11-01T000000Z"

    assert publish.current_version(published) == "2024-11-02T000000Z"
    current = published / "current"
    assert current.is_symlink() and os.readlink(current) == "versions/2024-11-02T000000Z"
    assert publish.resolve_current(published) == second
    assert pq.read_table(current / "voyages.parquet").num_rows == 5
    assert json.loads((current / "manifest.json").read_text())["run_id"] == "2024-11-02T000000Z"

    assert first.is_dir()
    assert pq.read_table(first / "voyages.parquet").column("run").to_pylist() == ["2024-11-01T000000Z"] * 3
    assert publish.list_versions(published) == ["2024-11-01T000000Z", "2024-11-02T000000Z"]

    # Switching back is a plain switch too.
    publish.switch_current(published, first)
    assert publish.current_version(published) == "2024-11-01T000000Z"


def test_failed_write_leaves_nothing_under_final_name_and_current_untouched(published):
    good = publish_version(published, "v1", 3)
    publish.switch_current(published, good)

    con = make_db("v2", 4)
    with pytest.raises(duckdb.CatalogException):
        publish.write_version(con, published, "v2", ["marts.voyages", "vessels"])

    assert not (published / "versions" / "v2").exists()
    assert sorted(os.listdir(published / "versions")) == ["v1"]  # no temporary leftovers
    assert publish.current_version(published) == "v1"
    assert publish.list_versions(published) == ["v1"]
    # The connection is usable afterwards (transaction rolled back, nothing pending).
    assert con.execute("select count(*) from marts.voyages").fetchall() == [(4,)]


def test_manifest_has_row_counts_schema_and_files(published):
    version = publish_version(published, "v1", 7, checks=[{"suite": "voyages_marts", "success": True}])
    manifest = json.loads((version / "manifest.json").read_text())

    assert manifest["run_id"] == "v1" and manifest["version"] == "v1"
    assert manifest["checks"] == [{"suite": "voyages_marts", "success": True}]
    assert manifest["row_counts"] == {"voyages": 7, "cap_tracker": 1}
    assert manifest["schema"]["voyages"] == {
        "voyage_id": "string",
        "run": "string",
        "load_fraction": "double",
        "load_arrival_at": "timestamp[us, tz=UTC]",
    }
    assert manifest["schema"]["cap_tracker"]["voyages"] == "int64"
    assert manifest["files"]["voyages"]["file"] == "voyages.parquet"
    assert len(manifest["files"]["voyages"]["sha256"]) == 64
    assert not [p for p in os.listdir(version) if p.startswith(".")]


def test_write_manifest_keeps_caller_values_and_checks_row_counts(published):
    con = make_db("v1", 2)
    version = publish.write_version(con, published, "v1", TABLES)
    assert not (version / "manifest.json").exists()
    with pytest.raises(ValueError, match="switch|manifest"):
        publish.switch_current(published, version)  # no manifest yet: incomplete

    custom_schema = {"voyages": {"voyage_id": "VARCHAR"}}
    publish.write_manifest(version, {"run_id": "r", "schema": custom_schema})
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["schema"] == custom_schema
    assert manifest["row_counts"] == {"voyages": 2, "cap_tracker": 1}

    with pytest.raises(ValueError, match="row counts"):
        publish.write_manifest(version, {"row_counts": {"voyages": 3, "cap_tracker": 1}})
    # The failed rewrite left the earlier manifest in place.
    assert json.loads((version / "manifest.json").read_text()) == manifest

    with pytest.raises(TypeError):
        publish.write_manifest(version, {"bad": object()})
    assert json.loads((version / "manifest.json").read_text()) == manifest
    assert sorted(os.listdir(version)) == ["cap_tracker.parquet", "manifest.json", "voyages.parquet"]


def test_refuses_bad_ids_existing_versions_and_foreign_dirs(published, tmp_path):
    con = make_db("x", 1)
    for bad in ["", "../evil", "a/b", ".", "..", ".tmp-x", "v 1", "v'1"]:
        with pytest.raises(ValueError, match="version id"):
            publish.write_version(con, published, bad, TABLES)
    with pytest.raises(ValueError, match="table"):
        publish.write_version(con, published, "v1", ["voyages; drop table x"])
    with pytest.raises(ValueError, match="same file"):
        publish.write_version(con, published, "v1", ["marts.voyages", "main.voyages"])

    version = publish_version(published, "v1", 1)
    with pytest.raises(FileExistsError):
        publish.write_version(con, published, "v1", TABLES)

    stray = tmp_path / "elsewhere" / "v1"
    stray.mkdir(parents=True)
    with pytest.raises(ValueError, match="not a version"):
        publish.switch_current(published, stray)
    assert publish.current_version(published) is None
    publish.switch_current(published, version)


def test_paths_with_quotes_are_written_safely(tmp_path):
    published = tmp_path / "it's published"
    version = publish_version(published, "v1", 2)
    assert pq.read_table(version / "voyages.parquet").num_rows == 2


def test_uses_callers_transaction_when_one_is_open(published):
    con = make_db("v1", 2)
    con.execute("begin transaction").fetchall()
    con.execute("insert into cap_tracker values (2025, 'v1', 0)").fetchall()
    version = publish.write_version(con, published, "v1", TABLES, manifest={})
    assert json.loads((version / "manifest.json").read_text())["row_counts"]["cap_tracker"] == 2
    con.execute("commit").fetchall()


def test_switch_is_atomic_for_readers(published):
    versions = [publish_version(published, f"v{i}", i + 1) for i in range(2)]
    publish.switch_current(published, versions[0])
    marker = published / "current" / "manifest.json"

    stop = threading.Event()
    stats = {"checks": 0, "missing": 0, "reads": 0, "mixed": 0, "errors": 0}

    def watch_exists():
        while not stop.is_set():
            stats["checks"] += 1
            if not os.path.exists(marker):
                stats["missing"] += 1

    def read_sets():
        # A consumer that resolves `current` once reads one consistent set.
        while not stop.is_set():
            try:
                resolved = publish.resolve_current(published)
                run = json.loads((resolved / "manifest.json").read_text())["run_id"]
                cap = pq.read_table(resolved / "cap_tracker.parquet").column("run").to_pylist()
            except Exception:
                stats["errors"] += 1
                continue
            stats["reads"] += 1
            if cap != [run]:
                stats["mixed"] += 1

    readers = [threading.Thread(target=f, daemon=True) for f in (watch_exists, read_sets)]
    for thread in readers:
        thread.start()
    deadline = time.monotonic() + 30
    try:
        for i in range(200):
            publish.switch_current(published, versions[(i + 1) % 2])
            time.sleep(0.0005)  # let the readers interleave with every switch
            assert time.monotonic() < deadline, "switching took too long"
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=10)

    assert not any(thread.is_alive() for thread in readers)
    assert stats["checks"] > 200 and stats["reads"] > 0
    assert (stats["missing"], stats["errors"], stats["mixed"]) == (0, 0, 0)
    assert publish.current_version(published) == "v0"
    assert not [p for p in os.listdir(published) if p.startswith(".")]


def test_nothing_published_yet(published):
    assert publish.current_version(published) is None
    assert publish.resolve_current(published) is None
    assert publish.list_versions(published) == []
