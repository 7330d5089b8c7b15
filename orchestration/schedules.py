"""Schedules: the nightly full run."""

import dagster as dg

from assets.partitions import last_complete_day
from orchestration.jobs import full_pipeline_job

NIGHTLY_CRON = "0 2 * * *"


@dg.schedule(
    name="nightly_full_run",
    job=full_pipeline_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    description="Every night at 02:00 UTC: load the day that just ended, fetch the other sources, rebuild, "
    "gate and publish.",
)
def nightly_full_run(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = last_complete_day(context.scheduled_execution_time)
    # One run per day: a tick evaluated twice (daemon restart) does not load the day twice.
    return dg.RunRequest(run_key=f"nightly-{day}", partition_key=day)
