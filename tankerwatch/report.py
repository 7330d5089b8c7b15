"""The analyst's report of a published set: the cap, the voyages, the routes, as pictures.

Everything is read from the set's own parquet files, never from the warehouse, so the
report shows the published numbers. `report_data` computes every number the report
shows into one JSON-able dict; the figures and the HTML are drawn from that dict only,
and it is written beside them as `report_data.json`, so an analyst (or a check) can hold
each picture against the tables. The page is self-contained: no scripts, no fonts or
tiles from the network, the PNGs referenced relative to `report.html`.

The sightings that evidence ids name are not in the published tables; the report asset reads
them from the warehouse (`sightings`) and hands them in, and the page lists each one (time,
place, source, snapshot and line) in an appendix every evidence id links to. Beside the page,
voyages.csv is voyages.parquet for a spreadsheet.

`write_report` builds the files in a hidden directory inside the version, moves them into
place and lists them (bytes, sha256) in the version's manifest.json, so `current` is only
ever switched to a set whose report matches its tables.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import io
import json
import math
import re
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from tankerwatch import atomic
from tankerwatch.publish import MANIFEST_NAME, write_manifest
from tankerwatch.settings import DEMO_DIR, SEEDS_DIR
from tankerwatch.warehouse import fetch_frame

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "CAP_FIGURE",
    "MAP_FIGURE",
    "REPORT_DATA",
    "REPORT_FILES",
    "REPORT_HTML",
    "TIMELINE_FIGURE",
    "TOP_VESSELS",
    "VOYAGES_CSV",
    "VOYAGES_FIGURE",
    "build_report",
    "file_entry",
    "headline_markdown",
    "evidence_anchor",
    "plural",
    "report_data",
    "sightings",
    "write_report",
]

REPORT_HTML = "report.html"
REPORT_DATA = "report_data.json"
CAP_FIGURE = "report_cap.png"
VOYAGES_FIGURE = "report_voyages_per_month.png"
MAP_FIGURE = "report_map.png"
TIMELINE_FIGURE = "report_timeline.png"
VOYAGES_CSV = "voyages.csv"
FIGURES = (CAP_FIGURE, VOYAGES_FIGURE, MAP_FIGURE, TIMELINE_FIGURE)
REPORT_FILES = (REPORT_HTML, REPORT_DATA, VOYAGES_CSV, *FIGURES)
LAND = SEEDS_DIR / "natural_earth" / "land_sea_of_japan.geojson"
# The timeline draws this many vessels, most voyages first; the rest are counted in its caption.
TIMELINE_VESSELS = 40

# The stacked chart shows this many vessels by name; the rest are summed as "other".
TOP_VESSELS = 10
DPI = 110
HEADLINE_DPI = 64

ROLE_STYLE = {
    "load_terminal": {"marker": "^", "color": "#d95f02", "label": "load terminal"},
    "discharge_port": {"marker": "s", "color": "#b2182b", "label": "DPRK port"},
    "other": {"marker": "o", "color": "#7f7f7f", "label": "other port"},
}
CAP_COLOR = "#b2182b"
CENTRAL_COLOR = "#08519c"
BAND_COLOR = "#6baed6"
OTHER_COLOR = "#bdbdbd"
SANCTIONED_HATCH = "///"
# Vessel colours: tab10 and Dark2 without their greys, which are kept for "other".
VESSEL_COLORS = [c for i, c in enumerate(colormaps["tab10"].colors) if i != 7] + list(colormaps["Dark2"].colors[:-1])


# --- the numbers -----------------------------------------------------------------------------


def report_data(
    version_dir: Path,
    ports_csv: Path = SEEDS_DIR / "ports.csv",
    top_vessels: int = TOP_VESSELS,
    evidence: pl.DataFrame | None = None,
    demo_dir: Path = DEMO_DIR,
) -> dict:
    """Every number the report shows, computed from the parquet files in `version_dir`.

    `evidence` holds the sightings the evidence ids name (`sightings`); without it the
    appendix still has an entry for every id, saying the sighting is not in the report's data."""
    version_dir = Path(version_dir)
    voyages = pl.read_parquet(version_dir / "voyages.parquet")
    cap = pl.read_parquet(version_dir / "cap_tracker.parquet")
    sanctioned = pl.read_parquet(version_dir / "sanctioned_vessels.parquet")
    port_calls = pl.read_parquet(version_dir / "port_calls.parquet")
    manifest_path = version_dir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    sanctioned_imos = set(sanctioned["imo"].to_list())
    return {
        "version": manifest.get("version", version_dir.name),
        "run_id": manifest.get("run_id"),
        "created_at": manifest.get("created_at"),
        "tables": {
            name: (manifest.get("files", {}).get(name) or {}).get("sha256")
            for name in (
                "voyages", "cap_tracker", "sanctioned_vessels", "port_calls", "sts_transfers", "ais_dark_periods"
            )
        },
        "voyages": voyages.height,
        "vessels": voyages["imo"].n_unique(),
        "cap": cap_years(voyages, cap),
        "voyages_per_month": voyages_per_month(voyages, sanctioned_imos, top_vessels),
        "sanctioned_vessels": sanctioned_table(voyages, sanctioned),
        "map": map_data(port_calls, pl.read_csv(ports_csv, infer_schema_length=0), version_dir),
        "demo_sources": demo_sources(manifest, demo_dir),
        "assumptions": manifest.get("volume_assumptions"),
        "sources": source_snapshots(manifest),
        "timeline": timeline_data(voyages, port_calls, version_dir),
        "evidence": evidence_data(voyages, evidence),
    }


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _utc_date(column: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone("UTC").dt.date()


def cap_years(voyages: pl.DataFrame, cap: pl.DataFrame) -> list[dict]:
    """Per cap-tracker year: its row, and the cumulative curve of the counted voyages by load departure date."""
    counted = voyages.filter(pl.col("counts_toward_cap")).with_columns(_utc_date("load_departure_at").alias("date"))
    years = []
    for row in cap.sort("year").iter_rows(named=True):
        daily = (
            counted.filter(pl.col("date").dt.year() == row["year"])
            .group_by("date")
            .agg(
                pl.len().alias("voyages"),
                pl.col("volume_bbl").sum().alias("bbl"),
                pl.col("volume_bbl_low").sum().alias("bbl_low"),
                pl.col("volume_bbl_high").sum().alias("bbl_high"),
            )
            .sort("date")
            .with_columns(pl.col("voyages", "bbl", "bbl_low", "bbl_high").cum_sum())
        )
        curve = [{**point, "date": point["date"].isoformat()} for point in daily.iter_rows(named=True)]

        def crossing(key: str) -> str | None:
            return next((p["date"] for p in curve if p[key] > row["cap_bbl"]), None)  # noqa: B023 (called in this iteration)

        years.append(
            {
                **{k: _iso(v) if isinstance(v, dt.date) else v for k, v in row.items()},
                "cumulative": curve,
                "curve_breach_date": crossing("bbl"),
                "curve_breach_date_low": crossing("bbl_low"),
                "curve_breach_date_high": crossing("bbl_high"),
            }
        )
    return years


def _months(first: dt.date, last: dt.date) -> list[str]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def voyages_per_month(voyages: pl.DataFrame, sanctioned_imos: set[str], top_vessels: int) -> dict:
    """Voyages per load-departure month (UTC) per vessel: every vessel, and the top ones the chart names."""
    if voyages.is_empty():
        return {"months": [], "vessels": [], "shown": [], "other": {"vessels": 0, "per_month": []}, "totals": []}
    dated = voyages.with_columns(_utc_date("load_departure_at").alias("date")).sort("load_departure_at")
    months = _months(dated["date"].min(), dated["date"].max())
    counts = (
        dated.with_columns(pl.col("date").dt.strftime("%Y-%m").alias("month"))
        .group_by("imo", "month")
        .agg(pl.len().alias("voyages"))
    )
    names = dated.group_by("imo").agg(pl.col("vessel_name").last())
    vessels = []
    for imo, name in names.iter_rows():
        by_month = dict(counts.filter(pl.col("imo") == imo).select("month", "voyages").iter_rows())
        per_month = [by_month.get(m, 0) for m in months]
        vessels.append(
            {
                "imo": imo, "vessel_name": name, "sanctioned": imo in sanctioned_imos,
                "total": sum(per_month), "per_month": per_month,
            }
        )
    vessels.sort(key=lambda v: (-v["total"], v["vessel_name"] or "", v["imo"]))
    # Naming all but one vessel and calling the last "other" would hide nothing; name it then.
    shown = vessels if len(vessels) <= top_vessels + 1 else vessels[:top_vessels]
    rest = vessels[len(shown):]
    return {
        "months": months,
        "vessels": vessels,
        "shown": [v["imo"] for v in shown],
        "other": {
            "vessels": len(rest),
            "per_month": [sum(v["per_month"][i] for v in rest) for i in range(len(months))],
        },
        "totals": [sum(v["per_month"][i] for v in vessels) for i in range(len(months))],
    }


def sanctioned_table(voyages: pl.DataFrame, sanctioned: pl.DataFrame) -> dict:
    """Designated hulls with voyages in the set, each with its voyages, volumes and evidence ids."""
    rows = []
    with_voyages = set(voyages["imo"].to_list())
    for vessel in sanctioned.sort("imo").iter_rows(named=True):
        if vessel["imo"] not in with_voyages:
            continue
        own = voyages.filter(pl.col("imo") == vessel["imo"]).sort("load_departure_at")
        trips = [
            {
                "voyage_id": v["voyage_id"],
                "vessel_name": v["vessel_name"],
                "load_port": v["load_port"],
                "load_departure_at": v["load_departure_at"].isoformat(),
                "discharge_port": v["discharge_port"],
                "destination_status": v["destination_status"],
                "counts_toward_cap": v["counts_toward_cap"],
                "sanctioned_on_departure": v["sanctioned"],
                "volume_bbl": v["volume_bbl"],
                "volume_bbl_low": v["volume_bbl_low"],
                "volume_bbl_high": v["volume_bbl_high"],
                "evidence_ids": list(v["evidence_ids"] or []),
            }
            for v in own.iter_rows(named=True)
        ]
        counted = [t for t in trips if t["counts_toward_cap"]]
        rows.append(
            {
                "imo": vessel["imo"],
                "vessel_name": vessel["vessel_name"],
                "lists": list(vessel["lists"] or []),
                "earliest_listed_on": _iso(vessel["earliest_listed_on"]),
                "voyages": len(trips),
                "counted_volume_bbl": sum(t["volume_bbl"] for t in counted),
                "counted_volume_bbl_low": sum(t["volume_bbl_low"] for t in counted),
                "counted_volume_bbl_high": sum(t["volume_bbl_high"] for t in counted),
                "voyage_list": trips,
            }
        )
    rows.sort(key=lambda r: (-r["voyages"], r["vessel_name"] or "", r["imo"]))
    return {"with_voyages": rows, "without_voyages": sanctioned.height - len(rows)}


def map_data(port_calls: pl.DataFrame, ports: pl.DataFrame, version_dir: Path) -> dict:
    """Ports from the seed table and the legs between each vessel's consecutive port calls."""
    ports = ports.with_columns(pl.col("latitude", "longitude").cast(pl.Float64))
    calls_at = dict(port_calls.group_by("port_id").agg(pl.len()).iter_rows())
    role = dict(ports.select("port_id", "role").iter_rows())
    placed = port_calls.filter(pl.col("port_id").is_in(ports["port_id"].implode()))
    legs = (
        placed.sort("imo", "arrival_at")
        .with_columns(pl.col("port_id").shift(1).over("imo").alias("from_port"))
        .filter(pl.col("from_port").is_not_null() & (pl.col("from_port") != pl.col("port_id")))
        .group_by("from_port", "port_id")
        .agg(pl.len().alias("legs"), pl.col("imo").n_unique().alias("vessels"))
        .sort("from_port", "port_id")
    )
    points = {"sts_transfers": [], "ais_dark_ends": []}
    sts_path, dark_path = version_dir / "sts_transfers.parquet", version_dir / "ais_dark_periods.parquet"
    if sts_path.exists():
        points["sts_transfers"] = pl.read_parquet(sts_path).select("latitude", "longitude").drop_nulls().rows()
    if dark_path.exists():
        dark = pl.read_parquet(dark_path)
        points["ais_dark_ends"] = [
            *dark.select("last_latitude", "last_longitude").drop_nulls().rows(),
            *dark.select("first_latitude", "first_longitude").drop_nulls().rows(),
        ]
    return {
        "ports": [
            {**p, "calls": calls_at.get(p["port_id"], 0)}
            for p in ports.select(
                "port_id", "port_name", "country_iso2", "role", "latitude", "longitude"
            ).iter_rows(named=True)
        ],
        "legs": [
            {
                "from": a,
                "to": b,
                "legs": n,
                "vessels": k,
                "terminal_to_dprk": role.get(a) == "load_terminal" and role.get(b) == "discharge_port",
            }
            for a, b, n, k in legs.iter_rows()
        ],
        "calls": port_calls.height,
        "calls_at_unknown_ports": port_calls.height - placed.height,
        **{name: [[lat, lon] for lat, lon in rows] for name, rows in points.items()},
    }


def demo_sources(manifest: dict, demo_dir: Path = DEMO_DIR) -> list[str]:
    """The sources whose fetched bytes are one of the bundled demo's files (same sha256), wherever they were read
    from: a copy of the demo served over HTTP or named by an absolute path is still the demo.

    Decided from the set's manifest, not from its numbers: a real feed never matches a demo file byte for byte."""
    digests = set()
    for path in demo_dir.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                digests.add(hashlib.file_digest(fh, "sha256").hexdigest())
    entries = manifest.get("sources") or []
    return sorted({e.get("source") or e.get("url") for e in entries if e.get("sha256") in digests})


def source_snapshots(manifest: dict) -> list[dict]:
    """One row per fetched file of each source: what was read and when (the snapshot the numbers rest on)."""
    rows = [
        {
            "source": entry.get("source"),
            "role": entry.get("role"),
            "kind": entry.get("kind"),
            "url": entry.get("url"),
            "partition_day": entry.get("partition_day"),
            "fetched_at": entry.get("fetched_at"),
            "snapshot_id": (entry.get("sha256") or "")[:16] or None,
            "bytes": entry.get("bytes"),
        }
        for entry in manifest.get("sources") or []
    ]
    return sorted(rows, key=lambda r: (r["source"] or "", r["role"] or "", r["partition_day"] or ""))


def _stamp(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def timeline_data(voyages: pl.DataFrame, port_calls: pl.DataFrame, version_dir: Path) -> dict:
    """Per vessel: its port calls, voyages, AIS dark periods and ship-to-ship transfers, as UTC intervals."""
    dark_path, sts_path = version_dir / "ais_dark_periods.parquet", version_dir / "sts_transfers.parquet"
    dark = pl.read_parquet(dark_path) if dark_path.exists() else None
    sts = pl.read_parquet(sts_path) if sts_path.exists() else None
    vessels: dict[str, dict] = {}

    def vessel(imo: str, name: str | None) -> dict:
        row = vessels.setdefault(
            imo, {"imo": imo, "vessel_name": name, "calls": [], "voyages": [], "dark_periods": [], "transfers": []}
        )
        row["vessel_name"] = row["vessel_name"] or name
        return row

    for v in voyages.sort("load_departure_at").iter_rows(named=True):
        vessel(v["imo"], v["vessel_name"])["voyages"].append({
            "voyage_id": v["voyage_id"],
            "start": _stamp(v["load_departure_at"]),
            "end": _stamp(v.get("discharge_arrival_at")),
            "destination_status": v["destination_status"],
            "counts_toward_cap": v["counts_toward_cap"],
        })
    for c in port_calls.sort("arrival_at").iter_rows(named=True):
        vessel(c["imo"], c.get("vessel_name"))["calls"].append({
            "port_call_id": c["port_call_id"],
            "port_id": c["port_id"],
            "port_role": c.get("port_role"),
            "start": _stamp(c["arrival_at"]),
            "end": _stamp(c["departure_at"]),
        })
    if dark is not None:
        for d in dark.sort("went_dark_at").iter_rows(named=True):
            vessel(d["imo"], d.get("vessel_name"))["dark_periods"].append({
                "dark_period_id": d["dark_period_id"], "start": _stamp(d["went_dark_at"]),
                "end": _stamp(d["reappeared_at"]),
            })
    if sts is not None:
        for t in sts.sort("started_at").iter_rows(named=True):
            for side, other in (("giver", "receiver"), ("receiver", "giver")):
                vessel(t[f"{side}_imo"], t[f"{side}_name"])["transfers"].append({
                    "encounter_id": t["encounter_id"], "role": side, "other_imo": t[f"{other}_imo"],
                    "start": _stamp(t["started_at"]), "end": _stamp(t["ended_at"]),
                })
    rows = sorted(
        vessels.values(),
        key=lambda r: (-len(r["voyages"]), -len(r["calls"]), r["vessel_name"] or "", r["imo"]),
    )
    for row in rows:
        row["counts"] = {k: len(row[k]) for k in ("calls", "voyages", "dark_periods", "transfers")}
    return {"vessels": rows, "drawn": [r["imo"] for r in rows[:TIMELINE_VESSELS]]}


def evidence_anchor(evidence_id: str) -> str:
    """The page anchor of an evidence id: ids hold ':' and '@', which are awkward in fragments."""
    return "ev-" + re.sub(r"[^A-Za-z0-9_.-]", "-", evidence_id)


def evidence_data(voyages: pl.DataFrame, evidence: pl.DataFrame | None) -> dict:
    """Every evidence id the voyages name, with the sighting it names where the report was given it."""
    named = sorted({e for ids in voyages["evidence_ids"].to_list() for e in (ids or [])})
    by_id: dict[str, dict] = {}
    if evidence is not None:
        for row in evidence.iter_rows(named=True):
            by_id[row["sighting_id"]] = {
                k: (_stamp(v) if isinstance(v, dt.datetime) else v) for k, v in row.items() if k != "sighting_id"
            }
    anchors: dict[str, str] = {}
    for e in named:
        anchor = evidence_anchor(e)
        while anchor in anchors.values():
            anchor += "_"
        anchors[e] = anchor
    return {
        "ids": [{"id": e, "anchor": anchors[e], "sighting": by_id.get(e)} for e in named],
        "missing": sum(e not in by_id for e in named),
    }


SIGHTING_COLUMNS = (
    "sighting_id", "evidence_kind", "source_name", "snapshot_id", "source_row", "imo", "observed_at",
    "latitude", "longitude", "port_id", "state", "laden_state", "load_fraction", "draught_m",
)


def sightings(con: duckdb.DuckDBPyConnection, evidence_ids: list[str]) -> pl.DataFrame:
    """The warehouse's sightings with these ids: time, place, vessel, state, and the source, snapshot and line."""
    return fetch_frame(
        con,
        """
        select
            i.sighting_id, i.evidence_kind, i.source_name, i.snapshot_id, i.source_row, i.imo, i.observed_at,
            i.latitude, i.longitude, s.port_id, s.state, i.laden_state, i.load_fraction, s.draught_m
        from int_sighting_identities as i
        left join (
            select sighting_id, any_value(port_id) as port_id, any_value(state) as state,
                any_value(draught_m) as draught_m
            from int_sightings
            where sighting_id in (select unnest(?::varchar[]))
            group by sighting_id
        ) as s on s.sighting_id = i.sighting_id
        where i.sighting_id in (select unnest(?::varchar[]))
        order by i.observed_at, i.sighting_id
        """,
        [evidence_ids, evidence_ids],
    )


# --- the figures -----------------------------------------------------------------------------


def _bbl(value: float, _pos: Any = None) -> str:
    return f"{value:,.0f}"


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _empty(fig: Figure, message: str) -> Figure:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=14, color="#444444")
    return fig


def cap_figure(data: dict) -> Figure:
    """Cumulative barrels per year against the cap: central line, low-high band, breach dates."""
    years = data["cap"]
    if not years:
        return _empty(Figure(figsize=(11, 3)), "No voyages counted toward the cap in this set.")
    fig = Figure(figsize=(11, 4.6 * len(years)), layout="constrained")
    for ax, year in zip(fig.subplots(len(years), 1, squeeze=False)[:, 0], years, strict=True):
        start, end = dt.date(year["year"], 1, 1), dt.date(year["year"], 12, 31)
        curve = year["cumulative"]
        dates = [start, *[_date(p["date"]) for p in curve]]

        def series(key: str) -> list[float]:
            return [0.0, *[p[key] for p in curve]]  # noqa: B023 (called in this iteration)

        ax.fill_between(dates, series("bbl_low"), series("bbl_high"), step="post", color=BAND_COLOR, alpha=0.35,
                        label="low-high estimate")
        ax.step(dates, series("bbl"), where="post", color=CENTRAL_COLOR, linewidth=2.2, label="central estimate")
        ax.axhline(year["cap_bbl"], color=CAP_COLOR, linestyle="--", linewidth=1.6,
                   label=f"UN cap {year['cap_bbl']:,.0f} bbl")
        low, central, high = (_date(year[k]) for k in ("breach_date_low", "breach_date", "breach_date_high"))
        if high or low:
            ax.axvspan(high or start, low or end, color=CAP_COLOR, alpha=0.08, label="breach date range (high-low)")
        if central:
            ax.axvline(central, color=CAP_COLOR, linewidth=1.6)
            ax.annotate(f"cap breached {central.isoformat()}", xy=(central, year["cap_bbl"]),
                        xytext=(12, 28), textcoords="offset points", color=CAP_COLOR, fontsize=11, fontweight="bold",
                        arrowprops={"arrowstyle": "->", "color": CAP_COLOR})
        else:
            ax.text(0.02, 0.92, "cap not breached (central estimate)", transform=ax.transAxes, color=CENTRAL_COLOR,
                    fontsize=11, fontweight="bold", va="top")
        ax.set_xlim(start, end)
        top = max([year["cap_bbl"], *series("bbl_high")])
        ax.set_ylim(0, top * 1.12)
        ax.yaxis.set_major_formatter(FuncFormatter(_bbl))
        ax.set_ylabel("barrels, cumulative")
        ax.set_title(
            f"{year['year']}: {year['delivered_bbl']:,.0f} bbl in {plural(year['voyages'], 'voyage')} "
            f"(range {year['delivered_bbl_low']:,.0f}-{year['delivered_bbl_high']:,.0f}) against the cap",
            fontsize=12, loc="left",
        )
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=9)
    return fig


