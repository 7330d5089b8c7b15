"""The soak's integrity checks find what they must: a changed byte, a lost version, changed content, a broken
warehouse; and `make soak` exits non-zero when any is found. (The soak itself is `make soak`, not part of CI.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tankerwatch import soak
from tankerwatch.publish import switch_current, write_version

pytestmark = pytest.mark.slow


def publish(published: Path, version: str, label: str = "a") -> Path:
    con = duckdb.connect()
    con.execute("create table voyages as select range as voyage_id, ? as label from range(100)", [label])
    con.execute("create table cap_tracker as select 2024 as year, 1000.5 as delivered_bbl")
    target = write_version(con, published, version, ["voyages", "cap_tracker"], {"run_id": version})
    switch_current(published, target)
    return target


@pytest.fixture
def data_dir(tmp_path):
    data = tmp_path / "data"
    publish(data / "published", "v1")
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        con.execute("create table t as select 1 as x")
    return data


def test_an_intact_data_dir_has_no_problems_and_equal_inputs_give_equal_hashes(data_dir):
    intact: dict[str, dict[str, str]] = {}
    assert soak._check_after_run("run 1", data_dir, intact) == []
    assert list(intact) == ["v1"]
    publish(data_dir / "published", "v2")  # another run, the same rows in another file
    assert soak._check_after_run("run 2", data_dir, intact) == []
    assert intact["v1"] == intact["v2"]
    assert soak.content_hashes(publish(data_dir / "published", "v3", label="b")) != intact["v1"]


def test_a_changed_byte_a_lost_version_changed_content_and_a_broken_warehouse_are_each_found(data_dir):
    intact: dict[str, dict[str, str]] = {}
    soak._check_after_run("run 1", data_dir, intact)
    v1 = data_dir / "published" / "versions" / "v1"

    parquet = v1 / "voyages.parquet"
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    parquet.write_bytes(bytes(data))
    problems = soak._check_after_run("run 2", data_dir, {})
    assert any("voyages.parquet" in p and ("sha256 differs" in p or "unreadable" in p) for p in problems)

    publish(data_dir / "published", "v2", label="changed")
    shutil.rmtree(v1)
    (data_dir / "warehouse.duckdb").write_bytes(b"not a database" * 100)
    problems = soak._check_after_run("run 3", data_dir, {**intact, "v2": intact["v1"]})
    assert "v1: lost after run 3" in problems
    assert "v2: changed after run 3" in problems
    assert any("does not open" in p for p in problems)


def test_the_report_says_nothing_was_lost_only_when_nothing_was():
    report = soak.SoakReport(runs=3, completed=2, killed=1, published=["v1", "v2"], verified=2)
    report.faults["kill:model"] = 1
    assert report.table().splitlines()[-1].split() == ["verdict", "nothing", "lost", "or", "corrupted"]
    assert "kill:model" in report.table()
    report.problems.append("v1: lost after run 3")
    assert report.table().splitlines()[-1].split() == ["verdict", "1", "PROBLEM(S)"]


def test_soak_exits_non_zero_when_a_problem_was_found(monkeypatch, capsys):
    found = soak.SoakReport(runs=1, completed=1, problems=["v1: changed after run 1"])
    monkeypatch.setattr(soak, "soak", lambda *args: found)
    assert soak.main(["--runs", "1"]) == 1
    assert "PROBLEM: v1: changed after run 1" in capsys.readouterr().err
    monkeypatch.setattr(soak, "soak", lambda *args: soak.SoakReport(runs=1, completed=1))
    assert soak.main(["--runs", "1"]) == 0
