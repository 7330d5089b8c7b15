"""Fixtures shared by tankerwatch's test files.

`slow` (pyproject.toml) marks the end-to-end tests: `make check` runs everything else,
`make test` runs everything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestration.cli import main
from tankerwatch.publish import resolve_current


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
