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
    MAP_FIGURE,
    REPORT_DATA,
    REPORT_FILES,
    REPORT_HTML,
    TOP_VESSELS,
    VOYAGES_CSV,
    demo_sources,
    headline_markdown,
    map_figure,
    plural,
    report_data,
    write_report,
)
from tankerwatch.settings import DEMO_DIR, EXPECTATIONS_DIR

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
    assert manifest["report"] == {"html": REPORT_HTML, "data": REPORT_DATA, "csv": VOYAGES_CSV, "figures": list(FIGURES)}
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


# The page as Chromium lays it out, read back by a probe script added to a copy of the page (the published page has
# no scripts): which images loaded, whether the body is wider than the window, which in-page links lead nowhere,
# and the texts of the headline and of the per-vessel table. Headless Chromium's window is at least 500 px wide,
# so the page is shown in an iframe of the width under test, and the probe writes into the outer page.
PROBE = """<script>window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var broken = Array.from(document.querySelectorAll('a[href^="#"]')).filter(function (a) {
    return !document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))); });
  var rows = Array.from(document.querySelectorAll('#vessel-table tbody tr')).map(function (tr) {
    return Array.from(tr.cells).map(function (td) { return td.textContent.trim(); }); });
  window.parent.document.body.setAttribute('data-probe', JSON.stringify({
    images: imgs.length,
    loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    links: document.querySelectorAll('a[href^="#"]').length,
    broken: broken.map(function (a) { return a.getAttribute('href'); }),
    headline: document.querySelector('.headline').textContent,
    banner: !!document.getElementById('demo-banner'),
    vessels: rows}));});</script>"""


class ProbeResult(HTMLParser):
    def __init__(self):
        super().__init__()
        self.value = None

    def handle_starttag(self, tag, attrs):
        if tag == "body" and dict(attrs).get("data-probe"):
            self.value = json.loads(dict(attrs)["data-probe"])


def probe_page(version: Path, tmp_path: Path, width: int) -> dict:
    copy = tmp_path / f"copy{width}"
    copy.mkdir()
    for name in REPORT_FILES:
        shutil.copy(version / name, copy / name)
    page = (copy / REPORT_HTML).read_text().replace("</body>", PROBE + "</body>")
    (copy / REPORT_HTML).write_text(page)
    frame = copy / "frame.html"
    frame.write_text(f'<!DOCTYPE html><html><body style="margin:0"><iframe src="{REPORT_HTML}" '
                     f'style="width:{width}px;height:900px;border:0"></iframe></body></html>')
    dom = chromium("--dump-dom", "--virtual-time-budget=10000", "--window-size=1400,1000",
                   "--allow-file-access-from-files", f"file://{frame}", profile=tmp_path / f"profile{width}")
    parser = ProbeResult()
    parser.feed(dom.stdout)
    assert parser.value is not None, dom.stdout[-500:] + dom.stderr[-1000:]
    return parser.value


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 390])
def test_chromium_at_desktop_and_phone_width_shows_the_tables_numbers(current, tmp_path, width):
    shown = probe_page(current, tmp_path, width)
    assert shown["innerWidth"] == width
    assert shown["images"] == shown["loaded"] == len(FIGURES)
    # nothing pushes the page sideways: wide tables scroll inside their own box
    assert shown["scrollWidth"] <= width, shown["scrollWidth"]
    voyages = pl.read_parquet(current / "voyages.parquet")
    assert shown["links"] >= voyages["evidence_ids"].list.len().sum() and shown["broken"] == []
    cap = pl.read_parquet(current / "cap_tracker.parquet").row(0, named=True)
    headline = " ".join(shown["headline"].split())
    assert f"{voyages.height} voyages counted toward the cap" in headline
    assert f"{cap['delivered_bbl']:,.0f} bbl" in headline and f"breached on {cap['breach_date']}" in headline
    assert shown["banner"], "the demo's sources are the bundled demo: the banner says so"
    # one row per vessel, each count as the published tables give it
    calls = pl.read_parquet(current / "port_calls.parquet")
    dark = pl.read_parquet(current / "ais_dark_periods.parquet")
    sts = pl.read_parquet(current / "sts_transfers.parquet")
    imos = set(voyages["imo"]) | set(calls["imo"]) | set(dark["imo"]) | set(sts["giver_imo"]) | set(sts["receiver_imo"])
    rows = {row[1]: row for row in shown["vessels"]}
    assert set(rows) == imos
    for imo, row in rows.items():
        expected = [
            calls.filter(pl.col("imo") == imo).height,
            voyages.filter(pl.col("imo") == imo).height,
            dark.filter(pl.col("imo") == imo).height,
            sts.filter((pl.col("giver_imo") == imo) | (pl.col("receiver_imo") == imo)).height,
        ]
        assert [int(c) for c in row[2:]] == expected, row
    assert sum(int(r[3]) for r in rows.values()) == 43


