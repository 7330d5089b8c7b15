"""The analyst's report, checked as a user would: the demo's published set holds it, its numbers are the
tables', and headless Chromium renders it; hand-made sets cover no breach, no voyages, no sanctioned vessels
and many vessels."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from tankerwatch.gates import validate_frame
from tankerwatch.publish import write_manifest
from tankerwatch.publish_set import report_consistency_frame
from tankerwatch.report import (
    FIGURES,
    REPORT_DATA,
    REPORT_FILES,
    REPORT_HTML,
    TOP_VESSELS,
    headline_markdown,
    write_report,
)
from tankerwatch.settings import EXPECTATIONS_DIR

CHROMIUM = "/usr/bin/chromium"
REPORT_SUITE = EXPECTATIONS_DIR / "publish_report.json"


@pytest.fixture(scope="module")
def current(demo_published) -> Path:
    return demo_published


def load(version: Path) -> tuple[dict, dict]:
    data = json.loads((version / REPORT_DATA).read_text())
    manifest = json.loads((version / "manifest.json").read_text())
    return data, manifest


# --- the demo's published set ------------------------------------------------------------------


@pytest.mark.slow
def test_report_files_are_in_the_set_with_their_sha256_in_the_manifest(current):
    _, manifest = load(current)
    for name in REPORT_FILES:
        path = current / name
        assert path.is_file() and path.stat().st_size > 0, name
        entry = manifest["files"][name]
        assert entry == {"file": name, "bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    for name in FIGURES:
        assert (current / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert Image.open(current / name).size[0] >= 1000
    assert manifest["report"] == {"html": REPORT_HTML, "data": REPORT_DATA, "figures": list(FIGURES)}
    gate = [c for c in manifest["checks"] if c["asset"] == "publish_report"]
    assert gate and all(c["success"] and c["suite"] == "publish_report" for c in gate)
    # nothing half-written is left in the version
    assert not [p for p in os.listdir(current) if p.startswith(".")]


def cumulative_breach(points: list[tuple[dt.date, float]], cap: float) -> dt.date | None:
    total = 0.0
    for day in sorted({d for d, _ in points}):
        total += sum(v for d, v in points if d == day)
        if total > cap:
            return day
    return None


@pytest.mark.slow
def test_cap_figure_numbers_match_cap_tracker_and_voyages(current):
    data, _ = load(current)
    cap = pl.read_parquet(current / "cap_tracker.parquet").sort("year").to_dicts()
    voyages = pl.read_parquet(current / "voyages.parquet").filter(pl.col("counts_toward_cap")).to_dicts()
    assert [y["year"] for y in data["cap"]] == [row["year"] for row in cap] == [2024]
    for shown, row in zip(data["cap"], cap):
        last = shown["cumulative"][-1]
        for key, suffix in (("bbl", ""), ("bbl_low", "_low"), ("bbl_high", "_high")):
            assert last[key] == pytest.approx(row[f"delivered_bbl{suffix}"], abs=0.01)
            assert shown[f"delivered_bbl{suffix}"] == pytest.approx(row[f"delivered_bbl{suffix}"])
            assert shown[f"breach_date{suffix}"] == str(row[f"breach_date{suffix}"])
            # the drawn curve crosses the cap on the published breach date
            assert shown[f"curve_breach_date{suffix}"] == str(row[f"breach_date{suffix}"])
            points = [
                (v["load_departure_at"].date(), v[f"volume_{key}"]) for v in voyages if v["load_departure_at"].year == row["year"]
            ]
            assert str(cumulative_breach(points, row["cap_bbl"])) == str(row[f"breach_date{suffix}"])
        assert last["voyages"] == row["voyages"] == 43
    page = (current / REPORT_HTML).read_text()
    assert "2024-07-11" in page and f"{cap[0]['delivered_bbl']:,.0f}" in page


@pytest.mark.slow
def test_voyages_per_month_match_voyages_per_vessel(current):
    data, _ = load(current)
    voyages = pl.read_parquet(current / "voyages.parquet").to_dicts()
    sanctioned = set(pl.read_parquet(current / "sanctioned_vessels.parquet")["imo"])
    expected = Counter((v["imo"], v["load_departure_at"].strftime("%Y-%m")) for v in voyages)
    per = data["voyages_per_month"]
    got = Counter()
    for vessel in per["vessels"]:
        for month, count in zip(per["months"], vessel["per_month"]):
            if count:
                got[(vessel["imo"], month)] = count
        assert vessel["sanctioned"] == (vessel["imo"] in sanctioned)
    assert got == expected
    assert per["months"][0] == "2024-03" and per["months"][-1] == "2024-11"
    # 15 vessels: the top ten by name, five as "other"; every bar is as high as the month's voyages
    assert len(per["shown"]) == TOP_VESSELS and per["other"]["vessels"] == 15 - TOP_VESSELS
    by_imo = {v["imo"]: v for v in per["vessels"]}
    for i, month in enumerate(per["months"]):
        stacked = sum(by_imo[imo]["per_month"][i] for imo in per["shown"]) + per["other"]["per_month"][i]
        assert stacked == per["totals"][i] == sum(c for (_, m), c in expected.items() if m == month)


class TableRows(HTMLParser):
    """The rows of one table of the page, each as (data-imo, [cell texts])."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr" and "data-imo" in attrs:
            self.rows.append((attrs["data-imo"], []))
        elif self.inside and tag == "td" and self.rows:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1][1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, text):
        if self.cell is not None:
            self.cell.append(text)


