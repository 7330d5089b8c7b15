"""Ingest one source kind: fetch every source of that kind, land the bytes, parse, and load raw tables with lineage."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import polars as pl
import requests

from tankerwatch import gfw
from tankerwatch.errors import FetchError, ParseError, TankerwatchError
from tankerwatch.fetch import Fetcher, Snapshot
from tankerwatch.parsers import RAW_TABLE_COLUMNS, Reject
from tankerwatch.parsers.ais_dma import parse_ais_dma_csv
from tankerwatch.parsers.ais_nmea import parse_ais_nmea
from tankerwatch.parsers.gfw import parse_gfw_port_visits_jsonl, parse_gfw_vessels_jsonl
from tankerwatch.parsers.imagery import parse_imagery_csv
from tankerwatch.parsers.ofac import parse_alt_csv, parse_sdn_comments_csv, parse_sdn_csv
from tankerwatch.parsers.opensanctions import parse_opensanctions_ftm
from tankerwatch.parsers.records import count_ofac_records
from tankerwatch.parsers.registry import parse_registry_csv
from tankerwatch.parsers.sink import Parser, TableSink
from tankerwatch.parsers.uk_sanctions import parse_uk_sanctions_csv
from tankerwatch.parsers.un_xml import parse_un_consolidated
from tankerwatch.sources import Source
from tankerwatch.warehouse import fetch_all, identifier

# For each kind: the parser of each URL role, and the raw tables the kind fills.
KIND_PARSERS: dict[str, dict[str, Parser]] = {
    "ofac_sdn_csv": {"url": parse_sdn_csv, "alt_url": parse_alt_csv, "comments_url": parse_sdn_comments_csv},
    "un_consolidated_xml": {"url": parse_un_consolidated},
    "opensanctions_ftm": {"url": parse_opensanctions_ftm},
    "uk_sanctions_csv": {"url": parse_uk_sanctions_csv},
    "registry_csv": {"url": parse_registry_csv},
    "imagery_sightings_csv": {"url": parse_imagery_csv},
    "ais_nmea": {"url": parse_ais_nmea},
    "ais_dma_csv": {"url": parse_ais_dma_csv},
    "gfw_vessels_api": {"url": parse_gfw_vessels_jsonl},
    "gfw_port_visits_api": {"url": parse_gfw_port_visits_jsonl},
}

KIND_TABLES: dict[str, tuple[str, ...]] = {
    "ofac_sdn_csv": ("raw_ofac_sdn", "raw_ofac_alt", "raw_ofac_sdn_comments"),
    "un_consolidated_xml": ("raw_un_designations",),
    "opensanctions_ftm": ("raw_opensanctions_vessels", "raw_opensanctions_sanctions"),
    "uk_sanctions_csv": ("raw_uk_sanctions_ships",),
    "registry_csv": ("raw_registry_vessels",),
    "imagery_sightings_csv": ("raw_imagery_sightings",),
    "ais_nmea": ("raw_ais_positions", "raw_ais_static"),
    "ais_dma_csv": ("raw_ais_dma",),
    "gfw_vessels_api": ("raw_gfw_vessels",),
    "gfw_port_visits_api": ("raw_gfw_port_visits",),
}

# Parsers that do not count their records as they read: the ingest counts the landed file instead.
RECORD_COUNTERS: dict[str, Callable[[Path, TableSink], int]] = {
    "ofac_sdn_csv": count_ofac_records,
}

LINEAGE_COLUMNS = {"source_name": pl.String, "snapshot_id": pl.String}

# What each loaded snapshot held, as its parser counted it: the 'read' side of the per-snapshot accounting
# (read = used + rejected + skipped + merged) the publish checks.
SNAPSHOT_RECORDS_TABLE = "raw_snapshot_records"
SNAPSHOT_RECORDS_DDL = """
create table if not exists raw_snapshot_records (
    kind varchar not null,
    source_name varchar not null,
    role varchar not null,
    snapshot_id varchar not null,
    records_read bigint not null,
    records_skipped bigint not null,
    records_merged bigint not null,
    skipped varchar not null
)
"""


class IngestError(TankerwatchError):
    """A source's data could not be landed, parsed or loaded for a reason outside its format (e.g. a full disk)."""

SecretLookup = Callable[[str], "str | None"]


