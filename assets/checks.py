"""Blocking Great Expectations checks: one per asset that has a suite in expectations/, plus the publish-set gate;
and a non-blocking WARN check per model whose suite quarantines rows the rules did not foresee."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg

from assets.publish import candidate_dir
from assets.resources import TankerwatchResource
from tankerwatch.docs_server import docs_url
from tankerwatch.gate_docs import INDEX_FILE, write_gate_docs_safely
from tankerwatch.gate_spec import compact, expectation_columns, short_label
from tankerwatch.gate_windows import validate_gate
from tankerwatch.gates import GateResult, validate_frame
from tankerwatch.models import discover_models
from tankerwatch.publish_set import cap_consistency_frame, published_files_frame, record_gate_result
from tankerwatch.published_schema import CHECK_NAME as PUBLISHED_SCHEMA_CHECK
from tankerwatch.published_schema import SCHEMA_FILE, schema_frame
from tankerwatch.quarantine import QUARANTINE_CHECK, quarantinable_indexes, quarantined_counts
from tankerwatch.settings import EXPECTATIONS_DIR

GX_SUITE_CHECK = "great_expectations_suite"
PUBLISH_SET_CHECK = "publish_set_consistent"
PUBLISH_SET_SUITES = ("publish_files", "publish_cap_consistency")
# Every gate stops what is downstream of it, and opens the warehouse read-write (bootstrap,
# gate_results): in the duckdb pool, or a multiprocess executor runs it beside a writing step.
GATE = dict(blocking=True, pool="duckdb")


def gate_candidate_frame(
    context: dg.AssetCheckExecutionContext,
    tankerwatch: TankerwatchResource,
    asset_key: str,
    suite: Path,
    build_frame: Callable[[Path], Any],
) -> tuple[Path, Any, GateResult]:
    """Validate the frame `build_frame` makes of this run's candidate version, and record the verdict the publish
    step reads; another run's candidate is never gated."""
    run_id = context.op_execution_context.run_id
    version_dir = candidate_dir(context.instance, tankerwatch, run_id)
    frame = build_frame(version_dir)
    result = validate_frame(suite, frame)
    with tankerwatch.warehouse() as con:
        record_gate_result(con, run_id, asset_key, result)
    return version_dir, frame, result


def check_metadata(results: list[GateResult]) -> dict:
    failing = [r for r in results if not r.success]
    rows = failing_rows_table(failing)
    return {
        "suites": ", ".join(r.suite_name for r in results),
        "expectations_evaluated": sum(r.evaluated for r in results),
        "expectations_passed": sum(r.passed for r in results),
        "rows_validated": sum(r.rows or 0 for r in results),
        "engine": ", ".join(sorted({r.engine for r in results})),
        "scope": "; ".join(sorted({r.scope for r in results})),
        "failing_expectations": dg.MetadataValue.md(
            "\n\n".join(f"**{r.suite_name}**\n\n{r.failure_markdown()}" for r in failing) or "none"
        ),
        **({"failing_rows": rows} if rows is not None else {}),
    }