@pytest.mark.slow
def test_sanctioned_vessels_table_matches_voyages_and_sanctioned_vessels(current):
    data, _ = load(current)
    voyages = pl.read_parquet(current / "voyages.parquet")
    listed = pl.read_parquet(current / "sanctioned_vessels.parquet").filter(pl.col("voyages") > 0)
    table = data["sanctioned_vessels"]
    assert {v["imo"] for v in table["with_voyages"]} == set(listed["imo"]) == set(voyages["imo"])
    assert table["without_voyages"] == pl.read_parquet(current / "sanctioned_vessels.parquet").height - listed.height
    published = {row["imo"]: row for row in listed.to_dicts()}
    for vessel in table["with_voyages"]:
        own = voyages.filter(pl.col("imo") == vessel["imo"]).sort("load_departure_at").to_dicts()
        assert vessel["voyages"] == published[vessel["imo"]]["voyages"] == len(own)
        assert vessel["counted_volume_bbl"] == pytest.approx(published[vessel["imo"]]["volume_bbl"])
        assert [v["voyage_id"] for v in vessel["voyage_list"]] == [v["voyage_id"] for v in own]
        for shown, row in zip(vessel["voyage_list"], own):
            assert shown["evidence_ids"] == row["evidence_ids"]
            assert shown["volume_bbl"] == pytest.approx(row["volume_bbl"])
            assert (shown["volume_bbl_low"], shown["volume_bbl_high"]) == pytest.approx((row["volume_bbl_low"], row["volume_bbl_high"]))
    # the HTML table shows the same voyages and evidence ids, row by row
    parser = TableRows("sanctioned-table")
    parser.feed((current / REPORT_HTML).read_text())
    assert len(parser.rows) == voyages.height
    by_id = {row["voyage_id"]: row for row in voyages.to_dicts()}
    for imo, cells in parser.rows:
        voyage = by_id[next(c for c in cells if c in by_id)]
        assert voyage["imo"] == imo
        assert cells[-1].split() == voyage["evidence_ids"]
        assert f"{voyage['volume_bbl']:,.0f}" in cells


