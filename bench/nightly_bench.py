"""Nightly benchmark: what one new day of AIS costs with a week, and with a year, of history in the warehouse.

Run with `python -m bench.nightly_bench` (`--positions-per-year` to change the rate). The synthetic year of
`scenarios/positions.py` is cut by day: the warehouse is built with the first N days, then the nightly run is
timed as it happens in production: the new day's window of the raw AIS table deleted and inserted (as a day
partition's ingest loads it), then every model and every model's gate. The warehouse is first brought to
where last night left it (every model built, every gate passed) in one process; the night is timed in a
fresh one, as a scheduled run starts, so its peak memory is the night's alone.

Target (issue: a nightly run over one new day costs about the same whatever the history): the "year / week"
ratio near 1. int_sightings, the one model with a row per position, is built incrementally (sql/incremental/),
and the gates of the models over AIS positions validate the rows no passing gate has seen
(tankerwatch/gate_windows.py).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.isolated import run_isolated


def _history(history_days: int, positions_per_year: int, work: str, queue) -> None:
    """The warehouse as last night left it: N days loaded, every model built, every gate passed; the new
    day's rows written aside for the timed run."""
    import polars as pl

    from bench.model_bench import ROWS_PER_VESSEL_YEAR, gate_models, load_raw
    from scenarios.positions import generate_fleet_registry, generate_positions, generate_static
    from tankerwatch.models import build_all
    from tankerwatch.warehouse import connect, fetch_all

    n_vessels = max(20, positions_per_year // ROWS_PER_VESSEL_YEAR)
    positions = generate_positions(positions_per_year, n_vessels, seed=7)
    static = generate_static(positions_per_year, n_vessels, seed=7)
    first = positions["received_at"].min().replace(hour=0, minute=0, second=0, microsecond=0)
    day_start = first + timedelta(days=history_days)
    day_end = day_start + timedelta(days=1)

    def before(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("received_at") < day_start).with_columns(snapshot_id=pl.lit("history"))

    def of_day(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter((pl.col("received_at") >= day_start) & (pl.col("received_at") < day_end)).with_columns(
            snapshot_id=pl.lit("new-day")
        )

    with connect(_warehouse(work)) as con:
        load_raw(con, {
            "raw_ais_positions": before(positions),
            "raw_ais_static": before(static),
            "raw_registry_vessels": generate_fleet_registry(n_vessels, seed=7, n_positions=positions_per_year),
        })
        _record_snapshot(con, "history", None)
        build_all(con)
        gate_models(con)
        history_rows = fetch_all(con, "select count(*) from raw_ais_positions")[0][0]
    of_day(positions).write_parquet(Path(work) / "day_positions.parquet")
    of_day(static).write_parquet(Path(work) / "day_static.parquet")
    queue.put({"history_rows": history_rows, "day_start": day_start, "day_end": day_end})


def _night(work: str, day_start, day_end, queue) -> None:
    """The nightly run itself, in a fresh process as a scheduled run starts: load the day, models, gates."""
    import polars as pl

    import tankerwatch.gate_windows  # noqa: F401  (loaded before the clock, as a run loads its code location)
    from bench.model_bench import gate_models
    from tankerwatch.models import build_all
    from tankerwatch.warehouse import connect

    day = {
        "raw_ais_positions": pl.read_parquet(Path(work) / "day_positions.parquet"),
        "raw_ais_static": pl.read_parquet(Path(work) / "day_static.parquet"),
    }
    started = time.perf_counter()
    with connect(_warehouse(work)) as con:
        con.execute("begin transaction")
        for table, frame in day.items():
            con.execute(f"delete from {table} where received_at >= ? and received_at < ?", [day_start, day_end])
            con.register("_day", frame)
            con.execute(f"insert into {table} by name select * from _day")
            con.unregister("_day")
        _record_snapshot(con, "new-day", day_start.date())
        con.execute("commit")
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    with connect(_warehouse(work)) as con:
        build_all(con)
    models_s = time.perf_counter() - started
    started = time.perf_counter()
    with connect(_warehouse(work)) as con:
        gate_models(con)
    gates_s = time.perf_counter() - started
    queue.put({
        "day_rows": day["raw_ais_positions"].height,
        "ingest_s": ingest_s,
        "models_s": models_s,
        "gates_s": gates_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    })


def _warehouse(work: str) -> str:
    return str(Path(work) / "bench.duckdb")


def _record_snapshot(con, snapshot_id: str, day) -> None:
    con.execute(
        "insert into raw_source_snapshots values ('ais_nmea', 'ais', 'sightings', 'synthetic', ?, ?, 0, now(), '', ?)",
        [snapshot_id, snapshot_id, day],
    )


def measure(history_days: int, positions_per_year: int) -> dict:
    with tempfile.TemporaryDirectory() as work:
        history = run_isolated(_history, history_days, positions_per_year, work)
        night = run_isolated(_night, work, history["day_start"], history["day_end"])
    return {"history_days": history_days, "history_rows": history["history_rows"], **night}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions-per-year", type=int, default=10_000_000)
    parser.add_argument("--histories", type=int, nargs="+", default=[7, 364], help="days of history before the new day")
    args = parser.parse_args()
    print(f"{'history':>8}{'history rows':>14}{'day rows':>10}{'ingest s':>10}{'models s':>10}{'gates s':>9}"
          f"{'nightly s':>11}{'peak RSS MB':>13}")
    results = [measure(days, args.positions_per_year) for days in args.histories]
    for r in results:
        nightly = r["ingest_s"] + r["models_s"] + r["gates_s"]
        print(f"{r['history_days']:>7}d{r['history_rows']:>14,}{r['day_rows']:>10,}{r['ingest_s']:>10.2f}"
              f"{r['models_s']:>10.1f}{r['gates_s']:>9.1f}{nightly:>11.1f}{r['peak_rss_mb']:>13,.0f}")
    if len(results) > 1:
        short, long = results[0], results[-1]
        ratio = lambda key: long[key] / short[key]  # noqa: E731
        print(f"{long['history_days']}d / {short['history_days']}d: ingest {ratio('ingest_s'):.1f}x, "
              f"models {ratio('models_s'):.1f}x, gates {ratio('gates_s'):.1f}x (target: about 1x)")


if __name__ == "__main__":
    main()
