"""Daily feeds and day partitions, run as a user runs them: `tankerwatch run --days`, over HTTP on 127.0.0.1.

The demo's imagery log and AIS feed are cut into one file per day (tests/daily_feeds.py). A backfill of every
day must give the answer of the whole files; a day re-run must give the same rows and the same published
content; a corrected day file replaces that day's rows only; a day re-sent under another date is refused.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.partitions import DAILY_PARTITIONS, FIRST_DAY, days_between, last_complete_day
from orchestration.cli import main, parse_days
from orchestration.schedules import nightly_full_run
from tankerwatch.errors import SourcesFileError
from tankerwatch.ingest import fetch_and_parse, ingest_kind
from tankerwatch.publish import resolve_current
from tankerwatch.settings import REPO_ROOT
from tankerwatch.sources import load_sources
from tankerwatch.warehouse import connect, fetch_all, fetch_frame
from tests.daily_feeds import daily_sources_file, write_daily_feeds
from tests.http_server import serve_folder

pytestmark = pytest.mark.slow

TRUTH = json.loads((REPO_ROOT / "demo" / "truth" / "summary.json").read_text())
DAILY_SOURCES = ("imagery_log", "ais_feed")


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("daily-feeds")
    days = write_daily_feeds(folder)
    with serve_folder(folder) as base_url:
        yield folder, daily_sources_file(folder, base_url), days


def run(sources: Path, data_dir: Path, days: str) -> int:
    return main(["run", "--sources", str(sources), "--data-dir", str(data_dir), "--days", days])


def query(data_dir: Path, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def published_tables(data_dir: Path) -> dict[str, pl.DataFrame]:
    current = resolve_current(data_dir / "published")
    assert current is not None, "nothing was published"
    return {path.stem: pl.read_parquet(path) for path in sorted(current.glob("*.parquet"))}


def raw_rows(data_dir: Path, table: str) -> pl.DataFrame:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return fetch_frame(con, f"select * from {table} order by all")


def snapshot_days(data_dir: Path, source: str) -> list[str]:
    rows = query(
        data_dir,
        "select strftime(partition_day, '%Y-%m-%d') from raw_source_snapshots where source_name = ? order by 1",
        [source],
    )
    return [day for day, in rows]


def day_snapshot_ids(data_dir: Path, source: str, day: str) -> list[str]:
    rows = query(
        data_dir,
        "select snapshot_id from raw_source_snapshots where source_name = ? and partition_day = cast(? as date)",
        [source, day],
    )
    return [snapshot_id for snapshot_id, in rows]


def day_file_rows(folder: Path, days: list[str]) -> tuple[int, int]:
    """(imagery data rows, AIS position reports) in the files of ``days``, counted by the parsers."""
    imagery = sum(len((folder / "imagery" / f"{d}.csv").read_text().splitlines()) - 1 for d in days)
    positions = 0
    for day in days:
        path = folder / "ais" / f"{day}.nmea"
        if path.stat().st_size:
            sources = folder / f"one-day-{day}.yaml"
            sources.write_text(f"sources:\n  ais_feed: {{kind: ais_nmea, url: ais/{day}.nmea}}\n")
            positions += fetch_and_parse("ais_nmea", load_sources(sources), folder / "parse-landing").table(
                "raw_ais_positions"
            ).height
    return imagery, positions


@pytest.fixture(scope="module")
def every_day(feeds, tmp_path_factory):
    """One backfill run over every day of the demo."""
    folder, sources, days = feeds
    data_dir = tmp_path_factory.mktemp("every-day")
    assert run(sources, data_dir, f"{days[0]}..{days[-1]}") == 0
    return data_dir


def test_a_backfill_of_every_day_gives_the_answer_of_the_whole_files(feeds, every_day):
    folder, _, days = feeds
    tables = published_tables(every_day)
    voyages, cap = tables["voyages"], tables["cap_tracker"].filter(pl.col("year") == 2024)
    assert voyages.height == TRUTH["voyages"] == 43
    assert voyages["imo"].n_unique() == TRUTH["tankers"]
    assert str(cap["breach_date"][0]) == TRUTH["breach_date"]
    assert round(cap["delivered_bbl"][0]) == round(TRUTH["total_bbl"])

    whole = fetch_and_parse("ais_nmea", load_sources(REPO_ROOT / "demo" / "sources.yaml"), folder / "whole-landing")
    assert query(every_day, "select count(*) from raw_ais_positions")[0][0] == whole.table("raw_ais_positions").height
    assert query(every_day, "select count(*) from raw_imagery_sightings")[0][0] == TRUTH["imagery_rows"]
    for source in DAILY_SOURCES:
        assert snapshot_days(every_day, source) == days, source
    # Whole sources carry no day; the manifest names every file loaded, with its day.
    assert snapshot_days(every_day, "tanker_registry") == [None]
    manifest = json.loads((resolve_current(every_day / "published") / "manifest.json").read_text())
    listed = [s for s in manifest["sources"] if s["source"] == "ais_feed"]
    assert [s["partition_day"] for s in listed] == days


def test_rerunning_a_day_changes_nothing_published(feeds, every_day):
    _, sources, _ = feeds
    before = published_tables(every_day)
    raw_before = raw_rows(every_day, "raw_imagery_sightings")
    assert run(sources, every_day, "2024-05-10") == 0
    after = published_tables(every_day)
    assert before.keys() == after.keys()
    for name, frame in before.items():
        assert after[name].equals(frame), name
    assert raw_rows(every_day, "raw_imagery_sightings").equals(raw_before)


def test_a_corrected_day_file_replaces_that_days_rows_and_no_other(feeds, every_day):
    folder, sources, days = feeds
    day_file = folder / "imagery" / "2024-05-10.csv"
    original = day_file.read_text()
    lines = original.splitlines(keepends=True)
    assert len(lines) >= 2, "the day needs a sighting to correct"
    raw_before = raw_rows(every_day, "raw_imagery_sightings")
    voyages_before = published_tables(every_day)["voyages"]
    others = raw_before.filter(~pl.col("snapshot_id").is_in(day_snapshot_ids(every_day, "imagery_log", "2024-05-10")))
    try:
        day_file.write_text("".join(lines[:-1]))  # the publisher withdrew the day's last sighting
        assert run(sources, every_day, "2024-05-10") == 0
        corrected = raw_rows(every_day, "raw_imagery_sightings")
        assert corrected.height == raw_before.height - 1
        now_of_day = day_snapshot_ids(every_day, "imagery_log", "2024-05-10")
        assert corrected.filter(~pl.col("snapshot_id").is_in(now_of_day)).equals(others)
    finally:
        day_file.write_text(original)
    # The day put back: the same rows as before, and the same voyages (delete the window, insert it again).
    assert run(sources, every_day, "2024-05-10") == 0
    assert raw_rows(every_day, "raw_imagery_sightings").equals(raw_before)
    assert published_tables(every_day)["voyages"].equals(voyages_before)


def test_a_three_day_backfill_then_the_next_night_then_a_rerun(feeds, tmp_path):
    folder, sources, _ = feeds
    data_dir = tmp_path / "data"
    three = days_between("2024-05-09", "2024-05-11")
    imagery, positions = day_file_rows(folder, three)
    assert imagery and positions, "the chosen days need sightings and AIS"

    assert run(sources, data_dir, "2024-05-09..2024-05-11") == 0
    for source in DAILY_SOURCES:
        assert snapshot_days(data_dir, source) == three
    assert query(data_dir, "select count(*) from raw_imagery_sightings")[0][0] == imagery
    assert query(data_dir, "select count(*) from raw_ais_positions")[0][0] == positions

    assert run(sources, data_dir, "2024-05-12") == 0  # the next nightly run loads one more day
    four = [*three, "2024-05-12"]
    imagery4, positions4 = day_file_rows(folder, four)
    for source in DAILY_SOURCES:
        assert snapshot_days(data_dir, source) == four
    assert query(data_dir, "select count(*) from raw_ais_positions")[0][0] == positions4
    raw_before = raw_rows(data_dir, "raw_ais_positions")
    # the night's sightings are computed from the new day on, not from the start of the year
    sightings_build = "select mode, window_from from incremental_builds where model = 'int_sightings'"
    mode, window_from = query(data_dir, sightings_build)[0]
    assert mode == "incremental" and window_from.date().isoformat() == "2024-05-12"

    assert run(sources, data_dir, "2024-05-10") == 0
    assert raw_rows(data_dir, "raw_ais_positions").equals(raw_before)
    assert query(data_dir, "select count(*) from raw_imagery_sightings")[0][0] == imagery4
    assert query(data_dir, sightings_build)[0] == ("unchanged", None)


def test_a_day_resent_under_another_date_is_refused_and_nothing_moves(feeds, tmp_path, capsys):
    folder, sources, _ = feeds
    data_dir = tmp_path / "data"
    assert run(sources, data_dir, "2024-05-10") == 0
    current = resolve_current(data_dir / "published")
    resent = folder / "ais" / "2024-05-11.nmea"
    original = resent.read_bytes()
    try:
        shutil.copyfile(folder / "ais" / "2024-05-10.nmea", resent)
        assert run(sources, data_dir, "2024-05-11") == 1
    finally:
        resent.write_bytes(original)
    err = capsys.readouterr().err
    assert "byte-identical to the one loaded for 2024-05-10" in err
    assert resolve_current(data_dir / "published") == current
    assert snapshot_days(data_dir, "ais_feed") == ["2024-05-10"]


def test_slots_follow_the_sources_file(feeds, tmp_path):
    """A dropped source leaves the warehouse; a whole file turned into a daily feed replaces its rows."""
    folder, sources, _ = feeds
    warehouse = tmp_path / "warehouse.duckdb"

    def ingest(sources_file: Path, days: list[str]):
        return ingest_kind(
            lambda: connect(warehouse), "ais_nmea", load_sources(sources_file), tmp_path / "landing",
            tmp_path / "work", days=days,
        )

    whole = folder / "whole.yaml"
    whole.write_text(f"sources:\n  ais_feed: {{kind: ais_nmea, url: {REPO_ROOT / 'demo/sightings/ais_2024.nmea'}}}\n")
    everything = ingest(whole, ["2024-05-10"])
    assert everything.reloaded == ["ais_feed"] and everything.row_counts["raw_ais_positions"] > 0
    assert ingest(whole, ["2024-05-11"]).reloaded == []  # unchanged whole file: nothing reparsed

    _, positions = day_file_rows(folder, ["2024-05-10"])
    daily = ingest(sources, ["2024-05-10"])
    assert daily.reloaded == ["ais_feed", "ais_feed@2024-05-10"]
    assert daily.row_counts["raw_ais_positions"] == positions

    empty = folder / "no-ais.yaml"
    empty.write_text("sources: {}\n")
    dropped = ingest(empty, ["2024-05-10"])
    assert dropped.reloaded == ["ais_feed@2024-05-10"]
    assert dropped.row_counts == {"raw_ais_positions": 0, "raw_ais_static": 0}
    with connect(warehouse) as con:
        assert fetch_all(con, "select count(*) from raw_source_snapshots")[0][0] == 0


def test_the_nightly_schedule_loads_the_day_that_just_ended():
    tick = datetime(2024, 5, 11, 2, 0, tzinfo=UTC)
    request = nightly_full_run(dg.build_schedule_context(scheduled_execution_time=tick))
    assert request.partition_key == "2024-05-10"
    assert request.run_key == "nightly-2024-05-10"
    assert request.partition_key in DAILY_PARTITIONS.get_partition_keys(current_time=tick)
    # Around the year's end and on a leap day, the previous day is still a calendar day.
    assert last_complete_day(datetime(2025, 1, 1, 2, tzinfo=UTC)) == "2024-12-31"
    assert last_complete_day(datetime(2024, 3, 1, 2, tzinfo=UTC)) == "2024-02-29"


def test_days_given_to_a_run_must_be_partitions_in_order():
    assert parse_days("2024-05-09..2024-05-11") == ("2024-05-09", "2024-05-11")
    assert parse_days("2024-05-09") == ("2024-05-09", "2024-05-09")
    with pytest.raises(ValueError, match="ends before it starts"):
        parse_days("2024-05-11..2024-05-09")
    with pytest.raises(ValueError, match="is not a day partition"):
        parse_days("2023-12-31")
    with pytest.raises(ValueError):
        parse_days("2024-13-01")
    assert FIRST_DAY == "2024-01-01"


def test_a_day_placeholder_only_belongs_to_daily_kinds(tmp_path):
    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  registry:\n    kind: registry_csv\n    url: registry/{date}.csv\n")
    with pytest.raises(SourcesFileError, match="names one file a day"):
        load_sources(bad)
    good = tmp_path / "daily.yaml"
    good.write_text("sources:\n  ais:\n    kind: ais_nmea\n    url: https://feed.example/ais/{date}.nmea\n")
    (source,) = load_sources(good)
    assert source.is_daily and source.url_for_day("2024-05-10") == "https://feed.example/ais/2024-05-10.nmea"


def test_a_raw_table_of_another_layout_is_made_again_and_its_days_forgotten(feeds, tmp_path):
    _, sources, _ = feeds
    warehouse = tmp_path / "warehouse.duckdb"
    logged: list[str] = []

    def ingest():
        return ingest_kind(
            lambda: connect(warehouse), "imagery_sightings_csv", load_sources(sources), tmp_path / "landing",
            tmp_path / "work", log=logged.append, days=["2024-05-10"],
        )

    first = ingest()
    assert first.reloaded == ["imagery_log@2024-05-10"] and not logged
    with connect(warehouse) as con:  # as an older tankerwatch left it: one column fewer
        con.execute("alter table raw_imagery_sightings drop column notes")
    again = ingest()
    assert again.reloaded == ["imagery_log@2024-05-10"]
    assert again.row_counts == first.row_counts
    assert len(logged) == 1 and "raw_imagery_sightings had another layout" in logged[0]


def test_a_run_of_the_daily_assets_without_a_day_fails_at_once_and_says_how_to_name_one(tmp_path):
    from orchestration.definitions import defs

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        run_config={"resources": {"tankerwatch": {"config": {"data_dir": str(tmp_path / "data")}}}},
        asset_selection=[dg.AssetKey("raw_imagery_sightings")],
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "names none: launch it for a day or a range" in failure.event_specific_data.error.message
    assert not (tmp_path / "data" / "landing").exists()  # nothing was fetched