@dataclass
class ParsedSnapshot:
    snapshot: Snapshot
    sink: TableSink
    records_read: int = 0


@dataclass
class ParsedKind:
    """Everything one kind produced before it touches the warehouse; parquet parts live in ``work_dir``."""

    kind: str
    work_dir: Path | None = None
    snapshots: list[Snapshot] = field(default_factory=list)
    parsed: list[ParsedSnapshot] = field(default_factory=list)
    unchanged: bool = False

    @property
    def stale(self) -> list[Snapshot]:
        return [s for s in self.snapshots if s.stale]

    @property
    def rejects(self) -> list[tuple[Snapshot, Reject]]:
        return [(p.snapshot, r) for p in self.parsed for r in p.sink.rejects]

    def stats(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for p in self.parsed:
            for name, value in p.sink.stats.items():
                totals[name] = totals.get(name, 0) + value
        return totals

    def table(self, name: str) -> pl.DataFrame:
        """A raw table in memory, lineage first: for tests and small inputs."""
        frames = [
            p.sink.frame(name).select(
                pl.lit(p.snapshot.source_name, pl.String).alias("source_name"),
                pl.lit(p.snapshot.snapshot_id, pl.String).alias("snapshot_id"),
                pl.all(),
            )
            for p in self.parsed
            if p.sink.rows(name)
        ]
        schema = {**LINEAGE_COLUMNS, **RAW_TABLE_COLUMNS[name]}
        return pl.concat(frames) if frames else pl.DataFrame(schema=schema)

    def cleanup(self) -> None:
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)


@dataclass(frozen=True)
class IngestReport:
    kind: str
    row_counts: dict[str, int]
    rejects: int
    snapshots: list[Snapshot]
    unchanged: bool
    stale: list[Snapshot]
    stats: dict[str, int]
    reloaded: list[str] = field(default_factory=list)  # slots replaced: "source" or "source@YYYY-MM-DD"


def land_source(fetcher: Fetcher, source: Source, secrets: SecretLookup) -> list[Snapshot]:
    """Fetch every file of one source into the landing folder."""
    options = source.fetch_options()
    if source.kind == "gfw_vessels_api":
        token_env = source.options.get("token_env", gfw.DEFAULT_TOKEN_ENV)
        return [
            gfw.fetch_vessels(
                fetcher,
                source.name,
                base_url=source.url,
                token=secrets(token_env) or "",
                token_env=token_env,
                queries=[str(q) for q in source.options.get("queries", [])],
                datasets=tuple(source.options.get("datasets", (gfw.VESSEL_IDENTITY_DATASET,))),
                options=options,
            )
        ]
    if source.kind == "gfw_port_visits_api":
        token_env = source.options.get("token_env", gfw.DEFAULT_TOKEN_ENV)
        return [
            gfw.fetch_port_visits(
                fetcher,
                source.name,
                base_url=source.url,
                token=secrets(token_env) or "",
                token_env=token_env,
                start_date=str(source.options.get("start_date", "")),
                end_date=str(source.options.get("end_date", "")),
                vessel_ids=source.options.get("vessel_ids"),
                region=source.options.get("region"),
                confidences=tuple(str(c) for c in source.options.get("confidences", ("2", "3", "4"))),
                dataset=source.options.get("dataset", gfw.PORT_VISITS_DATASET),
                options=options,
            )
        ]
    snapshots = []
    for role, url in source.urls().items():
        snapshots.extend(fetcher.fetch_all(source.name, role, url, source.base_dir, options))
    return snapshots


def fetch_kind(
    kind: str,
    sources: list[Source],
    fetcher: Fetcher,
    secrets: SecretLookup = lambda name: None,
    days: Sequence[str] = (),
) -> list[Snapshot]:
    """Land every source of ``kind``; no warehouse connection is held while the network is used.

    A daily feed (its url names the day with {date}) lands one file per day of ``days``, each snapshot marked
    with its day; a whole source lands what its url names, whatever the days."""
    snapshots: list[Snapshot] = []
    for source in (s for s in sources if s.kind == kind):
        try:
            if not source.is_daily:
                snapshots.extend(land_source(fetcher, source, secrets))
                continue
            for day in days:
                landed = fetcher.for_day(day).fetch_all(
                    source.name, "url", source.url_for_day(day), source.base_dir, source.fetch_options()
                )
                snapshots.extend(replace(snapshot, partition_day=day) for snapshot in landed)
        except OSError as exc:
            if isinstance(exc, requests.RequestException):
                raise  # the network's failures are the fetch layer's to classify (transient or not)
            # A full disk or an unwritable landing folder: the message must say whose data it was.
            raise FetchError(f"source '{source.name}': cannot land its data: {_os_reason(exc)}") from exc
    return snapshots


