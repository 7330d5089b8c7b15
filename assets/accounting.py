"""The publish gate that every input record is accounted for: read = used + rejected + skipped + merged per snapshot."""

import dagster as dg

from assets.checks import GATE, check_metadata, docs_metadata, gate_candidate_frame
from assets.publish import CANDIDATE_KEY
from assets.resources import TankerwatchResource
from tankerwatch.publish_set import accounting_frame, unaccounted_snapshots
from tankerwatch.settings import EXPECTATIONS_DIR

ACCOUNTING_CHECK = "records_accounted"
ACCOUNTING_SUITE = EXPECTATIONS_DIR / "publish_accounting.json"


@dg.asset_check(
    asset=CANDIDATE_KEY,
    name=ACCOUNTING_CHECK,
    **GATE,
    description="expectations/publish_accounting.json: for every source snapshot in manifest.json, the records read equal those used, rejected with a reason, skipped or merged; a record lost silently stops the publish.",
)
def records_accounted(context: dg.AssetCheckExecutionContext, tankerwatch: TankerwatchResource) -> dg.AssetCheckResult:
    version_dir, frame, result = gate_candidate_frame(
        context, tankerwatch, CANDIDATE_KEY.to_user_string(), ACCOUNTING_SUITE, accounting_frame
    )
    lost = unaccounted_snapshots(frame)
    metadata = check_metadata([result])
    if not result.success:
        # Named first, where the run's summary shows a failed gate: which source and snapshot lost records.
        named = "records not accounted for: " + ("; ".join(lost) or result.summary())
        context.log.error(named)
        metadata["failing_expectations"] = dg.MetadataValue.md(f"{named}\n\n{metadata['failing_expectations'].value}")
    return dg.AssetCheckResult(
        passed=result.success,
        metadata={
            "version_dir": str(version_dir),
            "snapshots": frame.height,
            "records_read": int(frame["read"].sum() or 0),
            "unaccounted": dg.MetadataValue.json(lost),
            **metadata,
            **docs_metadata(context, tankerwatch, CANDIDATE_KEY.to_user_string(), result, ACCOUNTING_SUITE),
        },
    )


accounting_checks = [records_accounted]