def failing_rows_table(results: list[GateResult]) -> dg.TableMetadataValue | None:
    """The failing rows of every failed expectation as one table: which expectation, the row's keys and
    lineage (source, snapshot, line) as the table names them, and the values the expectation refused.
    None when no failure names rows (a missing column, a row count)."""
    records = [(r, f, row) for r in results for f in r.failures for row in f.failing_rows]
    if not records:
        return None
    keys = list(dict.fromkeys(k for r in results for k in r.key_columns))
    fixed = ["suite", "expectation", *keys, "failing_values"]
    if len(fixed) != len(set(fixed)):  # a table column named like one of ours
        keys = [k for k in keys if k not in ("suite", "expectation", "failing_values")]
        fixed = ["suite", "expectation", *keys, "failing_values"]
    samples: dict[str, object] = {}
    table_rows = []
    for result, failure, row in records:
        shown = {k: _cell(row.get(k)) for k in keys if k in result.key_columns}
        for k, v in shown.items():
            if v is not None:
                samples.setdefault(k, v)
        values = ", ".join(f"{c}={compact(row.get(c), 200)}" for c in expectation_columns(failure.kwargs) if c in row)
        table_rows.append(
            dg.TableRecord(
                {"suite": result.suite_name, "expectation": short_label(failure), **shown, "failing_values": values}
            )
        )
    columns = [
        dg.TableColumn("suite", "string", description="the suite whose expectation failed"),
        dg.TableColumn("expectation", "string", description="the failed expectation and its column(s)"),
        *[
            dg.TableColumn(k, _column_type(samples.get(k)), description="row key or lineage in the table")
            for k in keys
        ],
        dg.TableColumn("failing_values", "string", description="the row's values the expectation refused"),
    ]
    return dg.MetadataValue.table(table_rows, schema=dg.TableSchema(columns=columns))


def _cell(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return compact(value, 200)


def _column_type(sample: object) -> str:
    if isinstance(sample, bool):
        return "bool"
    if isinstance(sample, int):
        return "int"
    if isinstance(sample, float):
        return "float"
    return "string"


def docs_metadata(
    context: dg.AssetCheckExecutionContext,
    tankerwatch: TankerwatchResource,
    asset: str,
    result: GateResult,
    suite_path: Path,
) -> dict:
    """Write the result's HTML page (data/gate_docs/<run_id>/) and link it; {} if writing failed.

    Never raises: the verdict, not its docs, gates the run (a failure is logged as a warning).
    """
    page = write_gate_docs_safely(
        result,
        tankerwatch.paths().root,
        context.op_execution_context.run_id,
        asset=asset,
        suite_path=suite_path,
        log=context.log,
    )
    if page is None:
        return {}
    root = tankerwatch.paths().root
    links = {"data_docs": docs_url(root, page), "data_docs_index": docs_url(root, page.parent / INDEX_FILE)}
    # The docs server (python -m tankerwatch.docs_server, started by `make ui`) serves these at the
    # base URL read now, per run: a URL opens from the UI, a local path does not.
    return {name: dg.MetadataValue.url(url) for name, url in links.items() if url}


def build_suite_check(asset_name: str, suite_path: Path) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_name,
        name=GX_SUITE_CHECK,
        **GATE,
        description=f"Great Expectations suite expectations/{suite_path.name}: a failure stops everything downstream.",
    )
    def gx_suite(context: dg.AssetCheckExecutionContext, tankerwatch: TankerwatchResource) -> dg.AssetCheckResult:
        with tankerwatch.warehouse() as con:
            result = validate_gate(con, asset_name, suite_path, discover_models().get(asset_name))
            record_gate_result(con, context.op_execution_context.run_id, asset_name, result)
        if not result.success:
            context.log.error(result.summary())
        metadata = {**check_metadata([result]), **docs_metadata(context, tankerwatch, asset_name, result, suite_path)}
        return dg.AssetCheckResult(passed=result.success, metadata=metadata)

    return gx_suite


def build_quarantine_check(asset_name: str, suite_path: Path) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_name,
        name=QUARANTINE_CHECK,
        blocking=False,
        pool="duckdb",
        description=(
            f"Rows of {asset_name} that passed every rule but violate an expectation of expectations/{suite_path.name} "
            "on the rows it uses: rejected with the expectation as their reason (see rejects), counted here as a warning."
        ),
    )
    def quarantined(context: dg.AssetCheckExecutionContext, tankerwatch: TankerwatchResource) -> dg.AssetCheckResult:
        with tankerwatch.warehouse() as con:
            counts = quarantined_counts(con, asset_name)
        total = sum(c.rows for c in counts)
        if total:
            context.log.warning(
                f"{asset_name}: {total} row(s) rejected by expectations no rule foresaw: "
                + "; ".join(f"{c.expectation}: {c.rows}" for c in counts if c.rows)
            )
        return dg.AssetCheckResult(
            passed=total == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "quarantined_rows": total,
                "by_expectation": dg.MetadataValue.json({c.expectation: c.rows for c in counts}),
            },
        )

    return quarantined


