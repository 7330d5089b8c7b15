"""Sensors: a full run when analysts drop a new imagery log.

The watched files are those of every `imagery_sightings_csv` source whose url is local (a file, a folder or a
glob, as `fetch_all` reads them), or, when $TANKERWATCH_IMAGERY_DROP_DIR is set, every file in that folder
(for a daemon that sees the drop folder mounted at another path). Both are read at evaluation time.

The cursor is a JSON map of every complete file seen to its size and mtime. A file that is new or whose size
or mtime changed gives one RunRequest whose run_key is made of its path, size and mtime, so a re-evaluation of
the same state never launches a second run. Files still being written are left for a later tick: dotfiles,
temporary names (`.part`, `.tmp`, `.partial`, `.crdownload`, `~`) and files modified within the last
SETTLE_S seconds. The first evaluation (no cursor) only records what is already there: the nightly run
covers old drops; a sensor switched on should not launch one run per historical file.

The sensor is STOPPED by default: a new deployment or `make ui` on the demo should not launch runs until an
operator switches it on (UI, or `dagster sensor start imagery_drop_sensor`).

Each run loads one day partition: the date a file's name carries (a daily log `imagery_2024-03-01.csv`, or
the `{date}` of a daily source's url), else the last complete day. A source with `{date}` in its url is
watched with `*` in its place.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg

from assets.partitions import DAILY_PARTITIONS, last_complete_day
from assets.resources import TankerwatchResource
from orchestration.jobs import full_pipeline_job
from tankerwatch.sources import DAY_PLACEHOLDER

DROP_DIR_ENV = "TANKERWATCH_IMAGERY_DROP_DIR"
IMAGERY_KIND = "imagery_sightings_csv"
SENSOR_NAME = "imagery_drop_sensor"
# A file modified this recently may still be being copied in: it is looked at again on a later tick.
SETTLE_S = 30.0
TEMPORARY_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".swp", "~")


@dataclass(frozen=True)
class DropFile:
    path: str  # absolute
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> str:
        return f"{self.size}:{self.mtime_ns}"


def watched_targets(tankerwatch: TankerwatchResource) -> list[Path]:
    """The folders, files or globs to watch: $TANKERWATCH_IMAGERY_DROP_DIR, else the local imagery sources."""
    override = dg.EnvVar(DROP_DIR_ENV).get_value()
    if override:
        return [Path(override).expanduser()]
    targets = []
    for source in tankerwatch.sources():
        if source.kind != IMAGERY_KIND:
            continue
        for url in source.urls().values():
            parts = urlsplit(url)
            if parts.scheme.lower() in ("http", "https"):
                continue  # a remote log is fetched by the nightly run; there is no folder to watch
            path = Path(unquote(parts.path)) if parts.scheme.lower() == "file" else Path(url).expanduser()
            path = Path(str(path).replace(DAY_PLACEHOLDER, "*"))
            targets.append(path if path.is_absolute() else Path(source.base_dir) / path)
    return targets


def _is_temporary(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(TEMPORARY_SUFFIXES)


def list_drop_files(target: Path) -> list[Path] | None:
    """The files ``target`` names (a folder's files, a glob's matches, or the file); None when a folder or file
    is missing. Subfolders are not descended into, as fetch_all does not."""
    if target.is_dir():
        return sorted(p for p in target.iterdir() if p.is_file())
    if target.is_file():
        return [target]
    if re.search(r"[*?\[]", str(target)):
        return sorted(Path(p) for p in glob.glob(str(target), recursive=True) if Path(p).is_file())
    return None


def scan(targets: list[Path], now: float, settle_s: float = SETTLE_S) -> tuple[list[DropFile], list[str], list[Path]]:
    """(complete files, files skipped as still being written, missing targets)."""
    complete: dict[str, DropFile] = {}
    unsettled: list[str] = []
    missing: list[Path] = []
    for target in targets:
        files = list_drop_files(target)
        if files is None:
            missing.append(target)
            continue
        for path in files:
            if _is_temporary(path.name):
                unsettled.append(str(path))
                continue
            try:
                stat = path.stat()
            except OSError:  # renamed or removed between the listing and now
                continue
            if now - stat.st_mtime < settle_s:
                unsettled.append(str(path))
                continue
            absolute = str(path.absolute())
            complete[absolute] = DropFile(absolute, stat.st_size, stat.st_mtime_ns)
    return sorted(complete.values(), key=lambda f: f.path), unsettled, missing


def run_key(drop: DropFile) -> str:
    """Stable for one state of one file: the same file unchanged always gives the same key."""
    digest = hashlib.sha256(drop.path.encode()).hexdigest()[:12]
    return f"imagery-drop:{Path(drop.path).name}:{drop.fingerprint}:{digest}"


_DAY_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")


def drop_day(drop: DropFile, now: float) -> str:
    """The day partition a drop loads: the last date in its file name that is a partition, else the last
    complete UTC day."""
    keys = set(DAILY_PARTITIONS.get_partition_keys(current_time=datetime.fromtimestamp(now, UTC)))
    for day in reversed(_DAY_IN_NAME.findall(Path(drop.path).name)):
        if day in keys:
            return day
    return last_complete_day(datetime.fromtimestamp(now, UTC))


def _run_request(drop: DropFile, now: float) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key(drop),
        partition_key=drop_day(drop, now),
        tags={"tankerwatch/trigger": "imagery_drop", "tankerwatch/drop_file": Path(drop.path).name},
    )


def _read_cursor(cursor: str | None) -> dict[str, str] | None:
    if not cursor:
        return None
    try:
        seen = json.loads(cursor)
    except ValueError:
        return None
    return {str(k): str(v) for k, v in seen.items()} if isinstance(seen, dict) else None


@dg.sensor(
    name=SENSOR_NAME,
    job=full_pipeline_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "A full run for each new or changed imagery log in the drop folder (the local imagery_sightings_csv "
        f"sources, or ${DROP_DIR_ENV}); files still being written wait for a later tick."
    ),
)
def imagery_drop_sensor(context: dg.SensorEvaluationContext, tankerwatch: TankerwatchResource) -> dg.SensorResult:
    targets = watched_targets(tankerwatch)
    if not targets:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                f"no local {IMAGERY_KIND} source in the sources file and {DROP_DIR_ENV} is not set: nothing to watch"
            )
        )
    now = time.time()
    files, unsettled, missing = scan(targets, now=now)
    seen = _read_cursor(context.cursor)
    if missing and not files:
        names = ", ".join(str(t) for t in missing)
        return dg.SensorResult(skip_reason=dg.SkipReason(f"the drop folder is missing: {names}"), cursor=context.cursor)
    # Files that disappeared drop out of the cursor: one that comes back later is new again.
    new_cursor = json.dumps({f.path: f.fingerprint for f in files}, sort_keys=True)
    waiting = (
        f"; {len(unsettled)} file(s) still being written: {', '.join(Path(u).name for u in unsettled)}"
        if unsettled
        else ""
    )
    if seen is None:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                f"first evaluation: recorded {len(files)} existing file(s); runs start with the next new one{waiting}"
            ),
            cursor=new_cursor,
        )
    changed = [f for f in files if seen.get(f.path) != f.fingerprint]
    if not changed:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"no new or changed file{waiting}"), cursor=new_cursor)
    for drop in changed:
        context.log.info(f"new or changed imagery log {drop.path} ({drop.size:,} bytes): requesting a run")
    return dg.SensorResult(run_requests=[_run_request(f, now) for f in changed], cursor=new_cursor)


sensors = [imagery_drop_sensor]