@pytest.mark.slow
def test_voyages_csv_is_voyages_parquet(current):
    parquet = pl.read_parquet(current / "voyages.parquet")
    csv = pl.read_csv(current / VOYAGES_CSV, infer_schema_length=0)
    assert csv.columns == parquet.columns and csv.height == parquet.height == 43
    for name, dtype in parquet.schema.items():
        got = csv[name]
        if isinstance(dtype, pl.List):
            assert [v.split("; ") if v else [] for v in got.fill_null("")] == parquet[name].to_list(), name
        elif isinstance(dtype, pl.Datetime):
            parsed = got.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", time_unit="us")
            assert parsed.to_list() == parquet[name].to_list(), name
        elif dtype == pl.Boolean:
            assert [None if v is None else v == "true" for v in got] == parquet[name].to_list(), name
        elif dtype.is_numeric():
            assert got.cast(pl.Float64).to_list() == pytest.approx(parquet[name].cast(pl.Float64).to_list()), name
        else:
            assert got.to_list() == parquet[name].to_list(), name
    assert f'href="{VOYAGES_CSV}"' in (current / REPORT_HTML).read_text()


@pytest.mark.slow
def test_every_evidence_id_leads_to_the_sighting_it_names(current):
    data, manifest = load(current)
    voyages = pl.read_parquet(current / "voyages.parquet")
    named = {e for ids in voyages["evidence_ids"].to_list() for e in ids}
    evidence = {e["id"]: e for e in data["evidence"]["ids"]}
    assert set(evidence) == named and data["evidence"]["missing"] == 0
    snapshots = {(a["source"], a["snapshot_id"]) for a in manifest["accounting"]}
    for voyage in voyages.iter_rows(named=True):
        load_start = voyage["load_arrival_at"] - dt.timedelta(days=2)
        for e in voyage["evidence_ids"]:
            sighting = evidence[e]["sighting"]
            # the sighting is the named vessel's, from the source the id names, in a snapshot this set read
            assert sighting["imo"] == voyage["imo"] and e.startswith(sighting["source_name"] + ":")
            assert (sighting["source_name"], sighting["snapshot_id"]) in snapshots
            assert sighting["source_row"] >= 1 and -90 <= sighting["latitude"] <= 90
            assert dt.datetime.fromisoformat(sighting["observed_at"].replace("Z", "+00:00")) >= load_start
    page = (current / REPORT_HTML).read_text()
    for e in evidence.values():
        assert f'<tr id="{e["anchor"]}">' in page and f'href="#{e["anchor"]}"' in page
    assert len({e["anchor"] for e in evidence.values()}) == len(evidence)


@pytest.mark.slow
def test_assumptions_and_source_snapshots_are_the_manifests(current):
    data, manifest = load(current)
    page = (current / REPORT_HTML).read_text()
    assumptions = manifest["volume_assumptions"]
    assert data["assumptions"] == assumptions
    assert assumptions["product"] == "gasoil_diesel" and f"<td class=\"n\">{assumptions['product']}</td>" in page
    for key in ("barrels_per_tonne", "default_load_fraction", "default_load_fraction_low", "cargo_share_of_dwt"):
        assert f"<code>{key}</code></td><td class=\"n\">{assumptions[key]:,.4g}</td>" in page
    parser = TableRows("sources-table")
    assert {(s["source"], s["role"], s["fetched_at"][:10]) for s in manifest["sources"]} == {
        (r["source"], r["role"], r["fetched_at"][:10]) for r in data["sources"]
    }
    for source in manifest["sources"]:
        assert f"<code>{source['sha256'][:16]}</code>" in page
    assert parser is not None
    assert data["demo_sources"] == sorted({s["source"] for s in manifest["sources"]})


@pytest.mark.slow
def test_map_labels_do_not_overlap_on_the_demo(current):
    data, _ = load(current)
    assert_labels_apart(map_figure(data))
    assert Image.open(current / MAP_FIGURE).size[0] >= 1000


