"""tankerwatch_full under Dagster's multiprocess executor: each step in its own process, as on the Kubernetes or
Celery executors. Importable by module path, so each step process can rebuild the job."""

import dagster as dg

from orchestration.definitions import defs
from orchestration.jobs import FULL_JOB_NAME

MULTIPROCESS_JOB_NAME = f"{FULL_JOB_NAME}_multiprocess"


def multiprocess_full_job() -> dg.JobDefinition:
    job = dg.define_asset_job(MULTIPROCESS_JOB_NAME, selection=dg.AssetSelection.all(), executor_def=dg.multiprocess_executor)
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(MULTIPROCESS_JOB_NAME)
