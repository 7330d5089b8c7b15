"""int_sightings built incrementally must equal a full build, whatever days arrive, change or leave."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import polars as pl
import pytest

from bench.model_bench import load_raw
from tankerwatch.models import build_all
from tankerwatch.warehouse import connect, fetch_all
from tests.synthetic_days import FIRST_DAY, fleet, load_day, of_day, remove_day  # noqa: F401  (fleet is a fixture)
from tests.table_diff import row_differences

pytestmark = pytest.mark.slow

COMPARED = (
    "int_sightings", "int_port_calls", "voyages", "ais_dark_periods", "int_ais_rejects", "rejects",
    "int_vessel_encounters", "sts_transfers", "int_ais_gaps", "int_state_changes", "int_load_events",
    "stg_ais_static", "int_ais_static_reports", "vessels",
)
# every vessel's sequence, rows stored or not (int_sightings numbers them all and stores each last row)
SEQUENCE_LENGTHS = "select sum(rows) from (select max(sighting_number) as rows from int_sightings group by imo)"

def _last_build(con) -> tuple[str, datetime | None]:
    return fetch_all(con, "select mode, window_from from incremental_builds where model = 'int_sightings'")[0]


def _assert_equals_full_build(con) -> None:
    """Keep what the incremental build made, rebuild from scratch, and compare row for row."""
    for table in COMPARED:
        con.execute(f"create or replace temp table kept_{table} as select * from {table}")
    con.execute("delete from incremental_builds")
    build_all(con)
    assert _last_build(con)[0] == "full"
    for table in COMPARED:
        assert row_differences(con, f"kept_{table}", table) == (0, 0), f"{table}: incremental and full builds differ"


def _build_first_days(con, fleet, days: int) -> None:
    """A new warehouse with the fleet's first days, built whole."""
    positions, static, registry = fleet
    load_raw(con, {"raw_registry_vessels": registry})
    for day in range(days):
        load_day(con, positions, static, day)
    build_all(con)
    assert _last_build(con) == ("full", None)


def test_incremental_builds_equal_full_builds(tmp_path, fleet):
    positions, static, _ = fleet
    with connect(tmp_path / "warehouse.duckdb") as con:
        _build_first_days(con, fleet, 20)
        sightings_before = fetch_all(con, SEQUENCE_LENGTHS)[0][0]

        # the next night: only the new day's window is computed again
        load_day(con, positions, static, 20)
        build_all(con)
        mode, window_from = _last_build(con)
        assert mode == "incremental"
        assert FIRST_DAY + timedelta(days=20) <= window_from < FIRST_DAY + timedelta(days=21)
        assert fetch_all(con, SEQUENCE_LENGTHS)[0][0] == sightings_before + of_day(positions, 20).height
        # each day's unusable messages: one MMSI no vessel is linked to, one invalid MMSI, one without a time
        assert fetch_all(con, "select mode from incremental_builds where model = 'int_ais_rejects'")[0][0] == "incremental"
        assert fetch_all(con, "select stage, count(*) from int_ais_rejects group by all order by 1") == [
            ("identity", 21),
            ("staging", 42),
        ]
        _assert_equals_full_build(con)

        # a re-run with nothing new changes nothing
        build_all(con)
        assert _last_build(con) == ("unchanged", None)

        # a corrected day in the middle: a third of its positions gone, the rest moved a minute later
        corrected = of_day(positions, 10).filter(pl.col("source_row") % 3 != 0).with_columns(
            received_at=pl.col("received_at") + timedelta(minutes=1)
        )
        load_day(con, corrected, static, 10, version="b")
        build_all(con)
        mode, window_from = _last_build(con)
        assert mode == "incremental" and window_from < FIRST_DAY + timedelta(days=11)
        _assert_equals_full_build(con)

        # a day withdrawn, and two days arriving out of order
        remove_day(con, 15)
        load_day(con, positions, static, 22)
        load_day(con, positions, static, 21)
        build_all(con)
        mode, window_from = _last_build(con)
        assert mode == "incremental" and window_from < FIRST_DAY + timedelta(days=16)
        _assert_equals_full_build(con)
        assert fetch_all(con, "select count(*) from voyages")[0][0] > 0


