"""Ingest one source kind: fetch every source of that kind, land the bytes, parse, and load raw tables with lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import polars as pl

from tankerwatch.fetch import Snapshot, fetch_to_landing
from tankerwatch.parsers import RAW_TABLE_COLUMNS, ParseResult, Reject
from tankerwatch.parsers.ais_nmea import parse_ais_nmea
from tankerwatch.parsers.imagery import parse_imagery_csv
from tankerwatch.parsers.ofac import parse_alt_csv, parse_sdn_comments_csv, parse_sdn_csv
from tankerwatch.parsers.registry import parse_registry_csv
from tankerwatch.parsers.un_xml import parse_un_consolidated
from tankerwatch.sources import Source
from tankerwatch.warehouse import identifier

Parser = Callable[[Path], ParseResult]

# For each kind: the parser of each URL role, and the raw tables the kind fills.
KIND_PARSERS: dict[str, dict[str, Parser]] = {
    "ofac_sdn_csv": {"url": parse_sdn_csv, "alt_url": parse_alt_csv, "comments_url": parse_sdn_comments_csv},
    "un_consolidated_xml": {"url": parse_un_consolidated},
    "registry_csv": {"url": parse_registry_csv},
    "imagery_sightings_csv": {"url": parse_imagery_csv},
    "ais_nmea": {"url": parse_ais_nmea},
}

KIND_TABLES: dict[str, tuple[str, ...]] = {
    "ofac_sdn_csv": ("raw_ofac_sdn", "raw_ofac_alt", "raw_ofac_sdn_comments"),
    "un_consolidated_xml": ("raw_un_designations",),
    "registry_csv": ("raw_registry_vessels",),
    "imagery_sightings_csv": ("raw_imagery_sightings",),
    "ais_nmea": ("raw_ais_positions", "raw_ais_static"),
}

LINEAGE_COLUMNS = {"source_name": pl.String, "snapshot_id": pl.String}


@dataclass
class ParsedKind:
    """Everything one kind produced before it touches the warehouse."""

    kind: str
    snapshots: list[Snapshot] = field(default_factory=list)
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    rejects: list[tuple[Snapshot, Reject]] = field(default_factory=list)

    def table(self, name: str) -> pl.DataFrame:
        schema = {**LINEAGE_COLUMNS, **RAW_TABLE_COLUMNS[name]}
        parts = self.frames.get(name) or []
        return pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=schema)


@dataclass(frozen=True)
class IngestReport:
    kind: str
    row_counts: dict[str, int]
    rejects: int
    snapshots: list[Snapshot]


def fetch_and_parse(kind: str, sources: list[Source], landing_dir: Path) -> ParsedKind:
    """Land every URL of every source of ``kind`` and parse it; no warehouse connection is held."""
    parsed = ParsedKind(kind)
    for source in (s for s in sources if s.kind == kind):
        for role, url in source.urls().items():
            snapshot = fetch_to_landing(source.name, role, url, source.base_dir, landing_dir)
            parsed.snapshots.append(snapshot)
            result = KIND_PARSERS[kind][role](Path(snapshot.path))
            for table, frame in result.tables.items():
                with_lineage = frame.select(
                    pl.lit(source.name, pl.String).alias("source_name"),
                    pl.lit(snapshot.snapshot_id, pl.String).alias("snapshot_id"),
                    pl.all(),
                )
                parsed.frames.setdefault(table, []).append(with_lineage)
            parsed.rejects.extend((snapshot, reject) for reject in result.rejects)
    return parsed


def load_parsed(con: duckdb.DuckDBPyConnection, parsed: ParsedKind) -> IngestReport:
    """Replace the kind's raw tables, parse rejects and snapshot records in one transaction."""
    kind = parsed.kind
    tables = {name: parsed.table(name) for name in KIND_TABLES[kind]}
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
        },
        schema={"kind": pl.String, "source_name": pl.String, "role": pl.String, "url": pl.String,
                "sha256": pl.String, "snapshot_id": pl.String, "bytes": pl.Int64,
                "fetched_at": pl.String, "landed_path": pl.String},
    )
    views = {f"_incoming_{name}": frame for name, frame in tables.items()}
    views.update({"_incoming_rejects": rejects, "_incoming_snapshots": snapshots})
    for view, frame in views.items():
        con.register(view, frame)
    try:
        con.execute("begin transaction")
        for name in tables:
            con.execute(f"create or replace table {identifier(name)} as select * from _incoming_{name}")
        con.execute("delete from raw_parse_rejects where kind = ?", [kind])
        con.execute("insert into raw_parse_rejects select * from _incoming_rejects")
        con.execute("delete from raw_source_snapshots where kind = ?", [kind])
        con.execute(
            "insert into raw_source_snapshots select kind, source_name, role, url, sha256, snapshot_id, "
            "bytes, cast(fetched_at as timestamptz), landed_path from _incoming_snapshots"
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        for view in views:
            con.unregister(view)
    return IngestReport(kind, {name: frame.height for name, frame in tables.items()}, rejects.height, parsed.snapshots)
