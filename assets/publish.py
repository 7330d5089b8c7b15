"""Publish assets: write a complete candidate version, then switch published/current to it once gated."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from assets.resources import TankerwatchResource
from tankerwatch.docs_server import docs_url
from tankerwatch.gate_docs import prune_gate_docs
from tankerwatch.publish import keep_versions_setting, prune_versions, switch_current, write_manifest, write_version
from tankerwatch.publish_set import PUBLISHED_TABLES, build_manifest, latest_gate_results, publish_blockers
from tankerwatch.settings import EXPECTATIONS_DIR

# The published assets are rebuilt once a day by the nightly run (a run takes minutes). A set older than
# 25 hours means a night was late; older than 26 hours, a night was missed or failed: the UI marks the
# asset degraded, then failed. (Evaluated when `freshness: enabled: true` is in dagster.yaml.)
PUBLISHED_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26),
    warn_window=timedelta(hours=25),
)

OWNERS = ["team:tankerwatch-data"]
CANDIDATE_KEY = dg.AssetKey("publish_candidate")
REPORT_KEY = dg.AssetKey("publish_report")


def candidate_dir(instance: dg.DagsterInstance, tankerwatch: TankerwatchResource, run_id: str) -> Path:
    """The version directory publish_candidate wrote in this run; another run's candidate is never used."""
    event = instance.get_latest_materialization_event(CANDIDATE_KEY)
    if event is None or event.asset_materialization is None or event.run_id != run_id:
        raise RuntimeError(f"publish_candidate was not materialised in run {run_id}: nothing to check or publish")
    version = event.asset_materialization.metadata["version"].value
    return tankerwatch.paths().published / "versions" / str(version)


@dg.asset(
    deps=list(PUBLISHED_TABLES),
    group_name="publish",
    kinds={"parquet"},
    owners=OWNERS,
    pool="duckdb",
    freshness_policy=PUBLISHED_FRESHNESS,
)
def publish_candidate(context: dg.AssetExecutionContext, tankerwatch: TankerwatchResource) -> dg.MaterializeResult:
    """One new version directory under published/versions/ holding every published table as parquet plus manifest.json; not yet visible to consumers."""
    version_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{context.run_id[:8]}"
    published = tankerwatch.paths().published
    with tankerwatch.warehouse() as con:
        manifest = build_manifest(con, context.run_id, version_id)
        version_dir = write_version(con, published, version_id, PUBLISHED_TABLES, manifest=manifest)
    return dg.MaterializeResult(
        metadata={
            "version": version_id,
            "path": dg.MetadataValue.path(str(version_dir)),
            "row_counts": dg.MetadataValue.json(manifest["row_counts"]),
        }
    )


@dg.asset(
    deps=[CANDIDATE_KEY, REPORT_KEY],
    group_name="publish",
    kinds={"parquet"},
    owners=OWNERS,
    pool="duckdb",
    freshness_policy=PUBLISHED_FRESHNESS,
)
def published_current(context: dg.AssetExecutionContext, tankerwatch: TankerwatchResource) -> dg.MaterializeResult:
    """The validated set consumers read at published/current/: the candidate version with its report, with every check of the run in its manifest, switched to atomically."""
    version_dir = candidate_dir(context.instance, tankerwatch, context.run_id)
    manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
    with tankerwatch.warehouse() as con:
        manifest["checks"] = latest_gate_results(con)
    if "report" not in manifest:
        raise RuntimeError(f"refusing to publish {version_dir.name}: it has no report (materialise {REPORT_KEY.to_user_string()} first)")
    # A backfill spreads the graph over several runs and goes on after a failed gate in an earlier one:
    # every gate's newest result must have passed, whichever run made it.
    blockers = publish_blockers(
        manifest["checks"],
        expected_suites={path.stem for path in EXPECTATIONS_DIR.glob("*.json")},
        run_id=context.run_id,
        own_run_assets={CANDIDATE_KEY.to_user_string(), REPORT_KEY.to_user_string()},
    )
    if blockers:
        raise RuntimeError(f"refusing to publish {version_dir.name}: " + "; ".join(blockers))
    keep = keep_versions_setting(tankerwatch.keep_versions or None)
    write_manifest(version_dir, manifest)
    previous = switch_current(tankerwatch.paths().published, version_dir)
    # Only now, with the new set live: current and previous are never pruned. A failed deletion
    # leaves an old version on disk; it does not undo a publish that has happened.
    try:
        removed = prune_versions(tankerwatch.paths().published, keep, previous=previous)
        prune_gate_docs(tankerwatch.paths().root)
    except OSError as exc:
        context.log.warning(f"published {version_dir.name}, but pruning old versions failed: {exc}")
        removed = []
    return dg.MaterializeResult(
        metadata={
            "version": version_dir.name,
            "previous_version": previous or "",
            "versions_kept": keep,
            "versions_removed": dg.MetadataValue.json(removed),
            "path": dg.MetadataValue.path(str(tankerwatch.paths().published / "current")),
            "checks_passed": len(manifest["checks"]),
            "report": dg.MetadataValue.url(docs_url(tankerwatch.paths().root, version_dir / manifest["report"]["html"])),
        }
    )


publish_assets = [publish_candidate, published_current]
