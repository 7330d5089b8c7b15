"""Tests for tankerwatch.publish: immutable parquet versions, manifests and the atomic `current` switch."""

from __future__ import annotations

import json
import os
import threading
import time

import duckdb
import pyarrow as pa
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


# --- retention --------------------------------------------------------------------------------------


def publish_and_prune(published, version_id, voyages, keep):
    version = publish_version(published, version_id, voyages)
    previous = publish.switch_current(published, version)
    return previous, publish.prune_versions(published, keep, previous=previous)


def test_retention_keeps_exactly_the_newest_n(published):
    removed = []
    for i in range(7):
        previous, gone = publish_and_prune(published, f"2024-11-0{i + 1}T000000Z", i + 1, keep=3)
        removed += gone
        assert len(publish.list_versions(published)) == min(i + 1, 3)
    assert publish.list_versions(published) == ["2024-11-05T000000Z", "2024-11-06T000000Z", "2024-11-07T000000Z"]
    assert removed == [f"2024-11-0{i}T000000Z" for i in range(1, 5)]
    assert publish.current_version(published) == "2024-11-07T000000Z"
    assert sorted(os.listdir(published / "versions")) == publish.list_versions(published)  # nothing half-deleted


def test_retention_never_deletes_current_or_previous_however_old(published):
    versions = [publish_version(published, f"v{i}", i + 1) for i in range(6)]
    publish.switch_current(published, versions[1])
    previous = publish.switch_current(published, versions[0])  # rolled back to the oldest
    assert previous == "v1"
    assert publish.prune_versions(published, 2, previous=previous) == ["v2", "v3", "v4", "v5"]
    assert publish.list_versions(published) == ["v0", "v1"]
    assert publish.current_version(published) == "v0"
    assert pq.read_table(published / "current" / "voyages.parquet").num_rows == 1

    # With room for more, the newest others fill it.
    for i in range(2, 6):
        publish_version(published, f"v{i}", 1)
    assert publish.prune_versions(published, 4, previous="v1") == ["v2", "v3"]
    assert publish.list_versions(published) == ["v0", "v1", "v4", "v5"]


def test_retention_leaves_unfinished_and_foreign_directories(published):
    publish_and_prune(published, "v1", 1, keep=2)
    versions_dir = published / "versions"
    unfinished = versions_dir / ".tmp-v9-abc123"
    unfinished.mkdir()
    (unfinished / "voyages.parquet").write_bytes(b"half")
    no_manifest = versions_dir / "v0-incomplete"
    no_manifest.mkdir()
    for i in range(2, 6):
        publish_and_prune(published, f"v{i}", 1, keep=2)
    assert publish.list_versions(published) == ["v4", "v5"]
    assert unfinished.is_dir() and (unfinished / "voyages.parquet").read_bytes() == b"half"
    assert no_manifest.is_dir()


def test_retention_refuses_to_keep_fewer_than_two_and_needs_a_current(published, monkeypatch):
    publish_version(published, "v1", 1)
    with pytest.raises(RuntimeError, match="nothing is published"):
        publish.prune_versions(published, 3)
    for keep in (0, 1):
        with pytest.raises(ValueError, match="at least 2"):
            publish.prune_versions(published, keep)
    assert publish.list_versions(published) == ["v1"]

    monkeypatch.delenv(publish.KEEP_VERSIONS_ENV, raising=False)
    assert publish.keep_versions_setting() == 10
    monkeypatch.setenv(publish.KEEP_VERSIONS_ENV, "4")
    assert publish.keep_versions_setting() == 4
    assert publish.keep_versions_setting(6) == 6  # the resource setting wins over the environment
    for bad, message in (("1", "at least 2"), ("ten", "whole number")):
        monkeypatch.setenv(publish.KEEP_VERSIONS_ENV, bad)
        with pytest.raises(ValueError, match=message):
            publish.keep_versions_setting()


def test_remove_interrupted_clears_a_prune_cut_short(published):
    publish_and_prune(published, "v1", 1, keep=2)
    stale = published / "versions" / ".pruning-v0-0123456789ab"
    (stale / "sub").mkdir(parents=True)
    assert publish.remove_interrupted(published) == ["versions/.pruning-v0-0123456789ab"]
    assert publish.list_versions(published) == ["v1"]


def test_consumer_reads_complete_sets_while_versions_are_published_and_pruned(published):
    publish_and_prune(published, "v000", 1, keep=2)
    stop = threading.Event()
    stats = {"reads": 0, "errors": [], "mixed": 0, "versions_seen": set()}

    def consume():
        # The documented consumer: resolve `current` once, open every file, then read.
        while not stop.is_set():
            try:
                resolved = publish.resolve_current(published)
                with open(resolved / "manifest.json", "rb") as m, open(resolved / "voyages.parquet", "rb") as v, \
                        open(resolved / "cap_tracker.parquet", "rb") as c:
                    manifest = json.loads(m.read())
                    voyages = pq.read_table(v)
                    cap = pq.read_table(c)
            except Exception as exc:  # any failure is a broken contract
                stats["errors"].append(repr(exc))
                continue
            stats["reads"] += 1
            stats["versions_seen"].add(manifest["run_id"])
            run = manifest["run_id"]
            consistent = (
                set(voyages.column("run").to_pylist()) == {run}
                and cap.column("run").to_pylist() == [run]
                and voyages.num_rows == manifest["row_counts"]["voyages"] == cap.column("voyages")[0].as_py()
            )
            if not consistent:
                stats["mixed"] += 1

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    try:
        for i in range(1, 31):
            # A consumer that resolved `current` a moment before this publish can still read its set.
            held = publish.resolve_current(published)
            publish_and_prune(published, f"v{i:03d}", i + 1, keep=2)
            held_run = json.loads((held / "manifest.json").read_text())["run_id"]
            assert pq.read_table(held / "cap_tracker.parquet").column("run").to_pylist() == [held_run]
            assert time.monotonic() < deadline, "publishing took too long"
    finally:
        stop.set()
        reader.join(timeout=10)

    assert not reader.is_alive()
    assert stats["errors"] == [] and stats["mixed"] == 0
    assert stats["reads"] > 30 and len(stats["versions_seen"]) > 5
    assert publish.list_versions(published) == ["v029", "v030"]
    assert not [p for p in os.listdir(published / "versions") if p.startswith(".")]


