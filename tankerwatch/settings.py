"""Where tankerwatch finds its code-side files and where a run keeps its data."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tankerwatch.errors import DataDirUnusable

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


def check_folder(root: Path, name: str | None = None) -> None:
    """Raise DataDirUnusable unless ``root`` is a folder, or can be made one in a parent that exists; creates
    nothing. ``name`` is how the error calls it (default: "data directory <root>")."""
    root = Path(root)
    name = name or f"data directory {root}"
    if root.is_symlink() and not root.exists():
        raise DataDirUnusable(f"{name} is a link to {os.readlink(root)}, which does not exist")
    if root.exists() and not root.is_dir():
        raise DataDirUnusable(f"{name} is a file, not a folder")
    if not root.exists():
        parent = root.parent
        if not parent.is_dir():
            what = "is a file, not a folder" if parent.exists() else "does not exist"
            raise DataDirUnusable(f"{name} cannot be created: its parent {parent} {what}")


def prepare_data_dir(root: Path, name: str | None = None) -> None:
    """Make sure ``root`` is a folder this process can write, creating it (not its parents) when missing.

    Its parent must exist: a mistyped path such as /srv/tankerwatch/dtaa would otherwise grow a new tree
    somewhere nobody looks, and fill it with a warehouse and published files. ``name`` is how errors call
    the folder (default: "data directory <root>").
    """
    root = Path(root)
    name = name or f"data directory {root}"
    check_folder(root, name)
    if not root.exists():
        try:
            root.mkdir()
        except FileExistsError:
            pass
        except OSError as exc:
            raise DataDirUnusable(f"{name} cannot be created: {exc.strerror or exc}") from None
    try:
        # Permission bits do not tell the whole story (a read-only mount, a full disk, root squash): write.
        with tempfile.TemporaryFile(dir=root, prefix=".tankerwatch-probe-"):
            pass
    except OSError as exc:
        raise DataDirUnusable(f"{name} is not writable: {exc.strerror or exc}") from None


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
