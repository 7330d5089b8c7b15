"""Gate benchmarks at regional AIS scale: GX on pandas vs the SQL executor.

Run with `python bench/gates_bench.py` (`--rows` to change the large size). Builds a
synthetic raw_ais_positions in a temporary DuckDB file, defines the real staging and
intermediate AIS models on it (views: their gates compute them), then validates
stg_ais_positions and int_ais_positions with their suites from expectations/; the copies the
GX cases read are tables: 1M rows, and 2,000 rows (the size of a demo table). The gates against
the whole model stage are measured by bench/model_bench.py. GX reads the whole table into pandas,
so it runs on the copies only; the SQL executor runs on the copies and at full size. Every case
runs in its own spawned process, so its peak RSS is its own; "cold" includes importing GX or
pydantic, as a fresh Dagster step would.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SMALL = 1_000_000
# About the demo warehouse's largest tables: where GX's fixed costs, not its rows, decide.
DEMO = 2_000
MODELS = ("stg_ais_positions", "stg_ais_dma", "int_ais_positions")
GATED = ("stg_ais_positions", "int_ais_positions")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build_raw(path: str, rows: int) -> None:
    import polars as pl

    from tankerwatch.ingest import LINEAGE_COLUMNS
    from tankerwatch.parsers import RAW_TABLE_COLUMNS
    from tankerwatch.warehouse import connect

    with connect(path) as con:
        # 400 vessels reporting every 10 s over 10 snapshots; about 0.1% of messages carry an
        # impossible position and 0.1% repeat an earlier one, so the staging model has work to do.
        con.execute(
            f"""
            create or replace table raw_ais_positions as
            select
                'ais_feed' as source_name,
                printf('%016x', i // 1000000) as snapshot_id,
                i as source_row,
                timestamptz '2024-03-01 00:00:00+00' + to_seconds((i // 400) * 10) as received_at,
                1::bigint as msg_type,
                (445000000 + i % 400)::varchar as mmsi,
                case when i % 997 = 0 then 91.0 else 42.0 + (hash(i) % 200000) / 100000.0 end as latitude,
                132.0 + (hash(i + 1) % 300000) / 100000.0 as longitude,
                (hash(i + 2) % 1400) / 100.0 as speed_knots,
                (hash(i + 3) % 3600) / 10.0 as course,
                (hash(i + 4) % 360)::bigint as heading,
                0::bigint as nav_status
            from range({rows}) r(i)
            """
        )
        con.execute(
            "insert into raw_ais_positions select * replace (source_row + 1 as source_row) "
            "from raw_ais_positions where source_row % 1009 = 0"
        )
        schema = {**LINEAGE_COLUMNS, **RAW_TABLE_COLUMNS["raw_ais_dma"]}
        empty = pl.DataFrame(schema=schema)
        con.register("empty_dma", empty)
        con.execute("create or replace table raw_ais_dma as select * from empty_dma")
        con.unregister("empty_dma")


def _case_models(path: str, queue) -> None:
    from tankerwatch.models import build_model, discover_models
    from tankerwatch.warehouse import connect

    models = discover_models()
    with connect(path) as con:
        started = time.perf_counter()
        for name in MODELS:
            build_model(con, models[name])
        seconds = time.perf_counter() - started
        [(positions,)] = con.execute("select count(*) from int_ais_positions").fetchall()
        for schema, size in (("m1", SMALL), ("demo", DEMO)):
            con.execute(f"create schema if not exists {schema}")
            for table in GATED:
                con.execute(f"create or replace table {schema}.{table} as select * from main.{table} limit {size}")
    case = "define the views " + " + ".join(MODELS)
    queue.put({"case": case, "rows": positions, "cold": seconds, "warm": None, "peak_rss_mb": _peak_rss_mb()})


def _case_gate(path: str, engine: str, table: str, queue) -> None:
    from tankerwatch.settings import EXPECTATIONS_DIR
    from tankerwatch.warehouse import connect

    if engine == "great_expectations":
        from tankerwatch.gates import validate_table as validate
    else:
        from tankerwatch.gates_sql import validate_table_in_sql as validate
    suite = EXPECTATIONS_DIR / f"{table.rsplit('.', 1)[-1]}.json"
    with connect(path, read_only=True) as con:
        [(rows,)] = con.execute(f"select count(*) from {table}").fetchall()
        started = time.perf_counter()
        result = validate(con, table, suite)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        validate(con, table, suite)
        warm = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"gate failed on the synthetic table: {result.summary()}")
    case = f"gate {engine} {table}"
    queue.put({"case": case, "rows": rows, "cold": cold, "warm": warm, "peak_rss_mb": _peak_rss_mb()})


def measure(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get(timeout=7200)
    process.join()
    if process.exitcode:
        raise SystemExit(f"case {args} exited with {process.exitcode}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="raw AIS messages in the large case")
    parser.add_argument("--skip-gx", action="store_true", help="leave out GX on pandas (the slow case)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = str(Path(work) / "bench.duckdb")
        started = time.perf_counter()
        _build_raw(path, args.rows)
        print(f"built {args.rows:,} raw AIS messages in {time.perf_counter() - started:.1f} s", flush=True)

        results = [measure(_case_models, path)]
        for table in GATED:
            results.append(measure(_case_gate, path, "great_expectations", f"demo.{table}"))
            results.append(measure(_case_gate, path, "duckdb_sql", f"demo.{table}"))
            if not args.skip_gx:
                results.append(measure(_case_gate, path, "great_expectations", f"m1.{table}"))
            results.append(measure(_case_gate, path, "duckdb_sql", f"m1.{table}"))
            results.append(measure(_case_gate, path, "duckdb_sql", f"main.{table}"))

        print(f"\n{'case':<62}{'rows':>12}{'cold s':>9}{'warm s':>9}{'rows/s (warm)':>15}{'peak RSS MB':>13}")
        for r in results:
            seconds = r["warm"] if r["warm"] is not None else r["cold"]
            warm = "" if r["warm"] is None else f"{r['warm']:.2f}"
            rate = r["rows"] / seconds
            print(f"{r['case']:<62}{r['rows']:>12,}{r['cold']:>9.2f}{warm:>9}{rate:>15,.0f}{r['peak_rss_mb']:>13.0f}")

        full = [r for r in results if r["case"].startswith("gate duckdb_sql main.")]
        gate_cold = sum(r["cold"] for r in full)
        gate_warm = sum(r["warm"] for r in full)
        print(
            f"\nSQL gates on the full views: {gate_cold:.2f} s cold, {gate_warm:.2f} s warm; "
            f"peak RSS {max(r['peak_rss_mb'] for r in full):.0f} MB (target under 4096 MB)"
        )


if __name__ == "__main__":
    main()