def voyages_figure(data: dict) -> Figure:
    """Voyages per month stacked by vessel; sanctioned vessels hatched; beyond the top vessels, one 'other' band."""
    per = data["voyages_per_month"]
    months = per["months"]
    if not months:
        return _empty(Figure(figsize=(11, 3)), "No voyages in this set.")
    fig = Figure(figsize=(max(11.0, 0.45 * len(months) + 6), 5.2), layout="constrained")
    ax = fig.add_subplot()
    by_imo = {v["imo"]: v for v in per["vessels"]}
    palette = VESSEL_COLORS
    x = list(range(len(months)))
    bottom = [0] * len(months)
    for i, imo in enumerate(per["shown"]):
        vessel = by_imo[imo]
        label = f"{vessel['vessel_name']} ({imo})" + (" - sanctioned" if vessel["sanctioned"] else "")
        ax.bar(x, vessel["per_month"], bottom=bottom, color=palette[i % len(palette)], edgecolor="white",
               hatch=SANCTIONED_HATCH if vessel["sanctioned"] else None, linewidth=0.6, label=label)
        bottom = [b + c for b, c in zip(bottom, vessel["per_month"], strict=True)]
    if per["other"]["vessels"]:
        ax.bar(x, per["other"]["per_month"], bottom=bottom, color=OTHER_COLOR, edgecolor="white", linewidth=0.6,
               label=f"other ({plural(per['other']['vessels'], 'vessel')})")
    for xi, total in zip(x, per["totals"], strict=True):
        if total:
            ax.text(xi, total, str(total), ha="center", va="bottom", fontsize=10, fontweight="bold")
    ax.set_xticks(x, months, rotation=45 if len(months) > 12 else 0, ha="right" if len(months) > 12 else "center")
    ax.set_ylim(0, max(per["totals"]) * 1.15 + 0.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("voyages (by load departure month, UTC)")
    ax.set_title(f"Voyages per month: {plural(data['voyages'], 'voyage')} by {plural(data['vessels'], 'vessel')}",
                 fontsize=12, loc="left")
    ax.grid(axis="y", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if any(by_imo[imo]["sanctioned"] for imo in per["shown"]):
        handles.append(Patch(facecolor="white", edgecolor="#333333", hatch=SANCTIONED_HATCH,
                             label="hatched: designated by a loaded sanctions list"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    return fig


def _land() -> list[list[tuple[float, float]]]:
    """The bundled Natural Earth land rings (seeds/natural_earth), outer rings and holes alike."""
    doc = json.loads(LAND.read_text(encoding="utf-8"))
    rings = []
    for feature in doc["features"]:
        geometry = feature["geometry"]
        parts = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings += [[(x, y) for x, y in ring] for part in parts for ring in part]
    return rings


def map_figure(data: dict) -> Figure:
    """Land, load terminals, DPRK ports and the legs between consecutive port calls, on longitude/latitude axes."""
    m = data["map"]
    ports = {p["port_id"]: p for p in m["ports"]}
    shown = [p for p in m["ports"] if p["role"] in ("load_terminal", "discharge_port") or p["calls"]]
    fig = Figure(figsize=(11, 8.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_facecolor("#d6e6f2")
    if not shown:
        ax.text(0.5, 0.5, "No ports to draw.", ha="center", va="center", transform=ax.transAxes)
        return fig
    # Holes (lakes) are drawn as land too: at this scale they are a few pixels, and none is a port.
    ax.add_collection(PolyCollection(_land(), facecolor="#f4f1ea", edgecolor="#8c8c8c", linewidth=0.6, zorder=1,
                                      label="land (Natural Earth 1:10m)"))
    most = max([leg["legs"] for leg in m["legs"]] or [1])
    most_calls = max([p["calls"] for p in shown] + [1])
    labels: list[dict] = []
    for leg in sorted(m["legs"], key=lambda leg: leg["legs"]):
        a, b = ports[leg["from"]], ports[leg["to"]]
        color = CAP_COLOR if leg["terminal_to_dprk"] else "#4d4d4d"
        ax.annotate(
            "", xy=(b["longitude"], b["latitude"]), xytext=(a["longitude"], a["latitude"]),
            arrowprops={"arrowstyle": "-|>", "connectionstyle": "arc3,rad=0.12", "color": color,
                        "alpha": 0.75, "linewidth": 0.8 + 4.2 * math.sqrt(leg["legs"] / most),
                        "shrinkA": 6, "shrinkB": 6},
            zorder=2,
        )
        mid_x = (a["longitude"] + b["longitude"]) / 2 + 0.06 * (a["latitude"] - b["latitude"])
        mid_y = (a["latitude"] + b["latitude"]) / 2 - 0.06 * (a["longitude"] - b["longitude"])
        labels.append({"xy": (mid_x, mid_y), "text": str(leg["legs"]), "gid": "leg-label", "fontsize": 8,
                       "color": color, "bbox": {"boxstyle": "round,pad=0.15", "facecolor": "white",
                                                "edgecolor": "none", "alpha": 0.8}})
    for role, style in ROLE_STYLE.items():
        group = [p for p in shown if p["role"] == role]
        if not group:
            continue
        ax.scatter([p["longitude"] for p in group], [p["latitude"] for p in group], marker=style["marker"],
                   s=[50 + 250 * math.sqrt(p["calls"] / most_calls) for p in group],
                   color=style["color"], edgecolor="black", linewidth=0.6, zorder=3, label=style["label"])
    for p in sorted(shown, key=lambda p: -p["calls"]):
        labels.append({"xy": (p["longitude"], p["latitude"]), "text": f"{p['port_name']} ({p['calls']})",
                       "gid": "port-label", "fontsize": 9 if p["calls"] else 8,
                       "color": "black" if p["calls"] else "#555555",
                       "bbox": {"boxstyle": "square,pad=0.1", "facecolor": "#ffffff", "edgecolor": "none",
                                "alpha": 0.6}})
    if m["sts_transfers"]:
        lat, lon = zip(*m["sts_transfers"], strict=True)
        ax.scatter(lon, lat, marker="X", s=70, color="#6a3d9a", zorder=3, label="ship-to-ship transfer")
    if m["ais_dark_ends"]:
        lat, lon = zip(*m["ais_dark_ends"], strict=True)
        ax.scatter(lon, lat, marker="o", s=22, facecolor="none", edgecolor="#1b7837", zorder=3,
                   label="AIS went dark / reappeared")
    ax.plot([], [], color=CAP_COLOR, linewidth=2.5, label="load terminal -> DPRK port (legs)")
    ax.plot([], [], color="#4d4d4d", linewidth=2.5, label="other leg between calls")
    lats = [p["latitude"] for p in shown] + [lat for lat, _ in m["sts_transfers"] + m["ais_dark_ends"]]
    lons = [p["longitude"] for p in shown] + [lon for _, lon in m["sts_transfers"] + m["ais_dark_ends"]]
    pad = 0.6
    ax.set_xlim(min(lons) - pad, max(lons) + pad)
    ax.set_ylim(min(lats) - pad, max(lats) + pad)
    ax.set_aspect(1 / math.cos(math.radians((min(lats) + max(lats)) / 2)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.1f}°E"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.1f}°N"))
    ax.grid(alpha=0.5, color="white", zorder=0)
    legs = sum(leg["legs"] for leg in m["legs"])
    ax.set_title(
        f"Ports (calls in brackets) and {plural(legs, 'leg')} between consecutive port calls; "
        "lines join ports, not sailed paths",
        fontsize=11, loc="left",
    )
    ax.legend(loc="upper left", fontsize=9, framealpha=0.9).set_zorder(6)
    _place_labels(fig, ax, labels)
    return fig


# Candidate offsets of a label from its point, in points: beside, above, below, then farther out.
_OFFSETS = [
    (dx * r, dy * r)
    for r in (1, 2, 3.2, 4.6)
    for dx, dy in ((7, 3), (-7, 3), (7, -11), (-7, -11), (0, 9), (0, -17), (12, -4), (-12, -4))
]


def _place_labels(fig: Figure, ax: Any, labels: list[dict]) -> None:
    """Put each label at the first candidate offset where its box meets no label already placed and no legend.

    Ports cluster (four load terminals within 30 km), so a fixed side would print names over each other.
    The layout is fixed first: a layout engine that moved the axes after placement would undo the check."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    fig.set_layout_engine("none")
    renderer = canvas.get_renderer()
    legend = ax.get_legend()
    taken = [legend.get_window_extent(renderer).padded(2)] if legend else []
    frame = ax.get_window_extent(renderer)
    for label in labels:
        text = None
        for dx, dy in _OFFSETS:
            if text is not None:
                text.remove()
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            text = ax.annotate(label["text"], label["xy"], xytext=(dx, dy), textcoords="offset points", ha=ha,
                               va="bottom", fontsize=label["fontsize"], color=label["color"], bbox=label["bbox"],
                               zorder=5, gid=label["gid"], annotation_clip=False)
            box = text.get_window_extent(renderer).padded(1)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in taken):
                break
        taken.append(text.get_window_extent(renderer).padded(1))


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def timeline_figure(data: dict) -> Figure:
    """One row per vessel: port calls as blocks by port role, voyages as lines to the discharge call, AIS dark
    periods as hatched spans, ship-to-ship transfers as crosses."""
    timeline = data["timeline"]
    by_imo = {v["imo"]: v for v in timeline["vessels"]}
    rows = [by_imo[imo] for imo in timeline["drawn"]]
    if not rows:
        return _empty(Figure(figsize=(11, 3)), "No vessel has a port call, voyage, dark period or transfer.")
    fig = Figure(figsize=(11, 1.6 + 0.42 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    role_color = {role: style["color"] for role, style in ROLE_STYLE.items()}
    for y, vessel in enumerate(rows):
        for d in vessel["dark_periods"]:
            start, end = _when(d["start"]), _when(d["end"])
            ax.broken_barh([(start, end - start)], (y - 0.38, 0.76), facecolor="#e5f5e0", edgecolor="#1b7837",
                           hatch="....", linewidth=0.6, zorder=1)
        for v in vessel["voyages"]:
            start = _when(v["start"])
            end = _when(v["end"]) if v["end"] else start + dt.timedelta(days=1)
            ax.plot([start, end], [y, y], color=CAP_COLOR if v["counts_toward_cap"] else "#4d4d4d",
                    linewidth=2.4, solid_capstyle="butt", zorder=3)
        for c in vessel["calls"]:
            start, end = _when(c["start"]), _when(c["end"])
            # a call shorter than a few hours would be invisible at a year's width
            width = max(end - start, dt.timedelta(hours=30))
            ax.broken_barh([(start, width)], (y - 0.25, 0.5),
                           facecolor=role_color.get(c["port_role"] or "other", role_color["other"]),
                           edgecolor="black", linewidth=0.3, zorder=2)
        for t in vessel["transfers"]:
            ax.scatter([_when(t["start"])], [y], marker="X", s=60, color="#6a3d9a", zorder=4)
    ax.set_yticks(range(len(rows)), [f"{v['vessel_name'] or '?'} ({v['imo']})" for v in rows], fontsize=9)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"What each vessel did: {plural(len(timeline['vessels']), 'vessel')}"
                 + (f", the {len(rows)} with the most voyages drawn" if len(rows) < len(timeline["vessels"]) else ""),
                 fontsize=12, loc="left")
    handles = [
        Patch(facecolor=ROLE_STYLE["load_terminal"]["color"], edgecolor="black", label="call at a load terminal"),
        Patch(facecolor=ROLE_STYLE["discharge_port"]["color"], edgecolor="black", label="call at a DPRK port"),
        Patch(facecolor=ROLE_STYLE["other"]["color"], edgecolor="black", label="call at another port"),
        ax.plot([], [], color=CAP_COLOR, linewidth=2.4, label="voyage counted toward the cap")[0],
        ax.plot([], [], color="#4d4d4d", linewidth=2.4, label="voyage not counted")[0],
        Patch(facecolor="#e5f5e0", edgecolor="#1b7837", hatch="....", label="AIS dark period"),
        ax.scatter([], [], marker="X", s=60, color="#6a3d9a", label="ship-to-ship transfer"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, -0.04 - 0.5 / len(rows)), ncols=4,
              fontsize=8, frameon=False)
    return fig


def _png(fig: Figure, target: Path | io.BytesIO, dpi: int = DPI) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(target, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})


# --- the page --------------------------------------------------------------------------------

def plural(count: int | float, word: str, words: str | None = None) -> str:
    """'1 voyage', '2 voyages', '1,059 voyages': every count on the page and in the figures says it this way."""
    return f"{count:,.0f} {word if count == 1 else (words or word + 's')}"


CSS = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 24px auto; max-width: 1250px; padding: 0 12px;
  color: #222; }
.meta, .demo, .headline, figcaption { overflow-wrap: anywhere; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 2px solid #ddd; }
.meta { color: #666; font-size: 13px; } .headline { font-size: 18px; background: #fdf1f1; padding: 12px 16px; }
.demo { background: #fff4ce; border: 2px solid #e0a800; padding: 10px 14px; margin: 12px 0; font-size: 15px; }
figure { margin: 12px 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 13px; }
.scroll { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 4px 7px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ids { font-family: 'DejaVu Sans Mono', monospace; font-size: 11px; max-width: 420px; word-break: break-all; }
td.ids a { display: inline-block; margin-right: 6px; }
tr:target { background: #fff4ce; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def headline_sentences(data: dict) -> list[str]:
    """One sentence per cap year, as the published cap tracker states it."""
    if not data["cap"]:
        return ["No voyage in this set counts toward the cap."]
    out = []
    for y in data["cap"]:
        breach = (
            f"the cap of {y['cap_bbl']:,.0f} bbl was breached on {y['breach_date']} "
            f"(low estimate {y['breach_date_low'] or 'not breached'}, high {y['breach_date_high'] or 'not breached'})"
            if y["breach_date"]
            else f"the cap of {y['cap_bbl']:,.0f} bbl was not breached"
            + (f" (high estimate breached on {y['breach_date_high']})" if y["breach_date_high"] else "")
        )
        out.append(
            f"{y['year']}: {plural(y['voyages'], 'voyage')} counted toward the cap, {y['delivered_bbl']:,.0f} bbl "
            f"(range {y['delivered_bbl_low']:,.0f}-{y['delivered_bbl_high']:,.0f}); {breach}."
        )
    return out


def _cap_table(data: dict) -> str:
    head = (
        "year", "cap bbl", "voyages", "delivered bbl", "low", "high", "breach date", "low estimate", "high estimate"
    )
    rows = "".join(
        "<tr>" + "".join(
            [f"<td>{y['year']}</td>", f'<td class="n">{y["cap_bbl"]:,.0f}</td>', f'<td class="n">{y["voyages"]}</td>']
            + [f'<td class="n">{y[k]:,.0f}</td>' for k in ("delivered_bbl", "delivered_bbl_low", "delivered_bbl_high")]
            + [f"<td>{_e(y[k] or 'not breached')}</td>" for k in ("breach_date", "breach_date_low", "breach_date_high")]
        ) + "</tr>"
        for y in data["cap"]
    )
    return _table(head, rows, 'id="cap-table"') if rows else "<p>No cap-tracker years in this set.</p>"


def _table(head: Iterable[str], rows: str, attrs: str) -> str:
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<div class="scroll"><table {attrs}><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table></div>'


def _evidence_links(ids: list[str], anchors: dict[str, str]) -> str:
    return " ".join(f'<a href="#{_e(anchors[e])}">{_e(e)}</a>' if e in anchors else _e(e) for e in ids)


def _sanctioned_table(data: dict) -> str:
    table = data["sanctioned_vessels"]
    anchors = {e["id"]: e["anchor"] for e in data["evidence"]["ids"]}
    head = ("vessel", "IMO", "lists", "voyage", "load departure (UTC)", "destination", "counts", "volume bbl",
            "low-high bbl", "evidence ids")
    rows = []
    for vessel in table["with_voyages"]:
        span = len(vessel["voyage_list"])
        for i, v in enumerate(vessel["voyage_list"]):
            cells = []
            if i == 0:
                cells += [
                    f'<td rowspan="{span}"><b>{_e(vessel["vessel_name"])}</b><br>'
                    f'{plural(vessel["voyages"], "voyage")}, {vessel["counted_volume_bbl"]:,.0f} bbl counted</td>',
                    f'<td rowspan="{span}">{_e(vessel["imo"])}</td>',
                    f'<td rowspan="{span}">{_e("; ".join(vessel["lists"]))}'
                    f'<br>listed {_e(vessel["earliest_listed_on"] or "date unknown")}</td>',
                ]
            destination = v["discharge_port"] or "-"
            cells += [
                f"<td>{_e(v['voyage_id'])}</td>",
                f"<td>{_e(v['load_departure_at'][:16].replace('T', ' '))} from {_e(v['load_port'])}</td>",
                f"<td>{_e(destination)} ({_e(v['destination_status'])})</td>",
                f"<td>{'yes' if v['counts_toward_cap'] else 'no'}</td>",
                f'<td class="n">{v["volume_bbl"]:,.0f}</td>',
                f'<td class="n">{v["volume_bbl_low"]:,.0f}-{v["volume_bbl_high"]:,.0f}</td>',
                f'<td class="ids">{_evidence_links(v["evidence_ids"], anchors)}</td>',
            ]
            rows.append(f'<tr data-imo="{_e(vessel["imo"])}">{"".join(cells)}</tr>')
    without = table["without_voyages"]
    note = (
        f"<p>{plural(without, 'further designated hull')} {'has' if without == 1 else 'have'} "
        "no voyages in this set.</p>"
        if without else ""
    )
    if not rows:
        return "<p>No designated vessel made a voyage in this set.</p>" + note
    return _table(head, "".join(rows), 'id="sanctioned-table"') + note


def _figure(name: str, alt: str, caption: str) -> str:
    return f'<figure><img src="{name}" alt="{_e(alt)}"><figcaption>{_e(caption)}</figcaption></figure>'


def _demo_banner(data: dict) -> str:
    if not data["demo_sources"]:
        return ""
    return (
        '<div class="demo" id="demo-banner"><b>Demo data.</b> This set was built from the bundled demo sources '
        f"({_e(', '.join(data['demo_sources']))}). The demo's registry particulars and its imagery and AIS logs are "
        "synthetic, generated by demo/generate.py to match the public facts of the 2024 case; its sanctions "
        "excerpts are real. The numbers show what tankerwatch does, not findings about any real voyage.</div>"
    )


ASSUMPTION_LABELS = (
    ("product", "refined product assumed for every cargo"),
    ("barrels_per_tonne", "barrels per tonne of that product"),
    ("barrels_per_m3", "barrels per cubic metre"),
    ("cargo_share_of_dwt", "cargo share of deadweight (central)"),
    ("cargo_share_of_dwt_low", "cargo share of deadweight (low)"),
    ("cargo_share_of_dwt_high", "cargo share of deadweight (high)"),
    ("default_load_fraction", "load fraction when none was observed (central)"),
    ("default_load_fraction_low", "load fraction when none was observed (low)"),
    ("default_load_fraction_high", "load fraction when none was observed (high)"),
    ("observed_fraction_margin", "margin around observed load fractions"),
    ("cap_bbl", "UN cap, barrels per year"),
)


def _assumptions(data: dict) -> str:
    values = data["assumptions"]
    if not values:
        return "<p>This set's manifest records no volume assumptions.</p>"
    known = dict(ASSUMPTION_LABELS)
    rows = "".join(
        f'<tr><td>{_e(known.get(k, k))}</td><td><code>{_e(k)}</code></td><td class="n">'
        f'{_e(f"{v:,.4g}" if isinstance(v, float) and k != "cap_bbl" else f"{v:,.0f}" if k == "cap_bbl" else v)}'
        "</td></tr>"
        for k, v in sorted(values.items(), key=lambda kv: [k for k, _ in ASSUMPTION_LABELS].index(kv[0])
                           if kv[0] in known else len(known))
    )
    return _table(("assumption", "name", "value"), rows, 'id="assumptions-table"')


def _sources(data: dict) -> str:
    if not data["sources"]:
        return "<p>This set's manifest lists no source snapshots.</p>"
    rows = "".join(
        f"<tr><td>{_e(r['source'])}</td><td>{_e(r['role'])}</td><td>{_e(r['kind'])}</td><td>{_e(r['url'])}</td>"
        f"<td>{_e(r['partition_day'] or '-')}</td><td>{_e((r['fetched_at'] or '')[:10])}</td>"
        f"<td><code>{_e(r['snapshot_id'])}</code></td></tr>"
        for r in data["sources"]
    )
    head = ("source", "file", "kind", "url", "day", "snapshot taken (UTC)", "snapshot id")
    return _table(head, rows, 'id="sources-table"')


def _vessel_table(data: dict) -> str:
    vessels = data["timeline"]["vessels"]
    if not vessels:
        return ""
    rows = "".join(
        f'<tr data-imo="{_e(v["imo"])}"><td>{_e(v["vessel_name"])}</td><td>{_e(v["imo"])}</td>'
        + "".join(f'<td class="n">{v["counts"][k]}</td>' for k in ("calls", "voyages", "dark_periods", "transfers"))
        + "</tr>"
        for v in vessels
    )
    head = ("vessel", "IMO", "port calls", "voyages", "AIS dark periods", "ship-to-ship transfers")
    return _table(head, rows, 'id="vessel-table"')


def _evidence_appendix(data: dict) -> str:
    ev = data["evidence"]
    if not ev["ids"]:
        return "<p>No voyage in this set names evidence.</p>"
    rows = []
    for e in ev["ids"]:
        s = e["sighting"]
        if s is None:
            cells = '<td colspan="8">sighting not in this report\'s data</td>'
        else:
            state = s.get("state") or s.get("laden_state") or "-"
            if s.get("load_fraction") is not None:
                state += f", {s['load_fraction']:.2f} full"
            if s.get("draught_m") is not None:
                state += f", draught {s['draught_m']:.1f} m"
            place = f"{s['latitude']:.4f}°N {s['longitude']:.4f}°E" if s.get("latitude") is not None else "-"
            cells = (
                f"<td>{_e((s.get('observed_at') or '').replace('T', ' '))}</td><td>{_e(s.get('imo'))}</td>"
                f"<td>{_e(place)}</td><td>{_e(s.get('port_id') or 'at sea')}</td><td>{_e(state)}</td>"
                f"<td>{_e(s.get('source_name'))} ({_e(s.get('evidence_kind'))})</td>"
                f"<td><code>{_e(s.get('snapshot_id'))}</code></td><td class=\"n\">{_e(s.get('source_row'))}</td>"
            )
        rows.append(f'<tr id="{_e(e["anchor"])}"><td class="ids">{_e(e["id"])}</td>{cells}</tr>')
    head = ("evidence id", "seen (UTC)", "IMO", "position", "port", "state", "source", "snapshot", "line")
    return _table(head, "".join(rows), 'id="evidence-table"')


def report_html(data: dict) -> str:
    per = data["voyages_per_month"]
    other = per["other"]["vessels"]
    unknown_ports = data["map"]["calls_at_unknown_ports"]
    timeline = data["timeline"]
    cap_caption = (
        "Cumulative barrels of the voyages that count toward the cap, by load departure date (UTC), with the "
        "low-high estimate as a band; the dashed line is the cap, the vertical line the breach date and the shaded "
        "span the breach dates of the high and low estimates."
    )
    voyages_caption = (
        "Every published voyage by the month of its load departure (UTC), stacked by vessel; hatched vessels are "
        "designated by a loaded sanctions list."
        + (f" The {plural(other, 'vessel')} with the fewest voyages are summed as 'other'." if other else "")
    )
    map_caption = (
        "Land from Natural Earth (1:10m, public domain). Port points from the project's port table; each arrow "
        f"joins a vessel's consecutive port calls ({plural(data['map']['calls'], 'published call')}), thicker for "
        "more legs, numbered by legs."
        + (f" {plural(unknown_ports, 'call')} at ports missing from the table are not drawn." if unknown_ports else "")
    )
    hidden = len(timeline["vessels"]) - len(timeline["drawn"])
    timeline_caption = (
        "One row per vessel, by UTC date: port calls as blocks coloured by the port's role, voyages as lines from "
        "load departure to the discharge call (red when counted toward the cap), AIS dark periods hatched, "
        "ship-to-ship transfers as crosses."
        + (f" {plural(hidden, 'vessel')} with fewer voyages are in the table only." if hidden else "")
    )
    missing = data["evidence"]["missing"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tankerwatch report {_e(data['version'])}</title>
<style>{CSS}</style></head>
<body>
<h1>tankerwatch: DPRK tanker loads at the Russian Far East terminals</h1>
{_demo_banner(data)}
<p class="meta">Published set {_e(data['version'])}, created {_e(data['created_at'])}, run {_e(data['run_id'])}.
Every number here is read from this set's parquet files; <a href="{REPORT_DATA}">{REPORT_DATA}</a> holds them.
The voyages as a spreadsheet: <a href="{VOYAGES_CSV}" download>{VOYAGES_CSV}</a>.</p>
<div class="headline">{'<br>'.join(_e(s) for s in headline_sentences(data))}</div>

<h2>The cap</h2>
{_figure(CAP_FIGURE, "Cumulative barrels per year against the cap", cap_caption)}
{_cap_table(data)}

<h2>Voyages per month</h2>
{_figure(VOYAGES_FIGURE, "Voyages per month stacked by vessel", voyages_caption)}

<h2>Ports and routes</h2>
{_figure(MAP_FIGURE, "Map of load terminals, DPRK ports and legs between port calls", map_caption)}

<h2>Each vessel's year</h2>
{_figure(TIMELINE_FIGURE, "Timeline per vessel of port calls, voyages, dark periods and transfers", timeline_caption)}
{_vessel_table(data)}

<h2>Sanctioned vessels and their voyages</h2>
<p>Each evidence id links to the sighting it names, in the appendix.</p>
{_sanctioned_table(data)}

<h2>Assumptions and sources</h2>
<p>Volumes are estimates: capacity from the registry (or deadweight) times a load fraction, converted with the
factors below, as this set's manifest records them.</p>
{_assumptions(data)}
<p>The source snapshots this set was built from, as fetched:</p>
{_sources(data)}

<h2 id="evidence">Appendix: the sightings behind the evidence ids</h2>
<p>{plural(len(data['evidence']['ids']), 'evidence id')} named by the voyages{
    f" ({plural(missing, 'sighting')} not in this report's data)" if missing else ""}: when and where each
sighting was made, and the line of the source snapshot it was read from.</p>
{_evidence_appendix(data)}
</body></html>
"""


# --- writing ---------------------------------------------------------------------------------


# A list cell in the CSV: ids and list names hold no ';', and a spreadsheet shows the cell as one text.
CSV_LIST_SEPARATOR = "; "


def write_voyages_csv(version_dir: Path, target: Path) -> None:
    """voyages.parquet as CSV: the same rows and columns, times in UTC ISO 8601, lists joined by '; '."""
    voyages = pl.read_parquet(Path(version_dir) / "voyages.parquet")
    voyages.with_columns(
        pl.col(name).list.join(CSV_LIST_SEPARATOR)
        for name, dtype in voyages.schema.items()
        if isinstance(dtype, pl.List)
    ).write_csv(target, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ", date_format="%Y-%m-%d")


def build_report(
    version_dir: Path,
    out_dir: Path | None = None,
    ports_csv: Path = SEEDS_DIR / "ports.csv",
    evidence: pl.DataFrame | None = None,
) -> dict:
    """Write report.html, report_data.json, voyages.csv and the PNG figures of the set in `version_dir` to
    `out_dir`.

    Returns the report data."""
    out_dir = Path(out_dir or version_dir)
    data = report_data(version_dir, ports_csv, evidence=evidence)
    write_voyages_csv(version_dir, out_dir / VOYAGES_CSV)
    drawings = (
        (CAP_FIGURE, cap_figure), (VOYAGES_FIGURE, voyages_figure), (MAP_FIGURE, map_figure),
        (TIMELINE_FIGURE, timeline_figure),
    )
    for name, draw in drawings:
        _png(draw(data), out_dir / name)
    (out_dir / REPORT_DATA).write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    (out_dir / REPORT_HTML).write_text(report_html(data), encoding="utf-8")
    return data


def file_entry(path: Path) -> dict:
    """A manifest file entry: name, bytes and sha256."""
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": digest}


def write_report(
    version_dir: Path, ports_csv: Path = SEEDS_DIR / "ports.csv", evidence: pl.DataFrame | None = None
) -> dict:
    """Build the report into `version_dir` and list its files in the manifest; return the data.

    The files are written to a hidden directory first and moved in only when all are
    written, so a failed report leaves no half a report in the version.
    """
    version_dir = Path(version_dir)
    tmp = version_dir / f".report-{secrets.token_hex(6)}"
    tmp.mkdir()
    try:
        data = build_report(version_dir, tmp, ports_csv, evidence)
        for name in REPORT_FILES:
            atomic.fsync_path(tmp / name)
            atomic.replace(tmp / name, version_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    manifest = json.loads((version_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["files"] = {**manifest.get("files", {}), **{name: file_entry(version_dir / name) for name in REPORT_FILES}}
    manifest["report"] = {"html": REPORT_HTML, "data": REPORT_DATA, "csv": VOYAGES_CSV, "figures": list(FIGURES)}
    write_manifest(version_dir, manifest)
    return data


def headline_markdown(data: dict, html_path: Path) -> str:
    """Markdown for the Dagster UI: the headline sentences, the cap chart inline and where the page is."""
    buffer = io.BytesIO()
    _png(cap_figure(data), buffer, dpi=HEADLINE_DPI)
    image = base64.b64encode(buffer.getvalue()).decode("ascii")
    sentences = "\n\n".join(headline_sentences(data))
    chart = f"![cumulative barrels against the cap](data:image/png;base64,{image})"
    return f"{sentences}\n\n{chart}\n\nReport: `{html_path}`\n"
