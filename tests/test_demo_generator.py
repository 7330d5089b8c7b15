"""The demo bundle: its generator (demo/generate.py), its answer key, and the files they committed.

The generator must be deterministic (same seed, same bytes), and what it wrote must be valid in
the formats the pipeline reads. Its truth comes from one answer engine, scenarios.reference: the
truth regenerated from the committed inputs must be the committed truth, and a demo run must
publish that answer. Distances are computed here independently of the generator.
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime
from functools import reduce
from pathlib import Path

import polars as pl
import pytest
from pyais import decode

from scenarios.answer_key import answer_key

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
GENERATOR = DEMO / "generate.py"
PORTS = ROOT / "seeds" / "ports.csv"
GENERATED = [
    "registry/tankers.csv",
    "registry/ESTIMATES.md",
    "sightings/imagery_2024.csv",
    "sightings/ais_2024.nmea",
    "truth/voyages.csv",
    "truth/summary.json",
]
IMAGERY_HEADER = [
    "sighting_id", "observed_at", "source", "image_id", "latitude", "longitude", "vessel_name",
    "imo", "mmsi", "laden_state", "load_fraction", "confidence", "notes",
]
NMEA_LINE = re.compile(r"^\\(c:(\d+))\*([0-9A-F]{2})\\(!(AIVDM,(\d),(\d),(\d?),([AB]),[^*]*))\*([0-9A-F]{2})$")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * r * math.asin(math.sqrt(a))


def xor(s: str) -> str:
    return f"{reduce(lambda acc, ch: acc ^ ord(ch), s, 0):02X}"


@pytest.fixture(scope="module")
def summary() -> dict:
    return json.loads((DEMO / "truth" / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def truth() -> list[dict[str, str]]:
    with (DEMO / "truth" / "voyages.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def imagery() -> list[dict[str, str]]:
    with (DEMO / "sightings" / "imagery_2024.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def nmea_lines() -> list[str]:
    return (DEMO / "sightings" / "ais_2024.nmea").read_text(encoding="ascii").splitlines()


@pytest.fixture(scope="module")
def ports() -> dict[str, dict[str, str]]:
    with PORTS.open(newline="", encoding="utf-8") as f:
        return {r["port_id"]: r for r in csv.DictReader(f)}


def test_same_seed_reproduces_committed_files(tmp_path: Path, summary: dict) -> None:
    subprocess.run([sys.executable, str(GENERATOR), "--seed", str(summary["seed"]), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    for rel in GENERATED:
        assert (tmp_path / rel).read_bytes() == (DEMO / rel).read_bytes(), f"{rel} differs from a fresh run"


@pytest.fixture(scope="module")
def regenerated(summary: dict) -> tuple[list[dict[str, str]], dict]:
    """The truth the one answer engine reads from the committed inputs, without the generator."""
    voyages_csv, summary_json, facts = answer_key(DEMO, summary["seed"])
    assert voyages_csv.encode() == (DEMO / "truth" / "voyages.csv").read_bytes()
    assert summary_json.encode() == (DEMO / "truth" / "summary.json").read_bytes()
    return list(csv.DictReader(voyages_csv.splitlines())), facts


def test_the_answer_engine_regenerates_the_committed_truth(regenerated: tuple) -> None:
    voyages, facts = regenerated
    assert len(voyages) == facts["voyages"] == 43
    assert facts["tankers"] == len({v["imo"] for v in voyages}) == 15
    assert facts["total_bbl"] == pytest.approx(1_059_664, abs=0.5)
    assert facts["breach_date"] == "2024-07-11"
    assert facts["rejected_expected"] == 3


@pytest.mark.slow
def test_a_demo_run_publishes_the_answer_engines_truth(regenerated: tuple, demo_published: Path) -> None:
    expected, facts = regenerated
    published = {(str(r["imo"]), r["load_departure_at"].strftime("%Y-%m-%dT%H:%M:%SZ")): r
                 for r in pl.read_parquet(demo_published / "voyages.parquet").iter_rows(named=True)}
    assert sorted(published) == sorted((v["imo"], v["load_departure_at"]) for v in expected)
    for v in expected:
        got = published[(v["imo"], v["load_departure_at"])]
        assert got["load_arrival_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == v["load_arrival_at"], v["voyage_no"]
        assert got["destination_status"] == v["destination_status"], v["voyage_no"]
        assert got["counts_toward_cap"] == (v["counts_toward_cap"] == "true"), v["voyage_no"]
        assert got["capacity_bbl"] == pytest.approx(float(v["capacity_bbl"]), abs=0.01), v["voyage_no"]
        assert got["load_fraction"] == pytest.approx(float(v["load_fraction"])), v["voyage_no"]
        assert got["volume_bbl"] == pytest.approx(float(v["volume_bbl"]), abs=0.01), v["voyage_no"]

    cap = pl.read_parquet(demo_published / "cap_tracker.parquet").to_dicts()
    assert [c["year"] for c in cap] == [2024]
    assert cap[0]["voyages"] == facts["voyages"]
    assert cap[0]["delivered_bbl"] == pytest.approx(facts["total_bbl"], abs=0.5)
    assert str(cap[0]["breach_date"]) == facts["breach_date"]
    # the bounds around the answer are the pipeline's own (volume ranges), not the answer key's
    assert cap[0]["delivered_bbl_low"] < cap[0]["delivered_bbl"] < cap[0]["delivered_bbl_high"]
    assert cap[0]["breach_date_high"] <= cap[0]["breach_date"] <= cap[0]["breach_date_low"]

    rejects = pl.read_parquet(demo_published / "rejects.parquet").filter(pl.col("stage") == "identity")
    assert rejects.height == facts["rejected_expected"]


def test_truth_matches_the_2024_calibration(summary: dict, truth: list[dict[str, str]]) -> None:
    assert summary["voyages"] == len(truth) == 43
    departures = sorted(datetime.fromisoformat(r["load_departure_at"].replace("Z", "+00:00")) for r in truth)
    assert departures[0].date() == date(2024, 3, 7) and summary["first_load_departure"] == "2024-03-07"
    assert departures[-1].date() == date(2024, 11, 5) and summary["last_load_departure"] == "2024-11-05"
    assert summary["tankers"] == len({r["imo"] for r in truth}) >= 13
    total = sum(float(r["volume_bbl"]) for r in truth if r["counts_toward_cap"] == "true")
    assert 1_000_000 <= summary["total_bbl"] <= 1_150_000
    assert abs(total - summary["total_bbl"]) < 0.5
    assert summary["cap_bbl"] == 500_000

    # breach date: the first load-departure date on which the cumulative volume exceeds the cap
    by_day: dict[date, float] = defaultdict(float)
    for r in truth:
        if r["counts_toward_cap"] == "true":
            by_day[date.fromisoformat(r["load_departure_at"][:10])] += float(r["volume_bbl"])
    cum, breach = 0.0, None
    for d in sorted(by_day):
        cum += by_day[d]
        if cum > 500_000:
            breach = d
            break
    assert breach is not None and breach.year == 2024
    assert summary["breach_date"] == breach.isoformat()

    for r in truth:
        assert r["destination_status"] in ("confirmed", "unconfirmed")
        # both are whole barrels, each rounded on its own: they agree within a barrel
        assert math.isclose(float(r["capacity_bbl"]) * float(r["load_fraction"]), float(r["volume_bbl"]),
                            abs_tol=1.0)


def test_imagery_rows_parse_with_the_right_header(imagery: list[dict[str, str]], summary: dict) -> None:
    with (DEMO / "sightings" / "imagery_2024.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == IMAGERY_HEADER
    assert all(len(r) == len(IMAGERY_HEADER) for r in rows[1:])
    assert len(rows) - 1 == summary["imagery_rows"]
    assert len({r[0] for r in rows[1:]}) == len(rows) - 1
    for r in imagery:
        observed = datetime.fromisoformat(r["observed_at"].replace("Z", "+00:00"))
        assert observed.tzinfo is not None, r["observed_at"]
        assert r["laden_state"] in ("empty", "partial", "laden", "unknown")
        if r["load_fraction"]:
            assert 0.0 <= float(r["load_fraction"]) <= 1.0
        float(r["latitude"]), float(r["longitude"])
    # KUM JIN GANG 3: no IMO, no MMSI; the pipeline must reject exactly these rows
    kjg = [r for r in imagery if re.sub(r"[\s-]", "", r["vessel_name"].upper()) == "KUMJINGANG3"]
    assert len(kjg) == summary["rejected_expected"] >= 2
    assert all(not r["imo"] and not r["mmsi"] for r in kjg)


def test_nmea_checksums_are_valid_and_pyais_decodes_every_message(nmea_lines: list[str], summary: dict) -> None:
    assert len(nmea_lines) == summary["ais_lines"]
    pending: list[str] = []
    types = defaultdict(int)
    for line in nmea_lines:
        m = NMEA_LINE.match(line)
        assert m, line
        tag, _unix, tag_cs, sentence, body, total, num = m.group(1, 2, 3, 4, 5, 6, 7)
        assert xor(tag) == tag_cs, line
        assert xor(body) == m.group(10), line
        pending.append(sentence + "*" + m.group(10))
        if num == total:
            msg = decode(*pending)
            types[msg.msg_type] += 1
            pending = []
    assert pending == []
    assert set(types) == {1, 5} and types[1] > 0 and types[5] > 0


def _ais_positions(nmea_lines: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for line in nmea_lines:
        tag, sentence = line[1:].split("\\", 1)
        if sentence.startswith("!AIVDM,1,1,"):
            msg = decode(sentence)
            if msg.msg_type == 1:
                out[f"AIS-{msg.mmsi}-{tag.split('*')[0][2:]}"] = (msg.lat, msg.lon)
    return out


def test_cited_call_sightings_lie_inside_the_port(truth: list[dict[str, str]], imagery: list[dict[str, str]],
                                                  nmea_lines: list[str], ports: dict) -> None:
    where = {r["sighting_id"]: (float(r["latitude"]), float(r["longitude"])) for r in imagery}
    where.update(_ais_positions(nmea_lines))
    for v in truth:
        calls = [(v["load_port"], v["load_call_sightings"])]
        if v["discharge_port"]:
            calls.append((v["discharge_port"], v["discharge_call_sightings"]))
        for port_id, ids in calls:
            port = ports[port_id]
            assert ids, v
            for sid in ids.split(";"):
                lat, lon = where[sid]
                d = haversine_km(lat, lon, float(port["latitude"]), float(port["longitude"]))
                assert d <= float(port["radius_km"]), (v["voyage_no"], sid, d)
                assert d <= 1.5, (v["voyage_no"], sid, d)  # well inside, never near the edge
        assert ports[v["load_port"]]["role"] == "load_terminal"