def build_suite_checks(asset_names: list[str]) -> list[dg.AssetChecksDefinition]:
    """A blocking check for every asset with a suite (an asset without one is a configuration error), and
    a WARN check for every asset whose suite has expectations the quarantine applies (tankerwatch/quarantine.py)."""
    missing = [name for name in asset_names if not (EXPECTATIONS_DIR / f"{name}.json").exists()]
    if missing:
        raise FileNotFoundError(f"no Great Expectations suite in expectations/ for assets {missing}")
    models = discover_models()
    checks = [build_suite_check(name, EXPECTATIONS_DIR / f"{name}.json") for name in asset_names]
    checks += [
        build_quarantine_check(name, EXPECTATIONS_DIR / f"{name}.json")
        for name in asset_names
        if name in models and quarantinable_indexes(EXPECTATIONS_DIR / f"{name}.json")
    ]
    return checks


@dg.asset_check(
    asset="publish_candidate",
    name=PUBLISH_SET_CHECK,
    **GATE,
    description="The written set holds every table as validated, and cap_tracker agrees with voyages (expectations/publish_*.json).",
)
def publish_set_check(context: dg.AssetCheckExecutionContext, tankerwatch: TankerwatchResource) -> dg.AssetCheckResult:
    version_dir = candidate_dir(context.instance, tankerwatch, context.op_execution_context.run_id)
    with tankerwatch.warehouse() as con:
        results = [
            validate_frame(EXPECTATIONS_DIR / "publish_files.json", published_files_frame(con, version_dir)),
            validate_frame(EXPECTATIONS_DIR / "publish_cap_consistency.json", cap_consistency_frame(version_dir)),
        ]
        for result in results:
            record_gate_result(con, context.op_execution_context.run_id, "publish_candidate", result)
    passed = all(r.success for r in results)
    if not passed:
        context.log.error("; ".join(r.summary() for r in results if not r.success))
    docs = {}
    for suite, result in zip(PUBLISH_SET_SUITES, results):
        links = docs_metadata(context, tankerwatch, "publish_candidate", result, EXPECTATIONS_DIR / f"{suite}.json")
        if links:
            docs[f"data_docs_{suite}"] = links["data_docs"]
            docs["data_docs_index"] = links["data_docs_index"]
    return dg.AssetCheckResult(
        passed=passed, metadata={"version_dir": str(version_dir), **check_metadata(results), **docs}
    )


@dg.asset_check(
    asset="publish_candidate",
    name=PUBLISHED_SCHEMA_CHECK,
    **GATE,
    description="Every published table has exactly the columns, order and Arrow types of schemas/published.json (expectations/publish_schema.json), which the model contracts generate: a published column changes only with its contract.",
)
def published_schema_check(context: dg.AssetCheckExecutionContext, tankerwatch: TankerwatchResource) -> dg.AssetCheckResult:
    version_dir, frame, result = gate_candidate_frame(
        context, tankerwatch, "publish_candidate", EXPECTATIONS_DIR / "publish_schema.json",
        lambda version: schema_frame(version, SCHEMA_FILE),
    )
    problems = [p for p in frame["problem"].to_list() if p]
    if not result.success:
        context.log.error("; ".join(problems) or result.summary())
    return dg.AssetCheckResult(
        passed=result.success,
        metadata={
            "version_dir": str(version_dir),
            "schema_file": str(SCHEMA_FILE),
            "differences": dg.MetadataValue.json(problems),
            **check_metadata([result]),
            **docs_metadata(context, tankerwatch, "publish_candidate", result, EXPECTATIONS_DIR / "publish_schema.json"),
        },
    )
