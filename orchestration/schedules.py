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
    # Stopped until an operator starts it: a new deployment, or `make ui` on the demo, must not fetch feeds and
    # publish at 02:00 before someone has pointed it at the real sources and data directory.
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every night at 02:00 UTC: load the day that just ended, fetch the other sources, rebuild, "
    "gate and publish.",
)
def nightly_full_run(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = last_complete_day(context.scheduled_execution_time)
    # One run per day: a tick evaluated twice (daemon restart) does not load the day twice.
    return dg.RunRequest(run_key=f"nightly-{day}", partition_key=day)
