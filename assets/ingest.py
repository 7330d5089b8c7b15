"""Ingest assets: one per source kind, each filling that kind's raw DuckDB tables."""

import dagster as dg

from assets.partitions import DAILY_PARTITIONS, partition_days
from assets.resources import TankerwatchResource
from tankerwatch.errors import FetchError
from tankerwatch.ingest import KIND_TABLES, IngestReport, ingest_kind
from tankerwatch.sources import DAILY_KINDS

OWNERS = ["team:tankerwatch-data"]
FRESH_SNAPSHOTS_CHECK = "fresh_snapshots"

# A publisher that is still failing after the fetch layer's own retries (seconds to a minute of backoff) gets
# the step retried twice more, minutes apart: long enough for a restart or a rate limit to pass, short enough
# that the nightly run still publishes before analysts read it.
INGEST_MAX_RETRIES = 2
RETRY_WAIT_ENV = "TANKERWATCH_INGEST_RETRY_WAIT_S"
DEFAULT_RETRY_WAIT_S = 120.0

RAW_TABLE_DESCRIPTIONS = {
    "raw_ofac_sdn": "One row per line of OFAC's SDN.CSV, as published, for every ofac_sdn_csv source.",
    "raw_ofac_alt": "One row per OFAC alternate name (ALT.CSV) of every ofac_sdn_csv source.",
    "raw_ofac_sdn_comments": "One row per OFAC remarks-overflow line (SDN_COMMENTS.CSV) of every ofac_sdn_csv source.",
    "raw_un_designations": "One row per individual or entity of the UN Security Council Consolidated List XML.",
    "raw_opensanctions_vessels": "One row per Vessel entity of every OpenSanctions FollowTheMoney export (opensanctions_ftm).",
    "raw_opensanctions_sanctions": "One row per Sanction entity of every OpenSanctions FollowTheMoney export (opensanctions_ftm).",
    "raw_uk_sanctions_ships": "One row per name line of a ship designation in the UK Sanctions List CSV (uk_sanctions_csv).",
    "raw_registry_vessels": "One row per vessel-particulars row of every registry_csv source.",
    "raw_imagery_sightings": "One row per analyst satellite-imagery sighting of every imagery_sightings_csv source.",
    "raw_ais_positions": "One row per AIS position report (types 1-3, 18, 19) decoded from every ais_nmea feed.",
    "raw_ais_static": "One row per AIS static and voyage report (types 5, 19, 24) decoded from every ais_nmea feed.",
    "raw_ais_dma": "One row per line of every Danish Maritime Authority AIS CSV (ais_dma_csv).",
    "raw_gfw_vessels": "One row per identity record (self-reported or registry) from the Global Fishing Watch Vessels API.",
    "raw_gfw_port_visits": "One row per port visit from the Global Fishing Watch Events API (public-global-port-visits-events).",
}


# What a day partition of a daily kind's raw table records, as the UI shows it beside the partitions.
DAILY_PARTITION_NOTE = (
    " Partitioned by UTC day: a day partition is materialized when a run for that day loaded that day's file "
    "of every feed whose url names the day ({date}). A source of this kind without {date} is one file for "
    "every day, read whole by each run whatever its day: its rows are in the table whether or not a day "
    "shows materialized; each materialization's `covers` names such sources and `day_files` the days loaded."
)


def coverage(report: IngestReport, days: list[str] | tuple[str, ...]) -> dict:
    """Which days a daily kind's materialization stands for: the days each {date} feed loaded, and the
    sources read whole (all days at once), so a partition's status is not read as more, or less, than it is."""
    day_files: dict[str, list[str]] = {}
    whole = []
    for snapshot in report.snapshots:
        if snapshot.partition_day is None:
            if snapshot.source_name not in whole:
                whole.append(snapshot.source_name)
        else:
            day_files.setdefault(snapshot.source_name, [])
            if snapshot.partition_day not in day_files[snapshot.source_name]:
                day_files[snapshot.source_name].append(snapshot.partition_day)
    span = f"{days[0]}..{days[-1]}" if len(days) > 1 else (days[0] if days else "no day")
    parts = []
    if day_files:
        parts.append(f"{span} from the day files of {', '.join(sorted(day_files))}")
    if whole:
        parts.append(f"every day from {', '.join(sorted(whole))}, read whole (no {{date}} in its url)")
    return {
        "covers": "; ".join(parts) if parts else f"{span}: no source of this kind in the sources file",
        "day_files": dg.MetadataValue.json({name: sorted(d) for name, d in sorted(day_files.items())}),
        "read_whole": sorted(whole),
    }