@pytest.mark.slow
def test_dagster_metadata_markdown_embeds_the_headline_chart(current):
    data, _ = load(current)
    markdown = headline_markdown(data, current / REPORT_HTML)
    match = re.search(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match, markdown[:200]
    assert base64.b64decode(match.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert "breached on 2024-07-11" in markdown and str(current / REPORT_HTML) in markdown


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium package"
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_headless_chromium_renders_the_report_with_every_image(current, tmp_path):
    shot = tmp_path / "report.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1400,3000", f"file://{current / REPORT_HTML}",
                      profile=tmp_path / "profile")
    assert shot.exists(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 3000)
    small = image.resize((350, 750))
    colours = small.getcolors(maxcolors=350 * 750)
    assert len(colours) > 300, "the screenshot is nearly uniform"
    white = sum(n for n, rgb in colours if min(rgb) >= 245)
    assert white < 0.8 * 350 * 750, "the screenshot is mostly white"
    # the figures' own colours are on the page: the cap line's red and the central estimate's blue
    pixels = set(image.getdata())
    assert {(0xB2, 0x18, 0x2B), (0x08, 0x51, 0x9C)} <= pixels

    # Every <img> loaded: a copy of the page with a probe that writes each image's state into the DOM.
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in REPORT_FILES:
        shutil.copy(current / name, copy / name)
    probe = (
        "<script>window.addEventListener('load', function () {"
        "var imgs = Array.from(document.images);"
        "document.body.setAttribute('data-images', imgs.length + ':' + "
        "imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length);});</script>"
    )
    page = (copy / REPORT_HTML).read_text().replace("</body>", probe + "</body>")
    (copy / REPORT_HTML).write_text(page)
    dom = chromium("--dump-dom", "--virtual-time-budget=10000", f"file://{copy / REPORT_HTML}", profile=tmp_path / "p2")
    assert f'data-images="{len(FIGURES)}:{len(FIGURES)}"' in dom.stdout, dom.stdout[-500:] + dom.stderr[-1000:]
    # and the page asks for nothing beyond its own directory
    original = (current / REPORT_HTML).read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", original) and "<script" not in original


# --- hand-made sets ----------------------------------------------------------------------------

UTC = dt.UTC
VOYAGE_SCHEMA = {
    "voyage_id": pl.String, "imo": pl.String, "vessel_name": pl.String, "flag": pl.String, "load_port": pl.String,
    "load_departure_at": pl.Datetime("us", "UTC"), "discharge_port": pl.String, "destination_status": pl.String,
    "counts_toward_cap": pl.Boolean, "volume_bbl": pl.Float64, "volume_bbl_low": pl.Float64,
    "volume_bbl_high": pl.Float64, "sanctioned": pl.Boolean, "evidence_ids": pl.List(pl.String),
}
CAP_SCHEMA = {
    "year": pl.Int64, "cap_bbl": pl.Float64, "voyages": pl.Int64, "delivered_bbl": pl.Float64,
    "delivered_bbl_low": pl.Float64, "delivered_bbl_high": pl.Float64, "breach_date": pl.Date,
    "breach_date_low": pl.Date, "breach_date_high": pl.Date,
}
SANCTIONED_SCHEMA = {
    "imo": pl.String, "vessel_name": pl.String, "lists": pl.List(pl.String), "earliest_listed_on": pl.Date,
    "voyages": pl.Int64, "volume_bbl": pl.Float64,
}
CALL_SCHEMA = {
    "port_call_id": pl.String, "imo": pl.String, "port_id": pl.String,
    "arrival_at": pl.Datetime("us", "UTC"), "departure_at": pl.Datetime("us", "UTC"),
}


def voyage(imo: str, day: dt.date, bbl: float, counts: bool = True, sanctioned: bool = False) -> dict:
    departure = dt.datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
    return {
        "voyage_id": f"{imo}-{departure:%Y%m%dT%H%M%S}", "imo": imo, "vessel_name": f"TANKER {imo[-3:]}", "flag": "KP",
        "load_port": "Vostochny", "load_departure_at": departure, "discharge_port": "Rajin",
        "destination_status": "confirmed", "counts_toward_cap": counts, "volume_bbl": bbl,
        "volume_bbl_low": bbl * 0.85, "volume_bbl_high": bbl * 1.05, "sanctioned": sanctioned,
        "evidence_ids": [f"imagery_log:{imo}-{departure:%m%d}-a", f"imagery_log:{imo}-{departure:%m%d}-b"],
    }


def make_set(root: Path, voyages: list[dict], sanctioned_imos: set[str], cap_bbl: float = 500_000) -> Path:
    """A version directory as publish_candidate writes it, with a cap tracker computed by the DOMAIN rule."""
    version = root / "versions" / "v1"
    version.mkdir(parents=True)
    frame = pl.DataFrame(voyages, schema=VOYAGE_SCHEMA)
    frame.write_parquet(version / "voyages.parquet")
    cap_rows = []
    for year in sorted({v["load_departure_at"].year for v in voyages if v["counts_toward_cap"]}):
        counted = [v for v in voyages if v["counts_toward_cap"] and v["load_departure_at"].year == year]
        row = {"year": year, "cap_bbl": cap_bbl, "voyages": len(counted)}
        for suffix in ("", "_low", "_high"):
            points = [(v["load_departure_at"].date(), v[f"volume_bbl{suffix}"]) for v in counted]
            row[f"delivered_bbl{suffix}"] = sum(b for _, b in points)
            row[f"breach_date{suffix}"] = cumulative_breach(points, cap_bbl)
        cap_rows.append(row)
    pl.DataFrame(cap_rows, schema=CAP_SCHEMA).write_parquet(version / "cap_tracker.parquet")
    sanctioned = [
        {
            "imo": imo, "vessel_name": f"TANKER {imo[-3:]}", "lists": ["OFAC SDN"], "earliest_listed_on": None,
            "voyages": sum(v["imo"] == imo for v in voyages),
            "volume_bbl": sum(v["volume_bbl"] for v in voyages if v["imo"] == imo and v["counts_toward_cap"]),
        }
        for imo in sorted(sanctioned_imos)
    ]
    pl.DataFrame(sanctioned, schema=SANCTIONED_SCHEMA).write_parquet(version / "sanctioned_vessels.parquet")
    calls = []
    for v in voyages:
        for port, hours in (("vostochny", -30), ("rajin", 40)):
            at = v["load_departure_at"] + dt.timedelta(hours=hours)
            calls.append({"port_call_id": f"{v['imo']}-{port}-{at:%Y%m%dT%H}", "imo": v["imo"], "port_id": port,
                          "arrival_at": at, "departure_at": at + dt.timedelta(hours=5)})
    pl.DataFrame(calls, schema=CALL_SCHEMA).write_parquet(version / "port_calls.parquet")
    write_manifest(version, {"run_id": "hand-made"})
    return version


def build_and_gate(version: Path) -> dict:
    data = write_report(version)
    result = validate_frame(REPORT_SUITE, report_consistency_frame(version))
    assert result.success, result.summary()
    manifest = json.loads((version / "manifest.json").read_text())
    for name in REPORT_FILES:
        assert manifest["files"][name]["sha256"] == hashlib.sha256((version / name).read_bytes()).hexdigest()
    return data


def test_a_year_below_the_cap_has_no_breach_date(tmp_path):
    voyages = [voyage("9000001", dt.date(2024, 3, 1), 100_000), voyage("9000001", dt.date(2024, 5, 1), 150_000)]
    data = build_and_gate(make_set(tmp_path, voyages, set()))
    year = data["cap"][0]
    assert year["breach_date"] is None and year["curve_breach_date"] is None
    assert year["cumulative"][-1]["bbl"] == pytest.approx(250_000)
    assert data["voyages_per_month"]["months"] == ["2024-03", "2024-04", "2024-05"]
    assert data["voyages_per_month"]["totals"] == [1, 0, 1]
    page = (tmp_path / "versions" / "v1" / REPORT_HTML).read_text()
    assert "was not breached" in page and "No designated vessel made a voyage" in page


def test_a_set_with_no_voyages_still_has_a_report(tmp_path):
    version = make_set(tmp_path, [], set())
    data = build_and_gate(version)
    assert data["cap"] == [] and data["voyages"] == 0 and data["voyages_per_month"]["months"] == []
    assert data["map"]["legs"] == [] and data["sanctioned_vessels"]["with_voyages"] == []
    for name in FIGURES:
        assert Image.open(version / name).size[0] > 500
    assert "No voyage in this set counts toward the cap." in (version / REPORT_HTML).read_text()


def test_sanctioned_vessels_without_voyages_are_counted_not_tabled(tmp_path):
    voyages = [voyage("9000001", dt.date(2024, 3, 1), 300_000), voyage("9000002", dt.date(2024, 4, 1), 300_000, sanctioned=True)]
    data = build_and_gate(make_set(tmp_path, voyages, {"9000002", "9000003"}))
    table = data["sanctioned_vessels"]
    assert [v["imo"] for v in table["with_voyages"]] == ["9000002"] and table["without_voyages"] == 1
    assert data["cap"][0]["breach_date"] == "2024-04-01"
    marked = {v["imo"]: v["sanctioned"] for v in data["voyages_per_month"]["vessels"]}
    assert marked == {"9000001": False, "9000002": True}


def test_many_vessels_over_two_years_keep_the_chart_to_the_top_vessels(tmp_path):
    voyages = [
        voyage(f"90{n:05d}", dt.date(2023 + (k % 2), 1 + (n + k) % 12, 1 + k), 20_000 + 1_000 * n, sanctioned=n % 3 == 0)
        for n in range(30)
        for k in range(1 + n % 4)
    ]
    sanctioned = {v["imo"] for v in voyages if v["sanctioned"]}
    data = build_and_gate(make_set(tmp_path, voyages, sanctioned))
    per = data["voyages_per_month"]
    assert len(per["shown"]) == TOP_VESSELS and per["other"]["vessels"] == 30 - TOP_VESSELS
    assert per["months"][0] == "2023-01" and per["months"][-1] == "2024-12" and sum(per["totals"]) == len(voyages)
    assert [y["year"] for y in data["cap"]] == [2023, 2024]
    top = [v["total"] for v in per["vessels"]]
    assert top == sorted(top, reverse=True)
    assert len(data["sanctioned_vessels"]["with_voyages"]) == len(sanctioned)


def test_a_report_that_disagrees_with_the_tables_fails_the_gate(tmp_path):
    version = make_set(tmp_path, [voyage("9000001", dt.date(2024, 3, 1), 600_000)], set())
    write_report(version)
    data = json.loads((version / REPORT_DATA).read_text())
    data["cap"][0]["cumulative"][-1]["bbl"] += 1_000
    data["voyages_per_month"]["totals"][0] += 1
    (version / REPORT_DATA).write_text(json.dumps(data))
    frame = report_consistency_frame(version)
    result = validate_frame(REPORT_SUITE, frame)
    assert not result.success
    wrong = set(frame.filter(pl.col("difference").is_null() | (pl.col("difference") > 0.01))["quantity"])
    # the edited numbers, and report_data.json no longer has the sha256 the manifest lists
    assert wrong == {"delivered_bbl", "voyages_in_month", "stacked_bar_height", "report_file_listed"}


def test_a_failed_report_leaves_the_version_as_it_was(tmp_path):
    version = make_set(tmp_path, [voyage("9000001", dt.date(2024, 3, 1), 100_000)], set())
    (version / "port_calls.parquet").unlink()
    write_manifest(version, {"run_id": "hand-made"})
    before = sorted(os.listdir(version)), (version / "manifest.json").read_bytes()
    with pytest.raises(FileNotFoundError):
        write_report(version)
    assert (sorted(os.listdir(version)), (version / "manifest.json").read_bytes()) == before
