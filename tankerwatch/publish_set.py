"""What tankerwatch publishes: the tables of the set, its manifest, and the frames its publish gate checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path

import duckdb
import polars as pl

from tankerwatch.contracts import PUBLISHED_SCHEMA_VERSION, published_tables
from tankerwatch.gates import GateResult
from tankerwatch.ingest import KIND_TABLES, SNAPSHOT_RECORDS_TABLE
from tankerwatch.warehouse import fetch_all, fetch_frame, identifier, row_count

PUBLISHED_TABLES = published_tables()


def record_gate_result(con: duckdb.DuckDBPyConnection, run_id: str, asset: str, result: GateResult) -> None:
    """Keep a gate's outcome in the warehouse so the run's manifest can list the checks that passed."""
    con.execute(
        "insert into gate_results values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            asset,
            result.suite_name,
            result.success,
            result.evaluated,
            result.passed,
            json.dumps(result.to_dict(), sort_keys=True),
            datetime.now(UTC),
        ],
    )


def latest_gate_results(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The newest result of every gate, whichever run it came from: what the warehouse's tables passed.

    One run checks every table, but a backfill launched from the UI splits the graph across several runs
    (the day-partitioned ingest in one, the models and the publish steps after it), so a set published by
    its last run rests on gates of the earlier ones too."""
    rows = fetch_all(
        con,
        "select run_id, asset, suite, success, evaluated, passed, checked_at from gate_results "
        "qualify row_number() over (partition by asset, suite order by checked_at desc) = 1 "
        "order by checked_at, asset, suite",
    )
    return [
        {"run_id": r, "asset": a, "suite": s, "success": ok, "evaluated": n, "passed": p, "checked_at": t.isoformat()}
        for r, a, s, ok, n, p, t in rows
    ]


def publish_blockers(checks: list[dict], expected_suites: set[str], run_id: str, own_run_assets: set[str]) -> list[str]:
    """Why a set may not be published: a gate whose newest result failed, a gate never run, or a check of
    this run's candidate that came from another run."""
    blockers = [f"{c['suite']} failed (run {c['run_id']})" for c in checks if not c["success"]]
    blockers += [f"{suite} has no result" for suite in sorted(expected_suites - {c["suite"] for c in checks})]
    blockers += [
        f"{c['suite']} was checked by run {c['run_id']}, not by this run"
        for c in checks
        if c["asset"] in own_run_assets and c["run_id"] != run_id
    ]
    return blockers


def source_snapshots(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rows = fetch_all(
        con,
        "select kind, source_name, role, url, sha256, bytes, fetched_at, strftime(partition_day, '%Y-%m-%d') "
        "from raw_source_snapshots order by kind, source_name, partition_day nulls first, role, url",
    )
    return [
        {"kind": k, "source": n, "role": r, "url": u, "sha256": h, "bytes": b, "fetched_at": t.isoformat(),
         "partition_day": d}
        for k, n, r, u, h, b, t, d in rows
    ]


def _existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for name, in fetch_all(con, "select table_name from information_schema.tables")}


