"""The report asset: the analyst's pictures of the candidate set, written into it before it is published."""

import dagster as dg
import polars as pl

from assets.checks import GATE, GX_SUITE_CHECK, check_metadata, docs_metadata, gate_candidate_frame
from assets.publish import CANDIDATE_KEY, OWNERS, PUBLISHED_FRESHNESS, REPORT_KEY, candidate_dir
from assets.resources import TankerwatchResource
from tankerwatch.publish_set import report_consistency_frame
from tankerwatch.report import FIGURES, REPORT_FILES, REPORT_HTML, headline_markdown, sightings, write_report
from tankerwatch.settings import EXPECTATIONS_DIR

REPORT_SUITE = EXPECTATIONS_DIR / "publish_report.json"


@dg.asset(
    key=REPORT_KEY,
    deps=[CANDIDATE_KEY],
    group_name="publish",
    kinds={"html", "matplotlib"},
    owners=OWNERS,
    pool="duckdb",
    freshness_policy=PUBLISHED_FRESHNESS,
)
def publish_report(context: dg.AssetExecutionContext, tankerwatch: TankerwatchResource) -> dg.MaterializeResult:
    """One analyst's report per candidate version (report.html with PNG figures of the cap by year, voyages by month and vessel, ports and routes on a coastline, and a timeline per vessel; sanctioned vessels' voyages with their evidence; assumptions and source snapshots; voyages.csv), drawn from the candidate's parquet files and the sightings its evidence ids name."""
    version_dir = candidate_dir(context.instance, tankerwatch, context.run_id)
    # The published tables name sightings by id only; the page shows each one, read from the warehouse the
    # candidate was built from in this run.
    named = pl.read_parquet(version_dir / "voyages.parquet", columns=["evidence_ids"])["evidence_ids"]
    ids = sorted({e for row in named.to_list() for e in (row or [])})
    with tankerwatch.warehouse() as con:
        evidence = sightings(con, ids)
    data = write_report(version_dir, evidence=evidence)
    # The version's own page: it is what published/current/report.html becomes once this set is switched to.
    html_path = version_dir / REPORT_HTML
    per_month = data["voyages_per_month"]
    return dg.MaterializeResult(
        metadata={
            "headline": dg.MetadataValue.md(headline_markdown(data, html_path)),
            "report": dg.MetadataValue.path(str(html_path)),
            "version": version_dir.name,
            "files": dg.MetadataValue.json(list(REPORT_FILES)),
            "figures": dg.MetadataValue.json(list(FIGURES)),
            "vessels_named_in_chart": len(per_month["shown"]),
            "vessels_as_other": per_month["other"]["vessels"],
            "sanctioned_vessels_with_voyages": len(data["sanctioned_vessels"]["with_voyages"]),
            "evidence_ids": len(data["evidence"]["ids"]),
            "evidence_ids_without_sighting": data["evidence"]["missing"],
            "demo_sources": dg.MetadataValue.json(data["demo_sources"]),
        }
    )


@dg.asset_check(
    asset=REPORT_KEY,
    name=GX_SUITE_CHECK,
    **GATE,
    description="expectations/publish_report.json: every number of the report equals the candidate's tables, and its files are in manifest.json.",
)
def report_consistent(context: dg.AssetCheckExecutionContext, tankerwatch: TankerwatchResource) -> dg.AssetCheckResult:
    version_dir, frame, result = gate_candidate_frame(
        context, tankerwatch, REPORT_KEY.to_user_string(), REPORT_SUITE, report_consistency_frame
    )
    if not result.success:
        context.log.error(result.summary())
    mismatches = frame.filter(pl.col("difference").is_null() | (pl.col("difference") > 0.01)).head(20)
    return dg.AssetCheckResult(
        passed=result.success,
        metadata={
            "version_dir": str(version_dir),
            "numbers_compared": frame.height,
            "mismatches": dg.MetadataValue.json(mismatches.to_dicts()),
            **check_metadata([result]),
            **docs_metadata(context, tankerwatch, REPORT_KEY.to_user_string(), result, REPORT_SUITE),
        },
    )


report_assets = [publish_report]
report_checks = [report_consistent]
