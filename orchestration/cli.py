"""The `tankerwatch` command: run the whole graph in-process and print the headline."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from datetime import UTC
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import polars as pl

from tankerwatch.errors import DataDirUnusable, SourcesFileError
from tankerwatch.publish import current_version, resolve_current
from tankerwatch.run_lock import (
    DEFAULT_LOCK_WAIT_S,
    LOCK_WAIT_ENV,
    RunLocked,
    lock_wait_s,
    run_lock,
    say,
)
from tankerwatch.settings import (
    DATA_DIR_ENV,
    REPO_ROOT,
    SOURCES_ENV,
    prepare_data_dir,
    resolve_data_paths,
    resolve_sources_file,
)
from tankerwatch.sources import load_sources

EXIT_LOCKED = 75  # EX_TEMPFAIL: another run held the data directory for longer than we would wait
EXIT_CONFIG = 78  # EX_CONFIG: the sources file or the data directory cannot be used; nothing was run
DAGSTER_HOME_ENV = "DAGSTER_HOME"
# What `make ui` gives `dagster dev`: a run from the command line in the same directory shows in the UI.
DEFAULT_DAGSTER_HOME = Path(".dagster_home")
INSTANCE_SETTINGS = REPO_ROOT / "dagster.yaml"


def package_version() -> str:
    try:
        return version("tankerwatch")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tankerwatch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tankerwatch {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="fetch, build, gate and publish the whole graph in-process")
    run.add_argument("--sources", help=f"sources file (default: ${SOURCES_ENV}, else the bundled demo)")
    run.add_argument("--data-dir", help=f"data directory (default: ${DATA_DIR_ENV}, else ./data)")
    run.add_argument("--product", help="refined product for volumes (default: seeds/volume_assumptions.csv)")
    run.add_argument(
        "--days",
        help="the day partition(s) daily feeds load: YYYY-MM-DD or FIRST..LAST (default: the last complete UTC "
        "day); sources without {date} in their url are read whole whatever the days",
    )
    run.add_argument(
        "--lock-wait",
        type=float,
        help=f"seconds to wait for another run on the same data directory (default: ${LOCK_WAIT_ENV}, else "
        f"{DEFAULT_LOCK_WAIT_S:.0f})",
    )
    args = parser.parse_args(argv)
    try:
        days = parse_days(args.days)
    except ValueError as exc:
        parser.error(f"--days: {exc}")
    paths = resolve_data_paths(args.data_dir)
    try:
        wait_s = lock_wait_s(args.lock_wait)
    except ValueError as exc:
        parser.error(str(exc))
    # All three are checked before anything runs: a mistyped path is one line, not a failure in every step.
    try:
        load_sources(resolve_sources_file(args.sources))
        prepare_data_dir(paths.root)
        home = prepare_dagster_home()
    except (SourcesFileError, DataDirUnusable) as exc:
        print(f"tankerwatch: {exc}; nothing was run", file=sys.stderr)
        return EXIT_CONFIG
    # The run id is chosen before the lock is taken so the lock file names the run while it runs: a run
    # killed while holding it is then found and marked failed by the next run to take it.
    run_id = str(uuid.uuid4())
    try:
        with run_lock(paths.root, wait_s, run_id=run_id) as held:
            with open_instance(home) as instance:
                from orchestration.jobs import take_over

                take_over(instance, held, paths.root, warn=say, info=say)
                return run_pipeline(args.sources, str(paths.root), args.product, days, instance=instance, run_id=run_id)
    except RunLocked as exc:
        print(f"tankerwatch: {exc}; nothing was run", file=sys.stderr)
        return EXIT_LOCKED


def prepare_dagster_home() -> Path:
    """The Dagster instance directory runs are recorded in: $DAGSTER_HOME, else ./.dagster_home (what `make ui`
    starts `dagster dev` on), created when missing and given tankerwatch's dagster.yaml when it has none.

    An existing dagster.yaml is the operator's (PostgreSQL storage, other limits) and is never replaced.
    """
    configured = os.environ.get(DAGSTER_HOME_ENV)
    home = Path(configured).expanduser() if configured else DEFAULT_DAGSTER_HOME
    home = home.resolve()
    where = f"${DAGSTER_HOME_ENV} ({home})" if configured else f"the Dagster instance directory {home}"
    prepare_data_dir(home, where)
    settings = home / "dagster.yaml"
    try:
        if not settings.exists():
            shutil.copyfile(INSTANCE_SETTINGS, settings)
    except OSError as exc:
        raise DataDirUnusable(f"{where} cannot be used: {exc.strerror or exc}") from None
    return home


def open_instance(home: Path):
    """The persistent instance in ``home``, the one `dagster dev` on the same directory shows."""
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home))


def parse_days(text: str | None) -> tuple[str, str]:
    """(first, last) day partition of a run from ``YYYY-MM-DD`` or ``FIRST..LAST``; both must be partitions."""
    from datetime import datetime

    from assets.partitions import DAILY_PARTITIONS, days_between, last_complete_day

    if not text:
        day = last_complete_day(datetime.now(UTC))
        return day, day
    first, _, last = text.partition("..")
    last = last or first
    days_between(first, last)  # checks both dates and their order
    keys = set(DAILY_PARTITIONS.get_partition_keys())
    for day in (first, last):
        if day not in keys:
            raise ValueError(
                f"{day} is not a day partition (from {DAILY_PARTITIONS.start.date()} to the last complete UTC day)"
            )
    return first, last


def run_pipeline(
    sources: str | None,
    data_dir: str | None,
    product: str | None,
    days: tuple[str, str] | None = None,
    instance=None,
    run_id: str | None = None,
) -> int:
    # Imported here: loading Dagster and the definitions takes seconds, --help should not.
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.jobs import FULL_JOB_NAME

    sources_file = resolve_sources_file(sources)
    paths = resolve_data_paths(data_dir)
    print(f"tankerwatch: sources {sources_file}")
    print(f"tankerwatch: data    {paths.root}")
    run_config = {
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
        "resources": {
            "tankerwatch": {
                "config": {"sources_file": str(sources_file), "data_dir": str(paths.root), "product": product or ""}
            }
        }
    }
    if instance is None:
        instance = dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def(FULL_JOB_NAME)
    before = current_version(paths.published)
    first, last = days or parse_days(None)
    print(f"tankerwatch: days    {first}" + (f"..{last}" if last != first else ""))
    # A range runs as one run, as a single-run backfill from the UI does.
    partition = (
        {"partition_key": first}
        if first == last
        else {"tags": {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}}
    )
    run_id = run_id or str(uuid.uuid4())
    print(f"tankerwatch: run     {run_id}")
    result = job.execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, run_id=run_id, **partition
    )

    warnings, failed_checks = failed_and_warned(result.get_asset_check_evaluations())
    for evaluation in warnings:
        print(f"WARNING: {evaluation.asset_key.to_user_string()} / {evaluation.check_name}", file=sys.stderr)
        for name, value in evaluation.metadata.items():
            print(f"  {name}: {value.value}", file=sys.stderr)
    for evaluation in failed_checks:
        print(f"GATE FAILED: {evaluation.asset_key.to_user_string()} / {evaluation.check_name}", file=sys.stderr)
        table = evaluation.metadata.get("failing_expectations")
        if table is not None:
            print(table.value, file=sys.stderr)
    for event in result.all_events:
        if event.is_step_failure:
            print(f"STEP FAILED: {event.step_key}: {root_cause(event.event_specific_data.error)}", file=sys.stderr)
    if not result.success or failed_checks:
        after = current_version(paths.published)
        if after == before:
            print("tankerwatch: run failed; published/current was left as it was", file=sys.stderr)
        else:
            print(f"tankerwatch: run failed after published/current moved from {before} to {after}", file=sys.stderr)
        return 1
    print(headline(paths.published))
    return 0


def failed_and_warned(evaluations) -> tuple[list, list]:
    """(warnings, failures) among check evaluations: a failed WARN check (a source reused its last good
    snapshot) is reported but neither stops nor fails the run; any other failed check does."""
    import dagster as dg

    failed = [e for e in evaluations if not e.passed]
    warnings = [e for e in failed if e.severity == dg.AssetCheckSeverity.WARN]
    return warnings, [e for e in failed if e.severity != dg.AssetCheckSeverity.WARN]


def root_cause(error) -> str:
    """A Dagster failure as its reader needs it: the outermost error raised by tankerwatch, which
    names the source or model, and the innermost cause when that says more (a parser names the
    landed file and line, the ingest around it the source)."""
    chain = []
    while error is not None:
        chain.append(error)
        error = getattr(error, "cause", None)
    ours = [e for e in chain if not (e.cls_name or "").startswith("Dagster")] or chain
    outer, inner = ours[0].message.strip(), chain[-1].message.strip()
    if inner in outer:
        return outer
    return f"{outer} (cause: {inner})"


def headline(published: Path) -> str:
    """The case's answer, read back from the published set a consumer sees."""
    current = resolve_current(published)
    if current is None:
        return "nothing published yet"
    cap = pl.read_parquet(current / "cap_tracker.parquet").sort("year")
    voyages = pl.read_parquet(current / "voyages.parquet")
    lines = [f"published {current.name}: {voyages.height} voyages, {voyages['imo'].n_unique()} tankers"]
    for row in cap.iter_rows(named=True):
        breach = (
            f"cap of {row['cap_bbl']:,.0f} bbl breached on {row['breach_date']} "
            f"(low estimate {row['breach_date_low'] or 'not breached'}, "
            f"high {row['breach_date_high'] or 'not breached'})"
            if row["breach_date"]
            else f"cap of {row['cap_bbl']:,.0f} bbl not breached"
        )
        lines.append(
            f"{row['year']}: {row['voyages']} voyages counted toward the cap, {row['delivered_bbl']:,.0f} bbl "
            f"(range {row['delivered_bbl_low']:,.0f}-{row['delivered_bbl_high']:,.0f}); {breach}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