def _os_reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason} ({exc.filename})" if exc.filename else reason


def parse_kind(kind: str, snapshots: list[Snapshot], work_root: Path | None) -> ParsedKind:
    """Parse landed snapshots; with ``work_root`` the rows are spilled to parquet parts under it."""
    work_dir = Path(tempfile.mkdtemp(prefix=f"ingest-{kind}-", dir=work_root)) if work_root else None
    parsed = ParsedKind(kind, work_dir=work_dir, snapshots=list(snapshots))
    try:
        for number, snapshot in enumerate(snapshots):
            spill = work_dir / f"{number:04d}-{snapshot.source_name}-{snapshot.role}" if work_dir else None
            sink = TableSink(spill_dir=spill)
            where = f"source '{snapshot.source_name}' ({snapshot.role}, {snapshot.url})"
            read = 0
            try:
                # A daily feed's quiet day may be an empty file (allow_empty): no rows, nothing to parse.
                if snapshot.bytes or snapshot.partition_day is None:
                    KIND_PARSERS[kind][snapshot.role](Path(snapshot.path), sink)
                    read = sink.records_read
                    if read is None:
                        counter = RECORD_COUNTERS.get(kind)
                        read = counter(Path(snapshot.path), sink) if counter else 0
                sink.close()
            except ParseError as exc:
                raise ParseError(f"{where}: {exc}") from exc
            except OSError as exc:
                raise IngestError(f"{where}: cannot parse {snapshot.path}: {_os_reason(exc)}") from exc
            except TankerwatchError:
                raise
            except Exception as exc:
                # A parser or the parquet writer tripping over a value it cannot hold (e.g. text no UTF-8
                # can encode): still the source's problem to fix, so it names the source.
                raise ParseError(f"{where}: {type(exc).__name__}: {exc}") from exc
            parsed.parsed.append(ParsedSnapshot(snapshot, sink, read))
    except BaseException:
        parsed.cleanup()
        raise
    return parsed


# What one load replaces: a source's rows (day None), or one day's rows of a daily feed.
Slot = tuple[str, "str | None"]


def slot_of(snapshot: Snapshot) -> Slot:
    return (snapshot.source_name, snapshot.partition_day)


def slot_label(slot: Slot) -> str:
    name, day = slot
    return name if day is None else f"{name}@{day}"


def loaded_slots(con: duckdb.DuckDBPyConnection, kind: str) -> dict[Slot, set[tuple[str, str]]]:
    """For each slot of the kind in the warehouse, the (role, snapshot_id) loaded into it."""
    rows = fetch_all(
        con,
        "select source_name, strftime(partition_day, '%Y-%m-%d'), role, snapshot_id "
        "from raw_source_snapshots where kind = ?",
        [kind],
    )
    slots: dict[Slot, set[tuple[str, str]]] = {}
    for name, day, role, snapshot_id in rows:
        slots.setdefault((name, day), set()).add((role, snapshot_id))
    return slots


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, kind: str) -> list[str]:
    """Create the kind's raw tables when missing. A table whose columns are not the parsers' (a warehouse
    from an older tankerwatch) is made again and everything recorded as loaded into the kind is forgotten,
    so this run reloads it; returns the tables remade that way."""
    made, remade = [], []
    for table in KIND_TABLES[kind]:
        schema = {**LINEAGE_COLUMNS, **RAW_TABLE_COLUMNS[table]}
        present = [name for name, in fetch_all(
            con, "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
            [table],
        )]
        if present == list(schema):
            continue
        con.register("_empty_table", pl.DataFrame(schema=schema))
        con.execute(f"create or replace table {identifier(table)} as select * from _empty_table")
        con.unregister("_empty_table")
        (remade if present else made).append(table)
    con.execute(SNAPSHOT_RECORDS_DDL)
    if made or remade:
        con.execute("delete from raw_source_snapshots where kind = ?", [kind])
        con.execute("delete from raw_parse_rejects where kind = ?", [kind])
        con.execute("delete from raw_snapshot_records where kind = ?", [kind])
    return remade


