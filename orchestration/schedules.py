"""Schedules: the nightly full run, and how fresh that run keeps the published set."""

from datetime import timedelta

import dagster as dg

from orchestration.jobs import full_pipeline_job
from orchestration.partitions import last_complete_day

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

# The published assets are rebuilt once a day by the nightly run (a run takes minutes). A set older than
# 25 hours means a night was late; older than 26 hours, a night was missed or failed: the UI marks the
# asset degraded, then failed. (Evaluated when `freshness: enabled: true` is in dagster.yaml.)
PUBLISHED_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=26),
    warn_window=timedelta(hours=25),
)
