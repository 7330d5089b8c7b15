"""Fixtures shared by tankerwatch's test files.

`slow` (pyproject.toml) marks the end-to-end tests: `make check` runs everything else,
`make test` runs everything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.cli import main
from tankerwatch.publish import resolve_current


@pytest.fixture(scope="session", autouse=True)
def session_dagster_home(tmp_path_factory) -> Iterator[Path]:
    """Every run of the session, in-process or in a child process, records into one temporary Dagster
    instance: `tankerwatch run` otherwise records into $DAGSTER_HOME or ./.dagster_home, the operator's."""
    home = tmp_path_factory.mktemp("dagster_home")
    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        yield home
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[int, Path]:
    """One `tankerwatch run` of the committed demo for the whole session: (exit code, data directory).

    Several files check what the demo publishes; one run serves them all, so they must
    only read it. A test that runs the pipeline again takes `demo_run_copy`.
    """
    data_dir = tmp_path_factory.mktemp("demo-data")
    code = main(["run", "--data-dir", str(data_dir)])
    return code, data_dir


@pytest.fixture
def demo_run_copy(demo_run, tmp_path) -> tuple[int, Path]:
    """The demo run's data directory copied for one test to change: (exit code, copy)."""
    code, data_dir = demo_run
    copy = tmp_path / "demo-data"
    shutil.copytree(data_dir, copy, symlinks=True)
    return code, copy


@pytest.fixture(scope="session")
def demo_published(demo_run) -> Path:
    """The version directory the session's demo run published; the run must have succeeded."""
    code, data_dir = demo_run
    assert code == 0
    current = resolve_current(data_dir / "published")
    assert current is not None, "the demo run published nothing"
    return current