def assert_labels_apart(fig) -> None:
    renderer = fig.canvas.get_renderer()
    labels = [t for t in fig.axes[0].texts if t.get_gid() in ("port-label", "leg-label")]
    assert labels
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in labels]
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"
    port_names = {t.get_text().rsplit(" (", 1)[0] for t in labels if t.get_gid() == "port-label"}
    assert {"Vostochny", "Rajin"} <= port_names


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


def test_counts_say_one_voyage_not_one_voyages(tmp_path):
    assert (plural(1, "voyage"), plural(2, "voyage"), plural(0, "vessel"), plural(1_059, "leg")) == (
        "1 voyage", "2 voyages", "0 vessels", "1,059 legs"
    )
    version = make_set(tmp_path, [voyage("9000001", dt.date(2024, 3, 1), 100_000)], {"9000001"})
    build_and_gate(version)
    page = (version / REPORT_HTML).read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    assert "1 voyage counted toward the cap" in text and "1 voyage," in text
    assert not re.search(r"(?<![\d,.])1 (voyage|vessel|call|leg|hull|sighting|evidence id|published call)s\b", text)


def test_a_set_from_other_sources_has_no_demo_banner_and_the_demo_files_do(tmp_path):
    version = make_set(tmp_path, [voyage("9000001", dt.date(2024, 3, 1), 100_000)], set())
    demo_file = DEMO_DIR / "registry" / "tankers.csv"
    digest = hashlib.sha256(demo_file.read_bytes()).hexdigest()
    entry = {"source": "tanker_registry", "role": "url", "kind": "registry_csv", "url": "registry/tankers.csv",
             "fetched_at": "2026-01-02T03:04:05+00:00", "partition_day": None, "bytes": 1, "sha256": digest}
    # the same relative path with other bytes is someone's own registry, not the demo's
    assert demo_sources({"sources": [{**entry, "sha256": "0" * 64}]}) == []
    # the demo's bytes are the demo's wherever they were read from
    assert demo_sources({"sources": [{**entry, "url": "https://example.org/registry/tankers.csv"}]}) == [
        "tanker_registry"
    ]
    assert demo_sources({"sources": [{**entry, "url": f"file://{demo_file}"}]}) == ["tanker_registry"]
    assert demo_sources({"sources": [entry]}) == ["tanker_registry"]
    write_manifest(version, {"run_id": "hand-made", "sources": [{**entry, "sha256": "0" * 64}]})
    data = build_and_gate(version)
    page = (version / REPORT_HTML).read_text()
    assert data["demo_sources"] == [] and "demo-banner" not in page
    assert "2026-01-02" in page and "<code>0000000000000000</code>" in page
    assert "records no volume assumptions" in page
    write_manifest(version, {"run_id": "hand-made", "sources": [entry]})
    data = build_and_gate(version)
    assert data["demo_sources"] == ["tanker_registry"] and 'id="demo-banner"' in (version / REPORT_HTML).read_text()


def test_evidence_ids_link_to_an_appendix_row_even_without_their_sightings(tmp_path):
    voyages = [voyage("9000001", dt.date(2024, 3, 1), 100_000, sanctioned=True)]
    version = make_set(tmp_path, voyages, {"9000001"})
    sightings = pl.DataFrame({
        "sighting_id": [voyages[0]["evidence_ids"][0]], "evidence_kind": ["imagery"], "source_name": ["imagery_log"],
        "snapshot_id": ["abcdef0123456789"], "source_row": [17], "imo": ["9000001"],
        "observed_at": [dt.datetime(2024, 2, 28, 23, 10, tzinfo=UTC)], "latitude": [42.75], "longitude": [133.08],
        "port_id": ["vostochny"], "state": ["laden"], "laden_state": ["laden"], "load_fraction": [0.85],
        "draught_m": [None],
    })
    data = write_report(version, evidence=sightings)
    ids = data["evidence"]["ids"]
    assert [e["id"] for e in ids] == sorted(voyages[0]["evidence_ids"]) and data["evidence"]["missing"] == 1
    page = (version / REPORT_HTML).read_text()
    for e in ids:
        assert f'href="#{e["anchor"]}"' in page and f'<tr id="{e["anchor"]}">' in page
    known = next(e for e in ids if e["sighting"])
    assert known["sighting"]["observed_at"] == "2024-02-28T23:10:00Z" and known["sighting"]["source_row"] == 17
    row = page.split(f'<tr id="{known["anchor"]}">')[1].split("</tr>")[0]
    assert all(text in row for text in ("2024-02-28 23:10:00Z", "42.7500°N 133.0800°E", "vostochny",
                                        "abcdef0123456789", ">17<", "0.85 full"))
    assert "sighting not in this report's data" in page


