"""Jobs: the whole graph, as the CLI, the schedule and the UI launch it; and the executor every run uses.

The executor is Dagster's in-process executor holding the data directory's run lock (tankerwatch/run_lock.py)
for the whole run, in the process that runs the steps: a run launched from the UI, by the schedule or by a
sensor waits for a `tankerwatch run` on the same data directory (and the command line waits for it) instead
of both failing on DuckDB's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
from dagster._core.executor.base import Executor  # the executor interface; Dagster exports no public name for it
from dagster._core.system_config.objects import ResolvedRunConfig

from assets.resources import RESOURCE_KEY
from tankerwatch.run_lock import HeldLock, Holder, describe_removed, lock_wait_s, run_lock, tidy_interrupted
from tankerwatch.settings import prepare_data_dir, resolve_data_paths

FULL_JOB_NAME = "tankerwatch_full"


def run_data_dir(job_def: dg.JobDefinition, run_config) -> Path:
    """The data directory a run writes, resolved from its `tankerwatch` resource config as the resource does
    (with the resource's defaults filled in, so a data_dir set in the Definitions counts too)."""
    resource = ResolvedRunConfig.build(job_def, run_config).resources.get(RESOURCE_KEY)
    config = (resource.config if resource is not None else None) or {}
    return resolve_data_paths(config.get("data_dir") or None).root


def recover_run_that_died_holding(instance: dg.DagsterInstance, holder: Holder | None, data_dir: Path) -> str | None:
    """Mark failed the run whose process died holding the data directory's lock, and free its pool slots.

    A killed run stays STARTED in the instance for ever, and the run queue (one run at a time) and the
    `duckdb` pool (one step at a time) would count it and hold every later run behind it. It is certainly
    dead: it still named itself in the lock file, so it never let go, yet the lock was free.
    Returns what was done, for the log; None when there was nothing to do.
    """
    if holder is None or not holder.run_id:
        return None
    run = instance.get_run_by_id(holder.run_id)
    if run is None:
        return None
    done = []
    if not run.is_finished:
        instance.report_run_failed(
            run, message=f"its process (pid {holder.pid}) died while it held the run lock of {data_dir}"
        )
        done.append(f"marked run {run.run_id} failed (its process, pid {holder.pid}, died while running)")
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits and run.run_id in storage.get_concurrency_run_ids():
        storage.free_concurrency_slots_for_run(run.run_id)
        done.append("freed the pool slot(s) it held")
    return "; ".join(done) or None


def take_over(
    instance: dg.DagsterInstance,
    held: HeldLock,
    data_dir: Path,
    warn: Callable[[str], None],
    info: Callable[[str], None],
) -> None:
    """What a run does first once it holds the data directory's lock (unless it re-entered its own): mark failed
    the run that died holding it, and remove what a killed run left behind."""
    if held.reentered:
        return
    recovered = recover_run_that_died_holding(instance, held.died_holding, data_dir)
    if recovered:
        warn(f"{data_dir}: {recovered}")
    removed = tidy_interrupted(resolve_data_paths(str(data_dir)))
    if removed:
        info(f"{data_dir}: {describe_removed(removed)}")


class _LockedExecutor(Executor):
    def __init__(self, inner: Executor):
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        data_dir = run_data_dir(plan_context.job.get_definition(), plan_context.run_config)
        prepare_data_dir(data_dir)
        log = plan_context.log
        run_id = plan_context.dagster_run.run_id
        with run_lock(data_dir, lock_wait_s(), run_id=run_id, on_wait=log.warning) as held:
            take_over(plan_context.instance, held, data_dir, warn=log.warning, info=log.info)
            yield from self._inner.execute(plan_context, execution_plan)


def locked(base: dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """``base`` (same name, same config) holding the run lock of the run's data directory around every run."""

    def create(init_context: dg.InitExecutorContext) -> Executor:
        return _LockedExecutor(base.executor_creation_fn(init_context))

    return dg.ExecutorDefinition(
        name=base.name,
        config_schema=base.config_schema,
        requirements=base.get_requirements,
        executor_creation_fn=create,
        description=f"Dagster's {base.name} executor, holding the data directory's run lock for the whole run.",
    )


locked_in_process_executor = locked(dg.in_process_executor)

full_pipeline_job = dg.define_asset_job(
    FULL_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Fetch every source, rebuild every model behind its gates, and publish a new validated set.",
)
