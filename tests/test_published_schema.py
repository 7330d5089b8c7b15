"""The published schema file and its blocking check: a published column changes only on purpose."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assets.checks
from orchestration.cli import main
from tankerwatch import published_schema as ps
from tankerwatch.gates import validate_frame
from tankerwatch.publish import current_version, list_versions, resolve_current
from tankerwatch.publish_set import PUBLISHED_TABLES
from tankerwatch.settings import EXPECTATIONS_DIR

SUITE = EXPECTATIONS_DIR / "publish_schema.json"

EVIDENCE = pa.list_(pa.string())
STATE = pa.struct([("state", pa.string()), ("at", pa.timestamp("us", tz="UTC")), ("fraction", pa.float64())])


def voyages_table(**overrides) -> pa.Table:
    columns = {
        "voyage_id": pa.array(["V1"], pa.string()),
        "volume_bbl": pa.array([1.5], pa.float64()),
        "evidence_ids": pa.array([["imagery_log:IMG1"]], EVIDENCE),
        "state_before": pa.array([{"state": "laden", "at": None, "fraction": 0.9}], STATE),
    }
    columns.update(overrides)
    return pa.table({k: v for k, v in columns.items() if v is not None})


def write_set(directory, voyages: pa.Table | None, cap: bool = True):
    directory.mkdir(parents=True, exist_ok=True)
    if voyages is not None:
        pq.write_table(voyages, directory / "voyages.parquet")
    if cap:
        pq.write_table(pa.table({"year": pa.array([2024], pa.int32()), "cap_bbl": [500_000.0]}), directory / "cap_tracker.parquet")
    return directory


@pytest.fixture
def schema_file(tmp_path):
    reference = write_set(tmp_path / "reference", voyages_table())
    return ps.write_schema(ps.read_version_schema(reference), tmp_path / "schemas" / "published.json")


def problems(version_dir, schema_file) -> list[str]:
    frame = ps.schema_frame(version_dir, schema_file)
    result = validate_frame(SUITE, frame)
    found = [p for p in frame["problem"].to_list() if p]
    assert result.success == (not found)
    return found


def test_the_file_round_trips_nested_types_exactly(schema_file, tmp_path):
    doc = json.loads(schema_file.read_text())
    assert doc["format_version"] == ps.FORMAT_VERSION
    assert doc["tables"]["voyages"] == [
        {"column": "voyage_id", "type": "string"},
        {"column": "volume_bbl", "type": "double"},
        {"column": "evidence_ids", "type": "list<element: string>"},
        {"column": "state_before", "type": "struct<state: string, at: timestamp[us, tz=UTC], fraction: double>"},
    ]
    same = write_set(tmp_path / "same", voyages_table())
    assert problems(same, schema_file) == []


@pytest.mark.parametrize(
    ("voyages", "cap", "expected"),
    [
        (voyages_table(volume_bbl=pa.array([1.5], pa.float32())), True,
         ["table voyages, column volume_bbl: type changed: expected double, found float"]),
        (voyages_table(volume_bbl=None), True,
         ["table voyages, column volume_bbl: missing: expected double, found no column"]),
        (voyages_table(), False, ["table cap_tracker: missing (expected cap_tracker.parquet with 2 columns)"]),
        (voyages_table(evidence_ids=pa.array([[1]], pa.list_(pa.int64()))), True,
         ["table voyages, column evidence_ids: type changed: expected list<element: string>, found list<element: int64>"]),
        (voyages_table(state_before=pa.array([{"state": "laden", "at": None, "fraction": 0.9}],
                                              pa.struct([("state", pa.string()), ("at", pa.timestamp("us")),
                                                         ("fraction", pa.float64())]))), True,
         ["table voyages, column state_before: type changed: expected struct<state: string, at: timestamp[us, tz=UTC], "
          "fraction: double>, found struct<state: string, at: timestamp[us], fraction: double>"]),
    ],
    ids=["retyped", "dropped_column", "dropped_table", "list_item_retyped", "struct_field_lost_its_time_zone"],
)
def test_each_change_fails_with_a_precise_message(schema_file, tmp_path, voyages, cap, expected):
    candidate = write_set(tmp_path / "candidate", voyages, cap=cap)
    assert problems(candidate, schema_file) == expected


def test_renamed_reordered_and_extra_columns_and_tables_fail(schema_file, tmp_path):
    base = voyages_table()
    renamed = write_set(tmp_path / "renamed", base.rename_columns(["voyage_id", "volume", "evidence_ids", "state_before"]))
    assert problems(renamed, schema_file) == [
        "table voyages, column volume_bbl: renamed or replaced: expected volume_bbl double at position 2, found volume double"
    ]
    reordered = write_set(tmp_path / "reordered", base.select(["volume_bbl", "voyage_id", "evidence_ids", "state_before"]))
    assert problems(reordered, schema_file) == [
        "table voyages, column voyage_id: moved: expected string at position 1, found string at position 2",
        "table voyages, column volume_bbl: moved: expected double at position 2, found double at position 1",
    ]
    extra = write_set(tmp_path / "extra", base.append_column("flag", pa.array(["KP"])))
    pq.write_table(pa.table({"x": [1]}), extra / "scratch.parquet")
    assert problems(extra, schema_file) == [
        "table scratch: not in the published schema (1 columns); regenerate schemas/published.json if it is meant to be published",
        "table voyages, column flag: not in the published schema: expected no column, found string at position 5",
    ]


def test_malformed_schema_file_is_refused(tmp_path):
    path = tmp_path / "published.json"
    for doc in ({"tables": {}}, {"format_version": 1, "tables": {"voyages": {"voyage_id": "string"}}},
                {"format_version": 1, "tables": {"voyages": [{"column": "voyage_id"}]}},
                {"format_version": 1, "tables": {"voyages": [{"column": "voyage_id", "type": "string", "key": "yes"}]}}):
        path.write_text(json.dumps(doc))
        with pytest.raises(ValueError, match="published.json"):
            ps.load_schema(path)


def test_the_committed_file_states_the_schema_version_and_the_keys():
    from tankerwatch.contracts import PUBLISHED_SCHEMA_VERSION, discover_contracts

    doc = json.loads(ps.SCHEMA_FILE.read_text())
    assert doc["schema_version"] == PUBLISHED_SCHEMA_VERSION == 2
    keys = {t: [c["column"] for c in columns if c.get("key")] for t, columns in doc["tables"].items()}
    assert keys["voyages"] == ["voyage_id"] and keys["cap_tracker"] == ["year"] and keys["rejects"] == []
    assert keys["ais_dark_periods"] == ["dark_period_id", "imo", "went_dark_at"]  # and its compound key
    assert keys == {t: list(discover_contracts()[t].key_columns) for t in doc["tables"]}
    volumes = {c["column"]: c["type"] for c in doc["tables"]["voyages"] if c["column"].endswith("_bbl")
               or c["column"].startswith("volume_bbl")}
    assert volumes == {"capacity_bbl": "int64", "volume_bbl": "int64", "volume_bbl_low": "int64",
                       "volume_bbl_high": "int64"}
    assert ps.load_schema()["voyages"][0] == ("voyage_id", "string")


def test_cli_check_and_write(schema_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ps, "SCHEMA_FILE", schema_file)
    changed = write_set(tmp_path / "changed", voyages_table(volume_bbl=pa.array([1], pa.int64())))
    assert ps.main(["--check", str(changed)]) == 1
    assert "volume_bbl: type changed: expected double, found int64" in capsys.readouterr().out
    assert ps.main(["--write", str(changed)]) == 0
    assert ps.main(["--check", str(changed)]) == 0


# --- the committed file and the check in a real run -----------------------------------------------


@pytest.mark.slow
def test_committed_schema_matches_what_the_demo_publishes(demo_run):
    code, data_dir = demo_run
    assert code == 0
    current = resolve_current(data_dir / "published")
    committed = ps.load_schema()
    assert sorted(committed) == sorted(PUBLISHED_TABLES)
    assert ps.compare(committed, ps.read_version_schema(current)) == [
        row for row in ps.compare(committed, committed) if not row[-1]
    ]
    assert [r[-1] for r in ps.compare(committed, ps.read_version_schema(current)) if r[-1]] == []
    manifest = json.loads((current / "manifest.json").read_text())
    check = [c for c in manifest["checks"] if c["suite"] == "publish_schema"]
    assert check and check[0]["asset"] == "publish_candidate" and check[0]["success"]


@pytest.mark.slow
def test_a_schema_change_stops_the_run_and_leaves_current(demo_run_copy, tmp_path, monkeypatch, capsys):
    _, data_dir = demo_run_copy
    published = data_dir / "published"
    before, versions_before = current_version(published), list_versions(published)
    committed = ps.load_schema()
    expected = dict(committed)
    expected["voyages"] = [(c, "double" if c == "volume_bbl" else t) for c, t in committed["voyages"]]
    expected["port_calls"] = [*committed["port_calls"], ("berth", "string")]
    expected["tanker_tracks"] = [("imo", "string")]
    mutated = ps.write_schema(expected, tmp_path / "published.json")
    monkeypatch.setattr(assets.checks, "SCHEMA_FILE", mutated)

    code = main(["run", "--data-dir", str(data_dir)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"GATE FAILED: publish_candidate / {ps.CHECK_NAME}" in err
    assert "table voyages, column volume_bbl: type changed: expected double, found int64" in err
    assert "table port_calls, column berth: missing: expected string, found no column" in err
    assert "table tanker_tracks: missing" in err
    assert "published/current was left as it was" in err
    assert current_version(published) == before
    # The candidate stays for `--write`, unpublished; nothing was pruned.
    candidates = sorted(set(list_versions(published)) - set(versions_before))
    assert len(candidates) == 1 and set(versions_before) <= set(list_versions(published))
    assert ps.compare(committed, ps.read_version_schema(published / "versions" / candidates[0]))[0][-1] == ""
