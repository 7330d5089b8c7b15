"""The demo's imagery log and AIS feed cut into one file per UTC day, as daily feeds publish them.

Every day from the first to the last sighting gets both files (a header-only log, an empty NMEA file on a
quiet day), so a daily source has a file for each day of the range. A multi-part AIS message stays with the
day of its first sentence.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import yaml

from assets.partitions import days_between
from tankerwatch.settings import REPO_ROOT

DEMO = REPO_ROOT / "demo"
IMAGERY_URL = "imagery/{date}.csv"
AIS_URL = "ais/{date}.nmea"
_TAG_TIME = re.compile(r"\\c:(\d+)")
_FRAGMENT = re.compile(r"!AIVD[MO],(\d+),(\d+),")


def _imagery_by_day() -> tuple[list[str], dict[str, list[list[str]]]]:
    with (DEMO / "sightings" / "imagery_2024.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        by_day: dict[str, list[list[str]]] = {}
        for row in reader:
            observed = datetime.fromisoformat(row[1]).astimezone(UTC)
            by_day.setdefault(observed.date().isoformat(), []).append(row)
    return header, by_day


def _ais_by_day() -> dict[str, list[str]]:
    by_day: dict[str, list[str]] = {}
    day = None
    for line in (DEMO / "sightings" / "ais_2024.nmea").read_text(encoding="ascii").splitlines():
        fragment = _FRAGMENT.search(line)
        if day is None or fragment is None or fragment.group(2) == "1":
            day = datetime.fromtimestamp(int(_TAG_TIME.search(line).group(1)), UTC).date().isoformat()
        by_day.setdefault(day, []).append(line)
    return by_day


def write_daily_feeds(folder: Path) -> list[str]:
    """Write imagery/<day>.csv and ais/<day>.nmea under ``folder``; returns the days, first to last."""
    header, imagery = _imagery_by_day()
    ais = _ais_by_day()
    days = days_between(min(imagery | ais), max(imagery | ais))
    (folder / "imagery").mkdir(parents=True, exist_ok=True)
    (folder / "ais").mkdir(parents=True, exist_ok=True)
    for day in days:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(imagery.get(day, []))
        (folder / "imagery" / f"{day}.csv").write_text(text.getvalue(), encoding="utf-8")
        lines = ais.get(day, [])
        (folder / "ais" / f"{day}.nmea").write_text("".join(f"{line}\n" for line in lines), encoding="ascii")
    return days


def daily_sources_file(folder: Path, base_url: str) -> Path:
    """``folder``/sources.yaml: the demo's sanctions and registry (copied beside it) with the imagery log and
    AIS feed read day by day from ``base_url`` (the folder served over HTTP)."""
    sources = yaml.safe_load((DEMO / "sources.yaml").read_text(encoding="utf-8"))["sources"]
    for sub in ("sanctions", "registry"):
        shutil.copytree(DEMO / sub, folder / sub, dirs_exist_ok=True)
    sources["imagery_log"] = {"kind": "imagery_sightings_csv", "url": f"{base_url}/{IMAGERY_URL}"}
    sources["ais_feed"] = {"kind": "ais_nmea", "url": f"{base_url}/{AIS_URL}", "allow_empty": True}
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}, sort_keys=False), encoding="utf-8")
    return path