@dataclass(frozen=True)
class LoadPlan:
    """Which slots of a kind this run replaces: those whose files changed, and those no source names any more."""

    changed: frozenset[Slot]
    removed: frozenset[Slot]

    @property
    def replaced(self) -> frozenset[Slot]:
        return self.changed | self.removed


def plan_load(con: duckdb.DuckDBPyConnection, kind: str, sources: list[Source], snapshots: list[Snapshot]) -> LoadPlan:
    wanted: dict[Slot, set[tuple[str, str]]] = {}
    for snapshot in snapshots:
        wanted.setdefault(slot_of(snapshot), set()).add((snapshot.role, snapshot.snapshot_id))
    daily = {s.name: s.is_daily for s in sources if s.kind == kind}
    loaded = loaded_slots(con, kind)
    # A source dropped from the sources file, or turned from a whole file into a daily feed (or back).
    removed = {slot for slot in loaded if slot[0] not in daily or daily[slot[0]] != (slot[1] is not None)}
    counted = _counted_snapshots(con, kind)
    # A snapshot loaded without its record count (by an older tankerwatch) is loaded again, so it can be accounted.
    changed = {
        slot for slot, ids in wanted.items()
        if loaded.get(slot) != ids or any((slot[0], role, sid) not in counted for role, sid in ids)
    }
    return LoadPlan(frozenset(changed), frozenset(removed))


def _counted_snapshots(con: duckdb.DuckDBPyConnection, kind: str) -> set[tuple[str, str, str]]:
    con.execute(SNAPSHOT_RECORDS_DDL)
    return set(fetch_all(
        con, "select source_name, role, snapshot_id from raw_snapshot_records where kind = ?", [kind]
    ))


_SLOT_SNAPSHOTS = (
    "select snapshot_id from raw_source_snapshots "
    "where kind = $kind and source_name = $source and partition_day is not distinct from $day::date "
    "except select snapshot_id from raw_source_snapshots "
    "where kind = $kind and source_name = $source and partition_day is distinct from $day::date"
)


def _delete_slot(con: duckdb.DuckDBPyConnection, kind: str, slot: Slot) -> None:
    """Delete one slot's raw rows, parse rejects and snapshot records (the window a re-run inserts again)."""
    params = {"kind": kind, "source": slot[0], "day": slot[1]}
    for table in KIND_TABLES[kind]:
        con.execute(
            f"delete from {identifier(table)} where source_name = $source and snapshot_id in ({_SLOT_SNAPSHOTS})",
            params,
        )
    con.execute(
        f"delete from raw_parse_rejects where kind = $kind and source_name = $source "
        f"and snapshot_id in ({_SLOT_SNAPSHOTS})",
        params,
    )
    con.execute(
        f"delete from raw_snapshot_records where kind = $kind and source_name = $source "
        f"and snapshot_id in ({_SLOT_SNAPSHOTS})",
        params,
    )
    con.execute(
        "delete from raw_source_snapshots "
        "where kind = $kind and source_name = $source and partition_day is not distinct from $day::date",
        params,
    )


def _refuse_resent_days(con: duckdb.DuckDBPyConnection, parsed: ParsedKind) -> None:
    """Two days of a daily feed with the same bytes would load the same rows twice: the day is refused."""
    held = {
        (name, snapshot_id): day
        for name, snapshot_id, day in fetch_all(
            con,
            "select source_name, snapshot_id, strftime(partition_day, '%Y-%m-%d') from raw_source_snapshots "
            "where kind = ? and partition_day is not null",
            [parsed.kind],
        )
    }
    for item in parsed.parsed:
        snapshot = item.snapshot
        if snapshot.partition_day is None:
            continue
        key = (snapshot.source_name, snapshot.snapshot_id)
        other = held.setdefault(key, snapshot.partition_day)
        if other != snapshot.partition_day and any(item.sink.rows(t) for t in KIND_TABLES[parsed.kind]):
            raise ParseError(
                f"source '{snapshot.source_name}': the file for {snapshot.partition_day} ({snapshot.url}) is "
                f"byte-identical to the one loaded for {other} (sha256 {snapshot.sha256}); a day re-sent "
                "under another date would count its rows twice, so it is not loaded"
            )


