"""The `tankerwatch` command: run the whole graph in-process and print the headline."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import polars as pl

from tankerwatch.publish import resolve_current
from tankerwatch.settings import DATA_DIR_ENV, SOURCES_ENV, resolve_data_paths, resolve_sources_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tankerwatch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="fetch, build, gate and publish the whole graph in-process")
    run.add_argument("--sources", help=f"sources file (default: ${SOURCES_ENV}, else the bundled demo)")
    run.add_argument("--data-dir", help=f"data directory (default: ${DATA_DIR_ENV}, else ./data)")
    run.add_argument("--product", help="refined product for volumes (default: seeds/volume_assumptions.csv)")
    args = parser.parse_args(argv)
    return run_pipeline(args.sources, args.data_dir, args.product)


def run_pipeline(sources: str | None, data_dir: str | None, product: str | None) -> int:
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
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def(FULL_JOB_NAME)
    result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)

    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    for evaluation in failed_checks:
        print(f"GATE FAILED: {evaluation.asset_key.to_user_string()} / {evaluation.check_name}", file=sys.stderr)
        table = evaluation.metadata.get("failing_expectations")
        if table is not None:
            print(table.value, file=sys.stderr)
    for event in result.all_events:
        if event.is_step_failure:
            print(f"STEP FAILED: {event.step_key}: {root_cause(event.event_specific_data.error)}", file=sys.stderr)
    if not result.success or failed_checks:
        print("tankerwatch: run failed; published/current was left as it was", file=sys.stderr)
        return 1
    print(headline(paths.published))
    return 0


def root_cause(error) -> str:
    """The innermost error of a Dagster failure: the one that names the source or model."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip()


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
            f"(low estimate {row['breach_date_low'] or 'not breached'}, high {row['breach_date_high'] or 'not breached'})"
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
