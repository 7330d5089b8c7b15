"""Model benchmark: synthetic AIS positions -> port calls -> voyages at 1M and 10M rows, beside a bare DuckDB floor.

Run with `make bench` or `python -m bench.model_bench --sizes 1000000 10000000`. Each stage
runs in its own process against one DuckDB file, so each stage's peak RSS is its own:

- load:   the generated raw tables written into the warehouse (not part of the targets)
- floor:  a bare DuckDB pass that sorts the positions by vessel and time with one window over them
- models: every SQL model of sql/, in dependency order
- gates:  every model's suite, in SQL (tankerwatch/gates_sql.py)

Targets (docs/performance.md): models within 3x the floor at 10M positions, peak memory
under 4 GB, gates at most half of the model stage.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from bench.isolated import run_isolated

ROWS_PER_VESSEL_YEAR = 130_000  # one fix every ~4 minutes


def _stage(stage: str, warehouse: str, n_positions: int, queue) -> None:
    # modules load before the clock starts, as a Dagster run loads them with its code location
    import tankerwatch.gate_windows  # noqa: F401
    import tankerwatch.models  # noqa: F401
    from tankerwatch.warehouse import connect, fetch_all

    started = time.perf_counter()
    rows = n_positions
    with connect(warehouse) as con:
        if stage == "load":
            _load(con, n_positions)
        elif stage == "floor":
            con.execute(
                "create or replace table bench_floor as select *, "
                "lag(received_at) over (partition by mmsi order by received_at) as previous_received_at "
                "from raw_ais_positions"
            )
        elif stage == "models":
            from tankerwatch.models import build_all

            counts = build_all(con)
            rows = sum(count or 0 for count in counts.values())
        elif stage == "gates":
            rows = gate_models(con)
        voyages = fetch_all(con, "select count(*) from voyages")[0][0] if stage in ("models", "gates") else None
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"stage": stage, "seconds": seconds, "rows": rows, "peak_rss_mb": peak_mb, "voyages": voyages})


def _load(con, n_positions: int) -> None:
    from scenarios.positions import generate_fleet_registry, generate_positions, generate_static

    n_vessels = max(20, n_positions // ROWS_PER_VESSEL_YEAR)
    load_raw(con, {
        "raw_ais_positions": generate_positions(n_positions, n_vessels, seed=7),
        "raw_ais_static": generate_static(n_positions, n_vessels, seed=7),
        "raw_registry_vessels": generate_fleet_registry(n_vessels, seed=7, n_positions=n_positions),
    })


def load_raw(con, generated: dict) -> None:
    """Every raw table: the generated frames where given, empty otherwise; then the reference seeds."""
    import polars as pl

    from tankerwatch.ingest import KIND_TABLES, LINEAGE_COLUMNS
    from tankerwatch.parsers import RAW_TABLE_COLUMNS
    from tankerwatch.pipeline import load_references
    from tankerwatch.warehouse import replace_table

    for table in (t for tables in KIND_TABLES.values() for t in tables):
        frame = generated.get(table, pl.DataFrame(schema={**LINEAGE_COLUMNS, **RAW_TABLE_COLUMNS[table]}))
        replace_table(con, table, frame)
    load_references(con)


def gate_models(con) -> int:
    """Validate every model with its suite as its blocking check does (tankerwatch.gate_windows: in SQL,
    and only the rows no passing gate has seen for the models that declare a window); returns the rows
    validated."""
    from tankerwatch.gate_windows import validate_gate
    from tankerwatch.models import discover_models
    from tankerwatch.settings import EXPECTATIONS_DIR

    return sum(
        validate_gate(con, name, EXPECTATIONS_DIR / f"{name}.json", model).rows or 0
        for name, model in discover_models().items()
    )


def run_stage(stage: str, warehouse: Path, n_positions: int) -> dict:
    return run_isolated(_stage, stage, str(warehouse), n_positions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    print(f"{'positions':>11} {'stage':<7}{'seconds':>9}{'rows/s':>12}{'peak RSS MB':>13}  notes")
    for n_positions in args.sizes:
        with tempfile.TemporaryDirectory() as work:
            warehouse = Path(work) / "bench.duckdb"
            stages = ("load", "floor", "models", "gates")
            results = {stage: run_stage(stage, warehouse, n_positions) for stage in stages}
        floor, models, gates = results["floor"]["seconds"], results["models"]["seconds"], results["gates"]["seconds"]
        notes = {
            "models": f"{models / floor:.1f}x floor (target <= 3x); {results['models']['voyages']:,} voyages",
            "gates": f"{gates / models:.2f} of models (target <= 0.5)",
        }
        for stage, r in results.items():
            rate = n_positions / r["seconds"]
            print(
                f"{n_positions:>11,} {stage:<7}{r['seconds']:>9.1f}{rate:>12,.0f}{r['peak_rss_mb']:>13,.0f}"
                f"  {notes.get(stage, '')}"
            )


if __name__ == "__main__":
    main()