def _records_frame(parsed: ParsedKind) -> pl.DataFrame:
    items = parsed.parsed
    return pl.DataFrame(
        {
            "kind": [parsed.kind] * len(items),
            "source_name": [p.snapshot.source_name for p in items],
            "role": [p.snapshot.role for p in items],
            "snapshot_id": [p.snapshot.snapshot_id for p in items],
            "records_read": [p.records_read for p in items],
            "records_skipped": [p.sink.records_skipped for p in items],
            "records_merged": [p.sink.records_merged for p in items],
            "skipped": [json.dumps(p.sink.skipped, sort_keys=True) for p in items],
        },
        schema={"kind": pl.String, "source_name": pl.String, "role": pl.String, "snapshot_id": pl.String,
                "records_read": pl.Int64, "records_skipped": pl.Int64, "records_merged": pl.Int64,
                "skipped": pl.String},
    )


def _frames(parsed: ParsedKind) -> tuple[pl.DataFrame, pl.DataFrame]:
    kind = parsed.kind
    rejects = pl.DataFrame(
        {
            "kind": [kind] * len(parsed.rejects),
            "source_name": [s.source_name for s, _ in parsed.rejects],
            "snapshot_id": [s.snapshot_id for s, _ in parsed.rejects],
            "source_row": [r.source_row for _, r in parsed.rejects],
            "raw": [r.raw for _, r in parsed.rejects],
            "reason": [r.reason for _, r in parsed.rejects],
        },
        schema={"kind": pl.String, "source_name": pl.String, "snapshot_id": pl.String,
                "source_row": pl.Int64, "raw": pl.String, "reason": pl.String},
    )
    snapshots = pl.DataFrame(
        {
            "kind": [kind] * len(parsed.snapshots),
            "source_name": [s.source_name for s in parsed.snapshots],
            "role": [s.role for s in parsed.snapshots],
            "url": [s.url for s in parsed.snapshots],
            "sha256": [s.sha256 for s in parsed.snapshots],
            "snapshot_id": [s.snapshot_id for s in parsed.snapshots],
            "bytes": [s.bytes for s in parsed.snapshots],
            "fetched_at": [s.fetched_at for s in parsed.snapshots],
            "landed_path": [s.path for s in parsed.snapshots],
            "partition_day": [s.partition_day for s in parsed.snapshots],
        },
        schema={"kind": pl.String, "source_name": pl.String, "role": pl.String, "url": pl.String,
                "sha256": pl.String, "snapshot_id": pl.String, "bytes": pl.Int64,
                "fetched_at": pl.String, "landed_path": pl.String, "partition_day": pl.String},
    )
    return rejects, snapshots


