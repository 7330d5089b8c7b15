"""The whole graph on the bundled demo, run as a user runs it: `tankerwatch run`, then read published/current."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from orchestration.cli import main
from tankerwatch.publish import resolve_current
from tankerwatch.settings import EXPECTATIONS_DIR, REPO_ROOT

pytestmark = pytest.mark.slow

DEMO = REPO_ROOT / "demo"
TRUTH = json.loads((DEMO / "truth" / "summary.json").read_text())


def published(data_dir: Path) -> Path:
    current = resolve_current(data_dir / "published")
    assert current is not None, "nothing was published"
    return current


def test_run_succeeds_and_publishes_the_43_voyages_of_the_case(demo_run, capsys):
    code, data_dir = demo_run
    assert code == 0
    voyages = pl.read_parquet(published(data_dir) / "voyages.parquet")
    assert voyages.height == TRUTH["voyages"] == 43
    assert voyages["imo"].n_unique() == TRUTH["tankers"]
    assert voyages["counts_toward_cap"].all()
    assert str(voyages["load_departure_at"].min().date()) == TRUTH["first_load_departure"] == "2024-03-07"
    assert str(voyages["load_departure_at"].max().date()) == TRUTH["last_load_departure"] == "2024-11-05"


def test_each_voyage_matches_the_generators_ground_truth(demo_run):
    _, data_dir = demo_run
    voyages = pl.read_parquet(published(data_dir) / "voyages.parquet")
    got = {
        (r["imo"], r["load_departure_at"].strftime("%Y-%m-%dT%H:%M:%SZ")): r for r in voyages.iter_rows(named=True)
    }
    with open(DEMO / "truth" / "voyages.csv", newline="") as handle:
        truth = list(csv.DictReader(handle))
    assert len(truth) == len(got)
    for expected in truth:
        voyage = got[(expected["imo"], expected["load_departure_at"])]
        assert voyage["destination_status"] == expected["destination_status"]
        assert voyage["volume_bbl"] == pytest.approx(float(expected["volume_bbl"]), abs=0.01)
        assert voyage["load_fraction"] == pytest.approx(float(expected["load_fraction"]))
        # every imagery sighting of the load call is cited, once
        load_call = expected["load_call_sightings"].split(";")
        assert set(voyage["evidence_ids"]) >= {f"imagery_log:{i}" for i in load_call if i.startswith("IMG")}
        assert len(voyage["evidence_ids"]) == len(set(voyage["evidence_ids"]))


def test_cap_tracker_total_and_breach_date(demo_run):
    _, data_dir = demo_run
    cap = pl.read_parquet(published(data_dir) / "cap_tracker.parquet").to_dicts()
    assert len(cap) == 1
    year = cap[0]
    assert year["year"] == 2024 and year["cap_bbl"] == 500_000 and year["voyages"] == 43
    assert year["delivered_bbl"] == pytest.approx(TRUTH["total_bbl"], abs=0.5)
    assert year["delivered_bbl"] > 1_000_000
    assert str(year["breach_date"]) == TRUTH["breach_date"]
    assert year["delivered_bbl_low"] < year["delivered_bbl"] < year["delivered_bbl_high"]
    assert year["breach_date_high"] <= year["breach_date"] <= year["breach_date_low"]


def test_unresolvable_sightings_are_published_as_rejects(demo_run):
    _, data_dir = demo_run
    rejects = pl.read_parquet(published(data_dir) / "rejects.parquet")
    identity = rejects.filter(pl.col("stage") == "identity")
    assert identity.height == TRUTH["rejected_expected"] == 3
    assert identity["reason"].str.contains("name KUM JIN GANG[- ]3 matches a known vessel").all()


def test_manifest_lists_sources_row_counts_schema_and_every_check(demo_run):
    _, data_dir = demo_run
    current = published(data_dir)
    manifest = json.loads((current / "manifest.json").read_text())
    assert manifest["version"] == current.name
    sources = {(s["source"], s["role"]) for s in manifest["sources"]}
    assert ("ofac_sdn", "alt_url") in sources and ("ais_feed", "url") in sources and len(sources) == 7
    sdn = next(s for s in manifest["sources"] if s["source"] == "ofac_sdn" and s["role"] == "url")
    assert sdn["sha256"] == hashlib.sha256((DEMO / "sanctions" / "ofac_sdn_dprk_20240503.csv").read_bytes()).hexdigest()
    for table in ("voyages", "port_calls", "vessels", "sanctioned_vessels", "cap_tracker", "unattributed_loads",
                  "sts_transfers", "ais_dark_periods", "rejects"):
        assert manifest["row_counts"][table] == pl.read_parquet(current / f"{table}.parquet").height
    assert "volume_bbl" in manifest["schema"]["voyages"]
    suites = {c["suite"] for c in manifest["checks"]}
    assert suites == {p.stem for p in EXPECTATIONS_DIR.glob("*.json")}
    assert all(c["success"] for c in manifest["checks"])


def test_a_row_no_rule_foresaw_is_rejected_with_a_warning_and_the_run_publishes(tmp_path, capsys):
    # DOMAIN §5: one implausible row costs a reject and a warning, not a night without a publish.
    bad_demo = tmp_path / "demo"
    shutil.copytree(DEMO, bad_demo)
    registry = bad_demo / "registry" / "tankers.csv"
    rows = list(csv.DictReader(registry.open(newline="")))
    rows[0]["dwt"] = "5000000"  # implausible for any ship: staging's suite bounds dwt at 600,000 t
    with registry.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    data_dir = tmp_path / "data"
    code = main(["run", "--sources", str(bad_demo / "sources.yaml"), "--data-dir", str(data_dir)])
    err = capsys.readouterr().err
    assert code == 0
    assert "WARNING: stg_registry_vessels / quarantined_rows" in err
    assert "GATE FAILED" not in err
    rejects = pl.read_parquet(published(data_dir) / "rejects.parquet").filter(
        pl.col("table_name") == "stg_registry_vessels"
    )
    assert rejects.filter(pl.col("record_id") == rows[0]["imo"])["reason"].to_list() == [
        "failed expectation column_values_to_be_between on dwt: 5000000.0 (no rule foresaw it)"
    ]