# -- a file that describes itself ------------------------------------------------------------------


def test_each_file_names_its_dataset_version_run_and_schema_version_for_pyarrow_alone(published):
    from tankerwatch.contracts import PUBLISHED_SCHEMA_VERSION, discover_contracts

    version = publish_version(published, "20241101T000000Z-abc", 4)
    manifest = json.loads((version / "manifest.json").read_text())
    contract = discover_contracts()["voyages"]
    schema = pq.read_schema(version / "voyages.parquet")
    meta = schema.metadata
    assert meta[b"dataset"] == b"voyages"
    assert meta[b"version_id"].decode() == version.name == manifest["version"]
    assert meta[b"run_id"].decode() == manifest["run_id"] == "20241101T000000Z-abc"
    assert meta[b"schema_version"] == str(PUBLISHED_SCHEMA_VERSION).encode()
    assert meta[b"description"].decode() == contract.description
    assert meta[b"grain"].decode() == "one row per voyage (voyage_id)"
    assert meta[b"key_columns"] == b"voyage_id"
    # the key is required in the parquet schema; the rest may be null
    assert [(f.name, f.nullable) for f in schema] == [
        ("voyage_id", False), ("run", True), ("load_fraction", True), ("load_arrival_at", True)
    ]
    assert pq.ParquetFile(version / "voyages.parquet").schema.column(0).max_definition_level == 0
    described = contract.column("load_fraction").description.encode()
    assert schema.field("load_fraction").metadata[b"description"] == described
    assert schema.field("run").metadata is None  # not a column of the contract: nothing invented
    cap = pq.read_schema(version / "cap_tracker.parquet")
    assert cap.metadata[b"dataset"] == b"cap_tracker" and cap.field("year").nullable is False
    assert pq.read_table(version / "voyages.parquet").column("voyage_id").to_pylist() == ["V0", "V1", "V2", "V3"]


def test_a_null_key_is_refused_naming_the_file_and_nothing_is_published(published):
    con = make_db("v1", 3)
    con.execute("update marts.voyages set voyage_id = null where voyage_id = 'V1'")
    with pytest.raises(ValueError, match="voyages.parquet: key column voyage_id holds nulls"):
        publish.write_version(con, published, "v1", TABLES, manifest={"run_id": "r1"})
    assert publish.list_versions(published) == [] and not list((published / "versions").iterdir())


def test_a_large_table_is_written_in_row_groups_with_its_metadata(published):
    con = make_db("big", 300_000)
    version = publish.write_version(con, published, "big", TABLES, manifest={"run_id": "run-big"})
    parquet = pq.ParquetFile(version / "voyages.parquet")
    assert parquet.metadata.num_rows == 300_000 and parquet.metadata.num_row_groups >= 2
    assert parquet.schema_arrow.metadata[b"run_id"] == b"run-big"
    assert parquet.schema_arrow.field("load_arrival_at").type == pa.timestamp("us", tz="UTC")
    assert pq.read_table(version / "voyages.parquet").column("voyage_id")[299_999].as_py() == "V299999"


@pytest.mark.slow
def test_the_demos_published_files_tell_a_consumer_their_meaning(demo_published):
    """Read with pyarrow only, as a consumer without tankerwatch would."""
    from tankerwatch.contracts import PUBLISHED_SCHEMA_VERSION, discover_contracts

    manifest = json.loads((demo_published / "manifest.json").read_text())
    contracts = discover_contracts()
    for table in manifest["tables"]:
        schema = pq.read_schema(demo_published / f"{table}.parquet")
        meta = {k.decode(): v.decode() for k, v in schema.metadata.items() if k != b"ARROW:schema"}
        assert meta["dataset"] == table
        assert meta["version_id"] == demo_published.name
        assert meta["run_id"] == manifest["run_id"] and len(manifest["run_id"]) == 36
        assert meta["schema_version"] == str(PUBLISHED_SCHEMA_VERSION)
        assert meta["description"] == contracts[table].description
        assert all(f.metadata[b"description"] for f in schema), table
        assert [f.name for f in schema if not f.nullable] == list(contracts[table].key_columns), table
    keys = {t: pq.read_schema(demo_published / f"{t}.parquet").metadata[b"key_columns"] for t in manifest["tables"]}
    assert keys["voyages"] == b"voyage_id" and keys["cap_tracker"] == b"year" and keys["rejects"] == b""

    voyages = pq.read_table(demo_published / "voyages.parquet")
    cap = pq.read_table(demo_published / "cap_tracker.parquet").to_pylist()
    for column in ("capacity_bbl", "volume_bbl", "volume_bbl_low", "volume_bbl_high"):
        assert voyages.schema.field(column).type == pa.int64(), column
    # a consumer summing the voyages gets the cap tracker's numbers, to the barrel
    counted = voyages.filter(voyages.column("counts_toward_cap"))
    for suffix in ("", "_low", "_high"):
        assert sum(counted.column(f"volume_bbl{suffix}").to_pylist()) == cap[0][f"delivered_bbl{suffix}"]
    assert cap[0]["delivered_bbl"] == 1_059_664 and cap[0]["cap_bbl"] == 500_000