def _metadata(report: IngestReport) -> dict:
    return {
        "parse_rejects": report.rejects,
        "unchanged": report.unchanged,
        "stale_sources": [f"{s.source_name}/{s.role}" for s in report.stale],
        "skipped_records": dg.MetadataValue.json(report.stats),
        "reloaded": dg.MetadataValue.json(report.reloaded),
        "snapshots": dg.MetadataValue.json([s.to_dict() for s in report.snapshots]),
    }


def retry_wait_s(retry_number: int) -> float:
    """Seconds before step retry ``retry_number + 1``: the base ($TANKERWATCH_INGEST_RETRY_WAIT_S, read at run
    time, default 120) doubled for each retry already made."""
    raw = dg.EnvVar(RETRY_WAIT_ENV).get_value()
    try:
        base = float(raw) if raw not in (None, "") else DEFAULT_RETRY_WAIT_S
    except ValueError:
        raise ValueError(f"{RETRY_WAIT_ENV} must be a number of seconds, not {raw!r}") from None
    if not base >= 0:
        raise ValueError(f"{RETRY_WAIT_ENV} must be a number of seconds of at least 0, not {raw!r}")
    return base * 2**retry_number


def build_ingest_asset(kind: str) -> dg.AssetsDefinition:
    tables = KIND_TABLES[kind]
    daily = kind in DAILY_KINDS

    @dg.multi_asset(
        name=f"ingest_{kind}",
        specs=[
            dg.AssetSpec(
                table,
                group_name="ingest",
                description=RAW_TABLE_DESCRIPTIONS[table] + (DAILY_PARTITION_NOTE if daily else ""),
                kinds={"python", "duckdb"},
                owners=OWNERS,
            )
            for table in tables
        ],
        check_specs=[
            dg.AssetCheckSpec(
                FRESH_SNAPSHOTS_CHECK,
                asset=tables[0],
                description="Warns when a source was down and its last good snapshot was reused.",
            )
        ],
        # No blanket retry_policy: it would retry a 404 or a bad body too, which will not heal. The step asks
        # for a retry itself (RetryRequested, below) only when the fetch failure is transient.
        pool="duckdb",
        # Sightings and AIS arrive by day: a run loads the days of its partitions (a backfill of a range in one
        # run). A feed whose url has no {date} is one file for every day and is reloaded whole when it changed.
        partitions_def=DAILY_PARTITIONS if daily else None,
        backfill_policy=dg.BackfillPolicy.single_run() if daily else None,
    )
    def ingest(context: dg.AssetExecutionContext, tankerwatch: TankerwatchResource):
        days = partition_days(context) if daily else ()
        try:
            report = ingest_kind(
                tankerwatch.warehouse,
                kind,
                tankerwatch.sources(),
                tankerwatch.paths().landing,
                tankerwatch.paths().work,
                secrets=lambda name: dg.EnvVar(name).get_value(),
                log=context.log.warning,
                days=days,
            )
        except FetchError as exc:
            if not exc.transient or context.retry_number >= INGEST_MAX_RETRIES:
                raise
            wait = retry_wait_s(context.retry_number)
            context.log.warning(
                f"transient fetch failure, retrying the step in {wait:.0f} s "
                f"(retry {context.retry_number + 1} of {INGEST_MAX_RETRIES}): {exc}"
            )
            raise dg.RetryRequested(max_retries=INGEST_MAX_RETRIES, seconds_to_wait=wait) from exc
        if not report.snapshots:
            context.log.info(f"no source of kind {kind} in the sources file: its raw tables are empty")
        elif report.unchanged:
            context.log.info(f"every {kind} snapshot is already loaded: nothing reloaded")
        else:
            context.log.info(f"{kind}: reloaded {', '.join(report.reloaded)}")
        for table in tables:
            yield dg.MaterializeResult(
                asset_key=table,
                metadata={
                    "dagster/row_count": report.row_counts[table],
                    **_metadata(report),
                    **(coverage(report, days) if daily else {}),
                },
            )
        yield dg.AssetCheckResult(
            asset_key=tables[0],
            check_name=FRESH_SNAPSHOTS_CHECK,
            passed=not report.stale,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "stale": dg.MetadataValue.json(
                    [{"source": s.source_name, "role": s.role, "reason": s.stale_reason, "fetched_at": s.fetched_at} for s in report.stale]
                )
            },
        )

    return ingest


ingest_assets = [build_ingest_asset(kind) for kind in KIND_TABLES]