def source_accounting(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per loaded source snapshot: records read = used + rejected + skipped + merged.

    ``read`` is the parser's own count of the records in the file (raw_snapshot_records), taken as it read
    them, not from its rows. A record is one input record, identified by its ``source_row``, counted once
    whatever number of rows it gave: ``rejected`` if a reject names it at any stage (parse, staging,
    identity, ...), ``used`` otherwise; ``skipped`` are records of a type tankerwatch does not use (by reason
    in ``skipped_by_reason``), ``merged`` the earlier sentences of multi-sentence AIS messages. A record
    that vanished (neither row nor reject) shows as a positive ``unaccounted``; a snapshot loaded without
    its count shows ``read`` null.
    """
    tables = _existing_tables(con)
    if "raw_source_snapshots" not in tables:
        return []
    keyed = [
        f"select source_name, snapshot_id, source_row from {identifier(table)}"
        for kind_tables in KIND_TABLES.values()
        for table in kind_tables
        if table in tables
    ]
    if "raw_parse_rejects" in tables:
        parse_rejected = "select distinct source_name, snapshot_id, source_row from raw_parse_rejects"
        null_parse_rejects = (
            "select source_name, snapshot_id, count(*) as n from raw_parse_rejects "
            "where source_row is null group by all"
        )
    else:
        parse_rejected = (
            "select null::varchar as source_name, null::varchar as snapshot_id, null::bigint as source_row where false"
        )
        null_parse_rejects = (
            "select null::varchar as source_name, null::varchar as snapshot_id, 0::bigint as n where false"
        )
    later = (
        "select distinct source_name, snapshot_id, source_row from rejects "
        "where stage <> 'parse' and snapshot_id is not null and source_row is not null"
        if "rejects" in tables
        else "select null::varchar as source_name, null::varchar as snapshot_id, null::bigint as source_row where false"
    )
    records = (
        f"select * from {SNAPSHOT_RECORDS_TABLE}" if SNAPSHOT_RECORDS_TABLE in tables
        else "select null::varchar as kind, null::varchar as source_name, null::varchar as role, "
             "null::varchar as snapshot_id, 0::bigint as records_read, 0::bigint as records_skipped, "
             "0::bigint as records_merged, '{}' as skipped where false"
    )
    rows_sql = " union ".join(keyed) if keyed else (
        "select null::varchar as source_name, null::varchar as snapshot_id, null::bigint as source_row where false"
    )
    sql = f"""
        with row_records as ({rows_sql}),
        parse_rejected as ({parse_rejected}),
        later_rejected as ({later}),
        input_records as (
            select source_name, snapshot_id, source_row, bool_or(at_parse) as at_parse
            from (
                select source_name, snapshot_id, source_row, false as at_parse from row_records
                union all
                select source_name, snapshot_id, source_row, true from parse_rejected where source_row is not null
            )
            group by all
        ),
        per_snapshot as (
            select
                i.source_name,
                i.snapshot_id,
                count(*) filter (where i.at_parse) as rejected_at_parse,
                count(*) filter (where not i.at_parse and l.source_row is not null) as rejected_later,
                count(*) filter (where not i.at_parse and l.source_row is null) as used
            from input_records i
            left join later_rejected l using (source_name, snapshot_id, source_row)
            group by all
        ),
        counted as (
            select source_name, snapshot_id, sum(records_read) as records_read, sum(records_skipped) as records_skipped,
                   sum(records_merged) as records_merged, list(skipped order by role) as skipped
            from ({records}) group by all
        ),
        snapshots as (
            select kind, source_name, snapshot_id, list(distinct role order by role) as roles,
                   strftime(min(partition_day), '%Y-%m-%d') as partition_day
            from raw_source_snapshots group by all
        )
        select
            s.kind, s.source_name, s.snapshot_id, s.roles, s.partition_day,
            c.records_read,
            coalesce(p.used, 0),
            coalesce(p.rejected_at_parse, 0) + coalesce(n.n, 0),
            coalesce(p.rejected_later, 0),
            coalesce(c.records_skipped, 0),
            coalesce(c.records_merged, 0),
            c.skipped
        from snapshots s
        left join counted c using (source_name, snapshot_id)
        left join per_snapshot p using (source_name, snapshot_id)
        left join ({null_parse_rejects}) n using (source_name, snapshot_id)
        order by s.kind, s.source_name, s.partition_day nulls first, s.snapshot_id
    """
    out = []
    for (
        kind, source, snapshot_id, roles, day, read, used, at_parse, later_, skipped, merged, skipped_json
    ) in fetch_all(con, sql):
        by_reason: dict[str, int] = {}
        for text in skipped_json or []:
            for reason, count in json.loads(text).items():
                by_reason[reason] = by_reason.get(reason, 0) + count
        rejected = at_parse + later_
        out.append({
            "kind": kind,
            "source": source,
            "snapshot_id": snapshot_id,
            "roles": list(roles),
            "partition_day": day,
            "read": read,
            "used": used,
            "rejected": rejected,
            "rejected_at_parse": at_parse,
            "rejected_later": later_,
            "skipped": skipped,
            "skipped_by_reason": dict(sorted(by_reason.items())),
            "merged": merged,
            "unaccounted": None if read is None else read - used - rejected - skipped - merged,
        })
    return out


def accounting_frame(version_dir: Path) -> pl.DataFrame:
    """The candidate manifest's per-snapshot accounting, one row per snapshot, for its publish gate."""
    manifest = json.loads((Path(version_dir) / "manifest.json").read_text(encoding="utf-8"))
    columns = {"kind": pl.String, "source": pl.String, "snapshot_id": pl.String, "partition_day": pl.String,
               "read": pl.Int64, "used": pl.Int64, "rejected": pl.Int64, "skipped": pl.Int64, "merged": pl.Int64,
               "unaccounted": pl.Int64}
    rows = [{name: entry.get(name) for name in columns} for entry in manifest.get("accounting", [])]
    return pl.DataFrame(rows, schema=columns, orient="row") if rows else pl.DataFrame(schema=columns)


def unaccounted_snapshots(frame: pl.DataFrame) -> list[str]:
    """A line per snapshot whose records do not add up, naming its source and snapshot."""
    bad = frame.filter(pl.col("unaccounted").is_null() | (pl.col("unaccounted") != 0))
    return [
        f"source '{r['source']}' snapshot {r['snapshot_id']}"
        + (f" ({r['partition_day']})" if r["partition_day"] else "")
        + (": loaded without a record count (load it again)" if r["read"] is None else
           f": {r['read']} records read, but {r['used']} used + {r['rejected']} rejected + {r['skipped']} skipped"
           f" + {r['merged']} merged = {r['read'] - r['unaccounted']}")
        for r in bad.to_dicts()
    ]


def build_manifest(con: duckdb.DuckDBPyConnection, run_id: str, version_id: str) -> dict:
    """The manifest of a candidate set: run, sources, assumptions, row counts and the checks passed so far."""
    assumptions = fetch_frame(con, "select * from ref_volume_assumptions").to_dicts()
    return {
        "run_id": run_id,
        "version": version_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tankerwatch_version": package_version("tankerwatch"),
        "schema_version": PUBLISHED_SCHEMA_VERSION,
        "tables": list(PUBLISHED_TABLES),
        "row_counts": {table: row_count(con, table) for table in PUBLISHED_TABLES},
        "sources": source_snapshots(con),
        "accounting": source_accounting(con),
        "volume_assumptions": assumptions[0] if assumptions else {},
        "checks": latest_gate_results(con),
    }


def published_files_frame(con: duckdb.DuckDBPyConnection, version_dir: Path) -> pl.DataFrame:
    """One row per published table: is the file there, and does it hold the warehouse table as validated?"""
    rows = []
    for table in PUBLISHED_TABLES:
        path = version_dir / f"{table}.parquet"
        exists = path.exists()
        file_rows = pl.scan_parquet(path).select(pl.len()).collect().item() if exists else None
        file_columns = list(pl.read_parquet_schema(path)) if exists else []
        warehouse_columns = [name for name, in fetch_all(
            con,
            "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
            [table],
        )]
        rows.append(
            {
                "table_name": table,
                "file_exists": exists,
                "rows_in_file": file_rows,
                "rows_in_warehouse": row_count(con, table),
                "columns_match": file_columns == warehouse_columns,
            }
        )
    return pl.DataFrame(rows)


def cap_consistency_frame(version_dir: Path) -> pl.DataFrame:
    """One row per cap-tracker year: its totals beside the same totals summed from voyages.parquet."""
    voyages = pl.read_parquet(version_dir / "voyages.parquet")
    cap = pl.read_parquet(version_dir / "cap_tracker.parquet")
    from_voyages = (
        voyages.filter(pl.col("counts_toward_cap"))
        .group_by(pl.col("load_departure_at").dt.year().cast(pl.Int64).alias("year"))
        .agg(
            pl.len().cast(pl.Int64).alias("voyages_counted"),
            pl.col("volume_bbl").sum().alias("voyages_delivered_bbl"),
        )
    )
    return (
        cap.select(
            pl.col("year").cast(pl.Int64),
            pl.col("voyages").cast(pl.Int64).alias("cap_voyages"),
            pl.col("delivered_bbl").alias("cap_delivered_bbl"),
        )
        .join(from_voyages, on="year", how="full", coalesce=True)
        .with_columns(
            (pl.col("cap_delivered_bbl") - pl.col("voyages_delivered_bbl")).abs().alias("delivered_difference_bbl")
        )
        .sort("year")
    )


def report_consistency_frame(version_dir: Path) -> pl.DataFrame:
    """One row per number the report shows that a published table also holds: both values and their difference.

    The tables' side is recomputed here in SQL over the version's parquet files, apart from
    the report's own code, so a slip in either shows as a difference. Dates are compared as
    day numbers; a date on one side only (breached in the report, not in the table) has no
    difference and fails the gate. Evidence ids differ by the size of the symmetric difference.
    """
    from tankerwatch.report import REPORT_DATA, REPORT_FILES, file_entry

    data = json.loads((version_dir / REPORT_DATA).read_text(encoding="utf-8"))
    manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
    rows: list[tuple[str, str, float | None, float | None, float | None]] = []

    def compare(quantity: str, key: object, in_report, in_tables, difference=None) -> None:
        if difference is None and in_report is not None and in_tables is not None:
            difference = abs(float(in_report) - float(in_tables))
        rows.append((quantity, str(key), in_report, in_tables, difference))

    def day(text) -> float | None:
        return float(datetime.fromisoformat(str(text)).toordinal()) if text else None

    def compare_dates(quantity: str, key: object, in_report, in_tables) -> None:
        a, b = day(in_report), day(in_tables)
        compare(quantity, key, a, b, 0.0 if a is None and b is None else None)

    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        for table in ("voyages", "cap_tracker", "sanctioned_vessels"):
            path = str(version_dir / f"{table}.parquet").replace("'", "''")
            con.execute(f"create view {table} as select * from read_parquet('{path}')")
        compare("voyages", "all", data["voyages"], con.execute("select count(*) from voyages").fetchone()[0])

        years = {y["year"]: y for y in data["cap"]}
        cap_rows = fetch_all(con, "select year, voyages, delivered_bbl, delivered_bbl_low, delivered_bbl_high, "
                                  "breach_date, breach_date_low, breach_date_high from cap_tracker")
        for year, voyages, bbl, low, high, breach, breach_low, breach_high in cap_rows:
            last = (years.get(year) or {}).get("cumulative") or [{}]
            curve = years.get(year) or {}
            compare("cap_voyages", year, last[-1].get("voyages"), voyages)
            compare("delivered_bbl", year, last[-1].get("bbl"), bbl)
            compare("delivered_bbl_low", year, last[-1].get("bbl_low"), low)
            compare("delivered_bbl_high", year, last[-1].get("bbl_high"), high)
            compare_dates("breach_date", year, curve.get("curve_breach_date"), breach)
            compare_dates("breach_date_low", year, curve.get("curve_breach_date_low"), breach_low)
            compare_dates("breach_date_high", year, curve.get("curve_breach_date_high"), breach_high)
        compare("cap_years", "all", len(years), len(cap_rows))

        per = data["voyages_per_month"]
        by_imo = {v["imo"]: v for v in per["vessels"]}
        in_months = dict(
            fetch_all(con, "select strftime(load_departure_at, '%Y-%m'), count(*) from voyages group by 1")
        )
        for i, month in enumerate(per["months"]):
            stacked = sum(by_imo[imo]["per_month"][i] for imo in per["shown"]) + per["other"]["per_month"][i]
            compare("voyages_in_month", month, per["totals"][i], in_months.pop(month, 0))
            compare("stacked_bar_height", month, stacked, per["totals"][i])
        for month, count in in_months.items():
            compare("voyages_in_month", month, None, count)

        vessels = {v["imo"]: v for v in data["sanctioned_vessels"]["with_voyages"]}
        with_voyages = "select imo, voyages, volume_bbl from sanctioned_vessels where voyages > 0"
        for imo, voyages, volume in fetch_all(con, with_voyages):
            shown = vessels.pop(imo, None) or {}
            compare("sanctioned_voyages", imo, shown.get("voyages"), voyages)
            compare("sanctioned_counted_bbl", imo, shown.get("counted_volume_bbl"), volume)
            in_report = {e for v in shown.get("voyage_list", []) for e in v["evidence_ids"]}
            in_tables = {e for e, in fetch_all(con, "select unnest(evidence_ids) from voyages where imo = ?", [imo])}
            compare("sanctioned_evidence_ids", imo, len(in_report), len(in_tables), float(len(in_report ^ in_tables)))
        for imo, shown in vessels.items():
            compare("sanctioned_voyages", imo, shown["voyages"], None)
    finally:
        con.close()

    listed = manifest.get("files", {})
    for name in REPORT_FILES:
        on_disk = file_entry(version_dir / name) if (version_dir / name).exists() else None
        in_manifest = listed.get(name)
        compare(
            "report_file_listed", name,
            on_disk and on_disk["bytes"], in_manifest and in_manifest.get("bytes"),
            0.0 if on_disk and in_manifest and on_disk["sha256"] == in_manifest.get("sha256") else None,
        )
    return pl.DataFrame(
        rows,
        schema={"quantity": pl.String, "key": pl.String, "in_report": pl.Float64, "in_tables": pl.Float64,
                "difference": pl.Float64},
        orient="row",
    )
