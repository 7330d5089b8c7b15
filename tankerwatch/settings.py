"""Where tankerwatch finds its code-side files and where a run keeps its data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = REPO_ROOT / "sql"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SEEDS_DIR = REPO_ROOT / "seeds"
DEMO_DIR = REPO_ROOT / "demo"
DEMO_SOURCES_FILE = DEMO_DIR / "sources.yaml"

SOURCES_ENV = "TANKERWATCH_SOURCES"
DATA_DIR_ENV = "TANKERWATCH_DATA_DIR"
ALLOWED_ROOTS_ENV = "TANKERWATCH_ALLOWED_ROOTS"
DEFAULT_DATA_DIR = Path("data")


@dataclass(frozen=True)
class DataPaths:
    """The layout of one data directory: warehouse, landed raw files, published outputs."""

    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def work(self) -> Path:
        """Scratch space of a run (parsed parquet parts before loading); safe to delete between runs."""
        return self.root / "work"


def resolve_sources_file(configured: str | None = None) -> Path:
    """The sources file: explicit setting, else $TANKERWATCH_SOURCES, else the bundled demo."""
    value = configured or os.environ.get(SOURCES_ENV)
    return Path(value).expanduser().resolve() if value else DEMO_SOURCES_FILE


def resolve_data_paths(configured: str | None = None) -> DataPaths:
    """The data directory: explicit setting, else $TANKERWATCH_DATA_DIR, else ./data."""
    value = configured or os.environ.get(DATA_DIR_ENV)
    root = Path(value).expanduser() if value else DEFAULT_DATA_DIR
    return DataPaths(root.resolve())


def allowed_roots() -> tuple[str, ...]:
    """Folders local source paths may name beyond the sources file's own and the bundled demo.

    Read from $TANKERWATCH_ALLOWED_ROOTS (absolute paths separated by ':') at run time: the operator's
    environment decides, never the sources file, so a sources file cannot grant itself /etc or ~/.ssh.
    """
    value = os.environ.get(ALLOWED_ROOTS_ENV, "")
    roots = [part for part in value.split(os.pathsep) if part.strip()]
    relative = [root for root in roots if not os.path.isabs(root)]
    if relative:
        raise ValueError(f"${ALLOWED_ROOTS_ENV} must list absolute paths; these are not: {relative}")
    return tuple(os.path.abspath(root) for root in roots)
