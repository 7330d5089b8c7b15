"""A synthetic fleet's AIS, loaded one day partition at a time as ingest loads it (incremental builds, gate windows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from scenarios.positions import generate_fleet_registry, generate_positions, generate_static

N_POSITIONS = 400_000  # a year at this rate; the test keeps its first weeks
N_VESSELS = 8
SEED = 11
FIRST_DAY = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def fleet():
    positions = generate_positions(N_POSITIONS, N_VESSELS, seed=SEED)
    static = generate_static(N_POSITIONS, N_VESSELS, seed=SEED)
    registry = generate_fleet_registry(N_VESSELS, seed=SEED, n_positions=N_POSITIONS)
    return positions, static, registry


def of_day(frame: pl.DataFrame, day: int) -> pl.DataFrame:
    start = FIRST_DAY + timedelta(days=day)
    return frame.filter((pl.col("received_at") >= start) & (pl.col("received_at") < start + timedelta(days=1)))


def unusable_messages(day_positions: pl.DataFrame) -> pl.DataFrame:
    """Messages every real feed has, each rejected with its reason: an MMSI no vessel is linked to, no
    valid MMSI, no receiver time."""
    if day_positions.is_empty():
        return day_positions
    first = day_positions.head(1)
    return pl.concat([
        first.with_columns(mmsi=pl.lit("123456789"), source_row=pl.lit(9_000_001, first["source_row"].dtype)),
        first.with_columns(mmsi=pl.lit("12345"), source_row=pl.lit(9_000_002, first["source_row"].dtype)),
        first.with_columns(
            received_at=pl.lit(None, first["received_at"].dtype), source_row=pl.lit(9_000_003, first["source_row"].dtype)
        ),
    ])


def load_day(con, positions: pl.DataFrame, static: pl.DataFrame, day: int, version: str = "a") -> None:
    """One day of the feed as a day partition's ingest loads it: its rows and snapshot replace the day's.
    Each day also carries a few unusable messages (unusable_messages)."""
    snapshot_id = f"ais-{day:03d}-{version}"
    remove_day(con, day)
    day_positions = of_day(positions, day)
    day_positions = pl.concat([day_positions, unusable_messages(day_positions)])
    for table, frame in (("raw_ais_positions", day_positions), ("raw_ais_static", of_day(static, day))):
        con.register("day_rows", frame.with_columns(snapshot_id=pl.lit(snapshot_id)))
        con.execute(f"insert into {table} by name select * from day_rows")
        con.unregister("day_rows")
    con.execute(
        "insert into raw_source_snapshots values ('ais_nmea', 'ais', 'sightings', 'http://127.0.0.1/ais', ?, ?, 0, now(), '', ?)",
        [snapshot_id, snapshot_id, (FIRST_DAY + timedelta(days=day)).date()],
    )


def remove_day(con, day: int) -> None:
    prefix = f"ais-{day:03d}-%"
    for table in ("raw_ais_positions", "raw_ais_static", "raw_source_snapshots"):
        con.execute(f"delete from {table} where snapshot_id like ?", [prefix])
