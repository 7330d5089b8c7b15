"""The published assets carry the freshness policy the nightly schedule promises (inspected on the Definitions)."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestration.definitions import defs
from orchestration.schedules import NIGHTLY_CRON

PUBLISHED = ["publish_candidate", "published_current", "publish_report"]


def test_the_published_assets_are_flagged_after_26_hours():
    graph = defs.resolve_asset_graph()
    for name in PUBLISHED:
        policy = graph.get(dg.AssetKey(name)).freshness_policy
        assert policy is not None, name
        assert policy.fail_window.to_timedelta() == timedelta(hours=26), name
        assert policy.warn_window.to_timedelta() == timedelta(hours=25), name
    assert NIGHTLY_CRON == defs.resolve_schedule_def("nightly_full_run").cron_schedule == "0 2 * * *"


def test_only_the_published_assets_carry_it():
    graph = defs.resolve_asset_graph()
    flagged = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).freshness_policy}
    assert flagged == set(PUBLISHED)
