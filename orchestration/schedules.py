"""Schedules: the nightly full run."""

import dagster as dg

from orchestration.jobs import full_pipeline_job

nightly_full_run = dg.ScheduleDefinition(
    name="nightly_full_run",
    job=full_pipeline_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Every night at 02:00 UTC: fetch, rebuild, gate and publish.",
)