def test_a_changed_registry_rebuilds_everything(tmp_path, fleet):
    with connect(tmp_path / "warehouse.duckdb") as con:
        _build_first_days(con, fleet, 5)
        states_before = fetch_all(con, "select count(state) from int_sightings")[0][0]

        # a deeper summer draught for every hull moves the laden/empty thresholds of every position
        con.execute("update raw_registry_vessels set summer_draught_m = (summer_draught_m::double * 1.5)::varchar")
        build_all(con)
        assert _last_build(con) == ("full", None)
        assert fetch_all(con, "select count(state) from int_sightings")[0][0] != states_before
        _assert_equals_full_build(con)


def test_a_new_duckdb_version_rebuilds_everything(tmp_path, fleet, monkeypatch):
    # its functions decide rows (hash() orders sightings at one instant): no night mixes two versions' rows
    positions, static, _ = fleet
    with connect(tmp_path / "warehouse.duckdb") as con:
        _build_first_days(con, fleet, 3)
        monkeypatch.setattr(duckdb, "__version__", f"{duckdb.__version__}.next")
        load_day(con, positions, static, 3)
        build_all(con)
        assert _last_build(con) == ("full", None)
        assert fetch_all(con, "select distinct mode from incremental_builds") == [("full",)]


def _load_dma_snapshot(con, snapshot_id: str) -> None:
    """A DMA CSV file with one position of a hull no vessel is linked to."""
    con.execute(
        "insert into raw_ais_dma (source_name, snapshot_id, source_row, timestamp, type_of_mobile, mmsi, latitude, longitude) "
        "values ('dma', ?, 2, '02/01/2024 12:00:00', 'Class A', '111111111', '10.5', '20.5')",
        [snapshot_id],
    )
    con.execute(
        "insert into raw_source_snapshots values ('ais_dma_csv', 'dma', 'sightings', 'http://127.0.0.1/dma', ?, ?, 0, now(), '', null)",
        [snapshot_id, snapshot_id],
    )


def test_a_dma_row_that_becomes_a_repeat_loses_its_identity_reject(tmp_path, fleet):
    """A DMA row is usable only as the first read of its MMSI, time and position: a snapshot loaded later
    (with an id that sorts first) makes an already-built row a repeat, and removing it makes it usable again."""
    with connect(tmp_path / "warehouse.duckdb") as con:
        _build_first_days(con, fleet, 3)
        rejected = "select snapshot_id from int_ais_rejects where stage = 'identity' and record_id like 'dma:%'"

        _load_dma_snapshot(con, "dma-b")
        build_all(con)
        assert fetch_all(con, rejected) == [("dma-b",)]

        _load_dma_snapshot(con, "dma-a")
        build_all(con)
        assert fetch_all(con, "select mode from incremental_builds where model = 'int_ais_rejects'")[0][0] == "incremental"
        assert fetch_all(con, rejected) == [("dma-a",)]
        _assert_equals_full_build(con)

        con.execute("delete from raw_ais_dma where snapshot_id = 'dma-a'")
        con.execute("delete from raw_source_snapshots where snapshot_id = 'dma-a'")
        build_all(con)
        assert fetch_all(con, rejected) == [("dma-b",)]
        _assert_equals_full_build(con)


# Four hulls seen only by imagery at sea (no AIS): each pair sighting is two rows 0.2 km apart.
X, Y, Z, W = "8000006", "8000018", "8000020", "8000032"


def _load_imagery_day(con, day: int, rows: list[tuple[str, str, str, float]], longitude: float = -150.0) -> None:
    """One day's imagery log: (imo, time of day, laden state, latitude) per row, all at one longitude (by
    default -150, far from every port)."""
    snapshot_id = f"img-{day:03d}"
    values = [
        [snapshot_id, i, f"S{day:03d}-{i}", f"2024-01-{day + 1:02d}T{at}:00Z", f"IMG-{day:03d}-{i}", str(lat), str(longitude), imo, state]
        for i, (imo, at, state, lat) in enumerate(rows, start=1)
    ]
    con.executemany(
        "insert into raw_imagery_sightings (source_name, snapshot_id, source_row, sighting_id, observed_at, source, "
        "image_id, latitude, longitude, imo, laden_state) values ('imagery', ?, ?, ?, ?, 'sat', ?, ?, ?, ?, ?)",
        values,
    )
    con.execute(
        "insert into raw_source_snapshots values ('imagery_log', 'imagery', 'sightings', 'http://127.0.0.1/log', ?, ?, 0, now(), '', ?)",
        [snapshot_id, snapshot_id, (FIRST_DAY + timedelta(days=day)).date()],
    )