def test_timeline_has_one_row_per_vessel_with_its_calls_and_voyages(tmp_path):
    voyages = [voyage("9000001", dt.date(2024, 3, 1), 100_000), voyage("9000001", dt.date(2024, 5, 1), 100_000),
               voyage("9000002", dt.date(2024, 4, 1), 100_000)]
    data = build_and_gate(make_set(tmp_path, voyages, set()))
    rows = {v["imo"]: v["counts"] for v in data["timeline"]["vessels"]}
    assert rows == {"9000001": {"calls": 4, "voyages": 2, "dark_periods": 0, "transfers": 0},
                    "9000002": {"calls": 2, "voyages": 1, "dark_periods": 0, "transfers": 0}}
    assert data["timeline"]["drawn"] == ["9000001", "9000002"]
    assert Image.open(tmp_path / "versions" / "v1" / "report_timeline.png").size[0] >= 1000


def test_map_labels_do_not_overlap_where_ports_crowd(tmp_path):
    # every port of the table called at, so the four load terminals within 30 km all carry labels
    version = make_set(tmp_path, [voyage("9000001", dt.date(2024, 3, 1), 100_000)], set())
    ports = pl.read_csv(DEMO_DIR.parent / "seeds" / "ports.csv", infer_schema_length=0)
    calls = [
        {"port_call_id": f"c{i}", "imo": "9000001", "port_id": port,
         "arrival_at": dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(days=3 * i),
         "departure_at": dt.datetime(2024, 1, 2, tzinfo=UTC) + dt.timedelta(days=3 * i)}
        for i, port in enumerate(ports["port_id"].to_list() * 2)
    ]
    pl.DataFrame(calls, schema=CALL_SCHEMA).write_parquet(version / "port_calls.parquet")
    data = report_data(version)
    assert all(p["calls"] == 2 for p in data["map"]["ports"])
    assert_labels_apart(map_figure(data))


def test_timeline_counts_dark_periods_and_transfers_for_both_vessels(tmp_path):
    voyages = [voyage("9000001", dt.date(2024, 3, 1), 100_000), voyage("9000002", dt.date(2024, 4, 1), 100_000)]
    version = make_set(tmp_path, voyages, set())
    at = dt.datetime(2024, 3, 10, 4, tzinfo=UTC)
    pl.DataFrame({
        "dark_period_id": ["9000001-a", "9000001-b"], "imo": ["9000001"] * 2, "vessel_name": ["TANKER 001"] * 2,
        "went_dark_at": [at, at + dt.timedelta(days=9)], "reappeared_at": [at + dt.timedelta(days=2)] * 2,
        "last_latitude": [42.0, 41.9], "last_longitude": [131.0, 131.1],
        "first_latitude": [42.1, 42.0], "first_longitude": [131.2, 131.3],
    }).write_parquet(version / "ais_dark_periods.parquet")
    pl.DataFrame({
        "encounter_id": ["e1"], "giver_imo": ["9000003"], "giver_name": ["TANKER 003"],
        "receiver_imo": ["9000002"], "receiver_name": ["TANKER 002"],
        "started_at": [at], "ended_at": [at + dt.timedelta(hours=6)], "latitude": [38.9], "longitude": [124.6],
    }).write_parquet(version / "sts_transfers.parquet")
    data = build_and_gate(version)
    rows = {v["imo"]: v["counts"] for v in data["timeline"]["vessels"]}
    assert rows == {
        "9000001": {"calls": 2, "voyages": 1, "dark_periods": 2, "transfers": 0},
        "9000002": {"calls": 2, "voyages": 1, "dark_periods": 0, "transfers": 1},
        "9000003": {"calls": 0, "voyages": 0, "dark_periods": 0, "transfers": 1},
    }
    by_imo = {v["imo"]: v for v in data["timeline"]["vessels"]}
    assert by_imo["9000003"]["transfers"][0] == {
        "encounter_id": "e1", "role": "giver", "other_imo": "9000002",
        "start": "2024-03-10T04:00:00Z", "end": "2024-03-10T10:00:00Z",
    }
    assert data["map"]["sts_transfers"] == [[38.9, 124.6]]
    page = (version / REPORT_HTML).read_text()
    assert page.count("<tr data-imo=") == 3 and "TANKER 003" in page
