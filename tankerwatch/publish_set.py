"""What tankerwatch publishes: the tables of the set, its manifest, and the frames its publish gate checks."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib.metadata import version as package_version
from pathlib import Path

import duckdb
import polars as pl

from tankerwatch.gates import GateResult
from tankerwatch.warehouse import fetch_all, fetch_frame, row_count

PUBLISHED_TABLES = (
    "voyages",
    "port_calls",
    "vessels",
    "sanctioned_vessels",
    "cap_tracker",
    "unattributed_loads",
    "sts_transfers",
    "ais_dark_periods",
    "rejects",
)


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
            datetime.now(timezone.utc),
        ],
    )


def gate_results_for_run(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    rows = fetch_all(
        con,
        "select asset, suite, success, evaluated, passed, checked_at from gate_results "
        "where run_id = ? order by checked_at, asset",
        [run_id],
    )
    return [
        {"asset": a, "suite": s, "success": ok, "evaluated": n, "passed": p, "checked_at": t.isoformat()}
        for a, s, ok, n, p, t in rows
    ]


def source_snapshots(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rows = fetch_all(
        con,
        "select kind, source_name, role, url, sha256, bytes, fetched_at from raw_source_snapshots "
        "order by kind, source_name, role",
    )
    return [
        {"kind": k, "source": n, "role": r, "url": u, "sha256": h, "bytes": b, "fetched_at": t.isoformat()}
        for k, n, r, u, h, b, t in rows
    ]


def build_manifest(con: duckdb.DuckDBPyConnection, run_id: str, version_id: str) -> dict:
    """The manifest of a candidate set: run, sources, assumptions, row counts and the checks passed so far."""
    assumptions = fetch_frame(con, "select * from ref_volume_assumptions").to_dicts()
    return {
        "run_id": run_id,
        "version": version_id,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tankerwatch_version": package_version("tankerwatch"),
        "tables": list(PUBLISHED_TABLES),
        "row_counts": {table: row_count(con, table) for table in PUBLISHED_TABLES},
        "sources": source_snapshots(con),
        "volume_assumptions": assumptions[0] if assumptions else {},
        "checks": gate_results_for_run(con, run_id),
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
            con, "select column_name from information_schema.columns where table_name = ? order by ordinal_position", [table]
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
        .with_columns((pl.col("cap_delivered_bbl") - pl.col("voyages_delivered_bbl")).abs().alias("delivered_difference_bbl"))
        .sort("year")
    )