def load_parsed(
    con: duckdb.DuckDBPyConnection, parsed: ParsedKind, replaced: Collection[Slot] | None = None
) -> IngestReport:
    """In one transaction, delete the ``replaced`` slots (default: every slot of the kind) and insert what was
    parsed: raw rows, parse rejects and snapshot records. Re-running a slot gives the same rows."""
    kind = parsed.kind
    rejects, snapshots = _frames(parsed)
    con.register("_incoming_rejects", rejects)
    con.register("_incoming_snapshots", snapshots)
    con.register("_incoming_records", _records_frame(parsed))
    try:
        con.execute("begin transaction")
        ensure_raw_tables(con, kind)
        slots = set(loaded_slots(con, kind)) | {slot_of(s) for s in parsed.snapshots} if replaced is None else replaced
        for slot in sorted(slots, key=lambda s: (s[0], s[1] or "")):
            _delete_slot(con, kind, slot)
        _refuse_resent_days(con, parsed)
        for table in KIND_TABLES[kind]:
            name = identifier(table)
            for item in parsed.parsed:
                if not item.sink.rows(table):
                    continue
                if item.sink.parts(table):
                    con.execute(
                        f"insert into {name} by name select ? as source_name, ? as snapshot_id, * from read_parquet(?)",
                        [item.snapshot.source_name, item.snapshot.snapshot_id, [str(p) for p in item.sink.parts(table)]],
                    )
                else:
                    con.register("_incoming_rows", item.sink.frame(table))
                    con.execute(
                        f"insert into {name} by name select ? as source_name, ? as snapshot_id, * from _incoming_rows",
                        [item.snapshot.source_name, item.snapshot.snapshot_id],
                    )
                    con.unregister("_incoming_rows")
        con.execute("insert into raw_parse_rejects select * from _incoming_rejects")
        con.execute("insert into raw_snapshot_records by name select * from _incoming_records")
        con.execute(
            "insert into raw_source_snapshots select kind, source_name, role, url, sha256, snapshot_id, "
            "bytes, cast(fetched_at as timestamptz), landed_path, cast(partition_day as date) from _incoming_snapshots"
        )
        con.execute("commit")
    except BaseException as exc:
        con.execute("rollback")
        if isinstance(exc, (OSError, duckdb.IOException)):
            names = ", ".join(sorted({f"'{s.source_name}'" for s in parsed.snapshots})) or "none"
            raise IngestError(f"loading source(s) {names} ({kind}) into the warehouse failed: {exc}") from exc
        raise
    finally:
        con.unregister("_incoming_rejects")
        con.unregister("_incoming_snapshots")
        con.unregister("_incoming_records")
    return kind_report(con, kind, parsed.snapshots, reloaded=sorted(slot_label(s) for s in slots), stats=parsed.stats())


def kind_report(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    snapshots: list[Snapshot],
    reloaded: list[str],
    stats: dict[str, int] | None = None,
) -> IngestReport:
    """What the kind's raw tables hold now (all slots), and what this run fetched and reloaded."""
    counts = {table: fetch_all(con, f"select count(*) from {identifier(table)}")[0][0] for table in KIND_TABLES[kind]}
    rejects = fetch_all(con, "select count(*) from raw_parse_rejects where kind = ?", [kind])[0][0]
    return IngestReport(
        kind, counts, rejects, snapshots, not reloaded, [s for s in snapshots if s.stale], stats or {}, reloaded
    )


def fetch_and_parse(
    kind: str,
    sources: list[Source],
    landing_dir: Path,
    secrets: SecretLookup = lambda name: None,
    days: Sequence[str] = (),
) -> ParsedKind:
    """Land and parse in memory, in one call: for tests and tools that do not need spilling."""
    snapshots = fetch_kind(kind, sources, Fetcher(landing_dir), secrets, days)
    return parse_kind(kind, snapshots, work_root=None)


def ingest_kind(
    con_factory: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    kind: str,
    sources: list[Source],
    landing_dir: Path,
    work_root: Path,
    secrets: SecretLookup = lambda name: None,
    log: Callable[[str], None] | None = None,
    days: Sequence[str] = (),
) -> IngestReport:
    """Fetch (no connection held), then parse and load only the slots whose files changed: a whole source, or
    one day of a daily feed for each of ``days``. Other days of a daily feed stay as they were loaded.

    New bytes become a source's last good snapshot only once they parse (or were loaded before)."""
    fetcher = Fetcher(landing_dir, log=log, good_once_parsed=True)
    snapshots = fetch_kind(kind, sources, fetcher, secrets, days)
    with con_factory() as con:
        con.execute("begin transaction")
        remade = ensure_raw_tables(con, kind)
        con.execute("commit")
        if remade and log is not None:
            log(f"raw tables {', '.join(remade)} had another layout and were made anew: every day of a daily "
                "feed needs loading again (a backfill)")
        plan = plan_load(con, kind, sources, snapshots)
        if not plan.replaced:
            fetcher.confirm(snapshots)
            return kind_report(con, kind, snapshots, reloaded=[])
    work_root.mkdir(parents=True, exist_ok=True)
    changed = [s for s in snapshots if slot_of(s) in plan.changed]
    parsed = parse_kind(kind, changed, work_root=work_root)
    fetcher.confirm(snapshots)
    try:
        with con_factory() as con:
            report = load_parsed(con, parsed, replaced=plan.replaced)
    finally:
        parsed.cleanup()
    # The report names every snapshot fetched, unchanged ones too: their freshness is what the check reads.
    return replace(report, snapshots=snapshots, stale=[s for s in snapshots if s.stale])
