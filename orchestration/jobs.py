"""Jobs: the whole graph, as the CLI, the schedule and the UI launch it."""

import dagster as dg

FULL_JOB_NAME = "tankerwatch_full"

full_pipeline_job = dg.define_asset_job(
    FULL_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Fetch every source, rebuild every model behind its gates, and publish a new validated set.",
)