def _pair(a: str, b: str, at: str, lat: float, state_a: str = "laden", state_b: str = "empty") -> list:
    return [(a, at, state_a, lat), (b, at, state_b, lat + 0.002)]


def _encounters(con) -> list[tuple]:
    return fetch_all(
        con,
        "select imo_a, imo_b, started_at::varchar, ended_at::varchar, matched_pairs, state_after_a.state, "
        "state_after_b.state from int_vessel_encounters order by started_at",
    )


def test_encounters_built_night_by_night_equal_a_full_build(tmp_path, fleet):
    """The encounters a night can change: one whose state after is still open, one a new match chains
    to although it started before the window's reach, and one kept as stored though it overlaps the
    recomputed span (never computed again as a fragment)."""
    _, _, registry = fleet
    with connect(tmp_path / "warehouse.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        # X-Z matched at 10:00 and 21:00 (one encounter, states known); Y-W at 20:00, states unknown
        _load_imagery_day(con, 2, [*_pair(X, Z, "10:00", 10.0), *_pair(Y, W, "20:00", 11.0, "unknown", "unknown"),
                                   *_pair(X, Z, "21:00", 10.0)])
        _load_imagery_day(con, 3, _pair(X, Z, "22:00", 12.0))
        build_all(con)
        assert _encounters(con) == [
            (X, Z, "2024-01-03 10:00:00+00", "2024-01-03 21:00:00+00", 2, "laden", "empty"),
            (Y, W, "2024-01-03 20:00:00+00", "2024-01-03 20:00:00+00", 1, None, None),
            (X, Z, "2024-01-04 22:00:00+00", "2024-01-04 22:00:00+00", 1, None, None),  # nothing after it yet
        ]

        # the next day: Y and W seen again apart (their states after), X-Z again 9 hours on
        _load_imagery_day(con, 4, [*_pair(X, Z, "07:00", 12.0), (W, "12:00", "laden", 14.0), (Y, "12:00", "empty", 15.0)])
        build_all(con)
        assert fetch_all(con, "select mode from incremental_builds where model = 'int_vessel_encounters'") == [("incremental",)]
        assert _encounters(con)[1:] == [
            (Y, W, "2024-01-03 20:00:00+00", "2024-01-03 20:00:00+00", 1, "empty", "laden"),
            (X, Z, "2024-01-04 22:00:00+00", "2024-01-05 07:00:00+00", 2, "laden", "empty"),
        ]
        _assert_equals_full_build(con)

        # an encounter that started before the next window's reach and ends inside it
        _load_imagery_day(con, 5, [*_pair(Y, W, "00:00", 13.0), *_pair(Y, W, "10:00", 13.0), *_pair(Y, W, "20:00", 13.0)])
        build_all(con)
        _assert_equals_full_build(con)
        _load_imagery_day(con, 6, _pair(Y, W, "03:00", 13.0))
        build_all(con)
        assert _encounters(con)[-1][:5] == (Y, W, "2024-01-06 00:00:00+00", "2024-01-07 03:00:00+00", 4)
        _assert_equals_full_build(con)


def test_an_ais_gap_that_ends_in_the_new_day_equals_a_full_build(tmp_path, fleet):
    """A vessel silent from the middle of one day into the next: the gap is only known, and its first
    position only found, once the next day is loaded."""
    positions, static, registry = fleet
    dark_from, dark_until = FIRST_DAY + timedelta(days=5, hours=12), FIRST_DAY + timedelta(days=6, hours=6)
    silent = (pl.col("mmsi") == "445000001") & pl.col("received_at").is_between(dark_from, dark_until, closed="left")
    with connect(tmp_path / "warehouse.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        for day in range(6):
            load_day(con, positions.filter(~silent), static, day)
        build_all(con)
        assert fetch_all(con, "select count(*) from int_ais_gaps") == [(0,)]

        load_day(con, positions.filter(~silent), static, 6)
        build_all(con)
        assert fetch_all(con, "select mode from incremental_builds where model = 'int_ais_gaps'") == [("incremental",)]
        [(imo, went_dark_at, reappeared_at)] = fetch_all(con, "select imo, went_dark_at, reappeared_at from int_ais_gaps")
        assert imo == "8000018"
        assert dark_from - timedelta(hours=1) < went_dark_at < dark_from <= dark_until <= reappeared_at < dark_until + timedelta(hours=1)
        _assert_equals_full_build(con)

        # the day withdrawn again: the gap is open once more, so it is no gap yet
        remove_day(con, 6)
        build_all(con)
        assert fetch_all(con, "select count(*) from int_ais_gaps") == [(0,)]
        _assert_equals_full_build(con)


def test_vessels_silent_or_stateless_for_more_than_a_week_resume_from_their_whole_history(tmp_path, fleet):
    """A vessel's resume point is looked for in the week before the window first; a vessel unseen for
    longer, or seen without a state for longer, is read whole."""
    positions, static, registry = fleet
    quiet = pl.col("received_at").is_between(FIRST_DAY + timedelta(days=3), FIRST_DAY + timedelta(days=14))
    unseen = positions.filter(~((pl.col("mmsi") == "445000001") & quiet))
    stateless = static.filter(~((pl.col("mmsi") == "445000002") & quiet))
    with connect(tmp_path / "warehouse.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        for day in range(14):
            load_day(con, unseen, stateless, day)
        build_all(con)
        # over a thousand sightings without a state since one before day 5 (numbered; not all stored)
        assert fetch_all(
            con,
            "select max(sighting_number) - max(sighting_number) filter (where state is not null) > 1000, "
            "arg_max(previous_state_at, sighting_number) < ? from int_sightings where imo = '8000020'",
            [FIRST_DAY + timedelta(days=5)],
        ) == [(True, True)]

        load_day(con, unseen, stateless, 14)
        build_all(con)
        assert _last_build(con)[0] == "incremental"
        resumed_between = "select resume_at between ? and ? from int_sightings__resume where imo = ?"
        day = lambda n: FIRST_DAY + timedelta(days=n)  # noqa: E731
        assert fetch_all(con, resumed_between, [day(2), day(3), "8000018"]) == [(True,)]  # unseen since day 3
        # no state since day 4: resumed at or before that last state, from a row stored for a reason of its own
        assert fetch_all(con, resumed_between, [day(0), day(5), "8000020"]) == [(True,)]
        _assert_equals_full_build(con)


def _state_changes(con) -> list[tuple]:
    return fetch_all(
        con,
        "select imo, state_before, state_after, last_before_id, first_after_id from int_state_changes "
        "order by first_after_at",
    )


def test_a_vessel_resumes_from_the_first_row_of_a_second(tmp_path, fleet):
    """Two images of one vessel in the same second: the nightly build resumes from the first of them (what the
    second knew of the row before it is the first itself, not what lies before the second)."""
    _, _, registry = fleet
    with connect(tmp_path / "warehouse.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        _load_imagery_day(con, 2, [(X, "06:00", "laden", 10.0), (X, "12:00", "laden", 10.0), (X, "12:00", "laden", 10.01)])
        build_all(con)
        _load_imagery_day(con, 3, [(X, "05:00", "empty", 10.0)])
        build_all(con)
        assert _last_build(con)[0] == "incremental"
        assert fetch_all(con, "select resume_at, context.sighting_number from int_sightings__resume where imo = ?", [X]) == [
            (datetime(2024, 1, 3, 12, tzinfo=FIRST_DAY.tzinfo), 1),
        ]
        _assert_equals_full_build(con)


def test_a_change_of_state_across_the_window_equals_a_full_build(tmp_path, fleet):
    """A vessel last seen empty one night and first seen laden the next: the change belongs to the new day
    and cites the old day's sighting; an earlier change keeps its row."""
    _, _, registry = fleet
    with connect(tmp_path / "warehouse.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        _load_imagery_day(con, 2, [(X, "06:00", "laden", 10.0), (X, "12:00", "empty", 10.0), (X, "23:00", "empty", 10.0)])
        build_all(con)
        assert _state_changes(con) == [(X, "laden", "empty", "imagery:S002-1", "imagery:S002-2")]

        _load_imagery_day(con, 3, [(X, "05:00", "laden", 10.0)])
        build_all(con)
        assert fetch_all(con, "select mode from incremental_builds where model = 'int_state_changes'") == [("incremental",)]
        assert _state_changes(con) == [
            (X, "laden", "empty", "imagery:S002-1", "imagery:S002-2"),
            (X, "empty", "laden", "imagery:S002-3", "imagery:S003-1"),
        ]
        assert fetch_all(con, "select last_empty_id, first_laden_id from int_load_events") == [
            ("imagery:S002-3", "imagery:S003-1"),
        ]
        _assert_equals_full_build(con)

        # the new day withdrawn: its change goes with it
        remove_imagery_day = "delete from {} where snapshot_id = 'img-003'"
        for table in ("raw_imagery_sightings", "raw_source_snapshots"):
            con.execute(remove_imagery_day.format(table))
        build_all(con)
        assert _state_changes(con) == [(X, "laden", "empty", "imagery:S002-1", "imagery:S002-2")]
        _assert_equals_full_build(con)


def test_a_port_call_longer_than_the_gap_is_extended_night_by_night(tmp_path, fleet):
    """A hull imaged at Vostochny every day for a week: one call, arrived more than 5 days before the latest
    window, extended each night rather than kept as stored or split."""
    _, _, registry = fleet
    vostochny = (42.7510, 133.0800)
    with connect(tmp_path / "warehouse.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        for day in range(8):
            _load_imagery_day(con, day, [(X, "12:00", "laden", vostochny[0])], longitude=vostochny[1])
            build_all(con)
        assert fetch_all(con, "select mode from incremental_builds where model = 'int_port_calls'") == [("incremental",)]
        assert fetch_all(
            con, "select port_id, arrival_at::varchar, departure_at::varchar, sightings from int_port_calls where imo = ?", [X]
        ) == [("vostochny", "2024-01-01 12:00:00+00", "2024-01-08 12:00:00+00", 8)]
        _assert_equals_full_build(con)


def test_a_reject_before_the_recomputed_span_still_lets_the_arrival_after_it_start_the_call(tmp_path, fleet):
    """One second heard at sea (kept) and in Vostochny (the reject), then a real arrival an hour later and a
    two-day stay. The next night recomputes the stay from its arrival, just after the reject: the reject's
    run must still be read, or the arrival would start no call."""
    positions, static, registry = fleet
    template = positions.head(1)
    vostochny, at_sea = (42.7510, 133.0800), (41.5000, 131.5000)
    start = FIRST_DAY + timedelta(hours=10)
    fixes = [(start, at_sea), (start, vostochny)]
    fixes += [(start + timedelta(hours=1 + k), vostochny) for k in range(48)]
    fixes += [(FIRST_DAY + timedelta(days=3), at_sea), (FIRST_DAY + timedelta(days=6, hours=1), at_sea)]
    crafted = pl.concat([
        template.with_columns(
            received_at=pl.lit(at, template["received_at"].dtype),
            latitude=pl.lit(latitude),
            longitude=pl.lit(longitude),
            source_row=pl.lit(row, template["source_row"].dtype),
        )
        for row, (at, (latitude, longitude)) in enumerate(fixes)
    ])
    imo = registry.filter(pl.col("mmsi") == template["mmsi"][0])["imo"][0]
    expected = [("vostochny", "2024-01-01 11:00:00+00", "2024-01-03 10:00:00+00", 48)]
    calls = "select port_id, arrival_at::varchar, departure_at::varchar, sightings from int_port_calls where imo = ?"
    with connect(tmp_path / "warehouse.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        for day in range(6):
            load_day(con, crafted, static.head(0), day)
        build_all(con)
        assert fetch_all(con, calls, [imo]) == expected

        load_day(con, crafted, static.head(0), 6)
        build_all(con)
        assert fetch_all(con, "select mode from incremental_builds where model = 'int_port_calls'") == [("incremental",)]
        assert fetch_all(con, calls, [imo]) == expected
        _assert_equals_full_build(con)
