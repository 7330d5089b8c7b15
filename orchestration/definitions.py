"""The one Definitions object of tankerwatch: every asset, check, job, schedule, sensor and resource."""

import dagster as dg

from assets.accounting import accounting_checks
from assets.checks import build_suite_checks, publish_set_check, published_schema_check
from assets.ingest import ingest_assets
from assets.models import model_assets
from assets.publish import publish_assets
from assets.reference import reference_assets
from assets.report import report_assets, report_checks
from assets.resources import TankerwatchResource
from orchestration.jobs import full_pipeline_job, locked_in_process_executor
from orchestration.schedules import nightly_full_run
from orchestration.sensors import imagery_drop_sensor
from tankerwatch.ingest import KIND_TABLES
from tankerwatch.models import discover_models

GATED_ASSETS = [
    *[table for tables in KIND_TABLES.values() for table in tables],
    *[asset.key.path[-1] for asset in reference_assets],
    *discover_models(),
]

defs = dg.Definitions(
    assets=[*ingest_assets, *reference_assets, *model_assets, *publish_assets, *report_assets],
    asset_checks=[
        *build_suite_checks(GATED_ASSETS), publish_set_check, published_schema_check, *report_checks, *accounting_checks
    ],
    jobs=[full_pipeline_job],
    schedules=[nightly_full_run],
    sensors=[imagery_drop_sensor],
    resources={"tankerwatch": TankerwatchResource()},
    executor=locked_in_process_executor,
)
