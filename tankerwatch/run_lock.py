"""One run at a time per data directory, however the run was started (command line, UI, schedule).

DuckDB admits one writer per file, and a run also moves published/current and clears the scratch space: a
second run on the same data directory would fail on DuckDB's lock half-way, or remove a first run's files.
Every run holds an flock on ``<data dir>/.tankerwatch-run.lock`` for as long as it runs; the kernel releases
it when the process ends, even on SIGKILL.

The lock file names its holder (pid and, once known, Dagster run id) while it is held and is emptied when the
holder lets go. A name still in it when the lock is next taken is a holder that died while holding it: the
caller can then mark that run failed, since nothing else will.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tankerwatch.fetch import remove_partial_landings
from tankerwatch.publish import remove_interrupted
from tankerwatch.settings import DataPaths

LOCK_NAME = ".tankerwatch-run.lock"
LOCK_WAIT_ENV = "TANKERWATCH_LOCK_WAIT_S"
DEFAULT_LOCK_WAIT_S = 3600.0


class RunLocked(Exception):
    """Another run held the data directory's lock for longer than this run may wait."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held without letting go) a data directory's lock."""

    pid: str
    run_id: str | None = None

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        words = text.split()
        if not words:
            return None
        return cls(words[0], words[1] if len(words) > 1 else None)

    def __str__(self) -> str:
        return f"pid {self.pid}" + (f", run {self.run_id}" if self.run_id else "")


@dataclass(frozen=True)
class HeldLock:
    """The lock as this process holds it; ``died_holding`` names a previous holder that never let go."""

    path: Path
    died_holding: Holder | None
    reentered: bool = False


# flock locks belong to an open file description: a second open() of the same file in the same process
# would wait for itself for ever. A process that already holds a data directory's lock enters it again.
_held: dict[str, int] = {}
_held_guard = threading.Lock()


def lock_wait_s(configured: float | None = None) -> float:
    """Seconds a run waits for the lock: ``configured``, else $TANKERWATCH_LOCK_WAIT_S, else an hour."""
    if configured is not None:
        return configured
    text = os.environ.get(LOCK_WAIT_ENV)
    if text is None or not text.strip():
        return DEFAULT_LOCK_WAIT_S
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"${LOCK_WAIT_ENV} must be a number of seconds, not {text!r}") from None


def say(message: str) -> None:
    """Tell the person at the command line, on stderr."""
    print(f"tankerwatch: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def run_lock(
    data_dir: Path,
    wait_s: float,
    poll_s: float = 0.5,
    run_id: str | None = None,
    on_wait: Callable[[str], None] = say,
) -> Iterator[HeldLock]:
    """Hold the data directory's run lock; wait up to ``wait_s`` seconds for another run, then raise RunLocked.

    ``on_wait`` is told once, with the holder's pid and run, when the lock is busy.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    key = os.path.realpath(path)
    with _held_guard:
        if key in _held:
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield HeldLock(path, None, reentered=True)
        finally:
            with _held_guard:
                _held[key] -= 1
        return

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    acquired = False
    try:
        deadline = time.monotonic() + wait_s
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = Holder.parse(os.pread(fd, 256, 0).decode("ascii", "replace")) or "pid unknown"
                if time.monotonic() >= deadline:
                    raise RunLocked(
                        f"another run ({holder}) holds the lock on {data_dir} ({path}); "
                        f"gave up after waiting {wait_s:.0f} s"
                    ) from None
                if not announced:
                    on_wait(f"another run ({holder}) is using {data_dir}; waiting up to {wait_s:.0f} s")
                    announced = True
                time.sleep(poll_s)
        acquired = True
        died_holding = Holder.parse(os.pread(fd, 256, 0).decode("ascii", "replace"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {run_id or ''}".strip().encode("ascii") + b"\n", 0)
        with _held_guard:
            _held[key] = 1
        yield HeldLock(path, died_holding)
    finally:
        if acquired:
            with _held_guard:
                _held.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # let go cleanly: the next holder must not take us for dead
        os.close(fd)  # closing the descriptor releases the lock


def tidy_interrupted(paths: DataPaths) -> list[str]:
    """Remove the temporaries a killed run left behind; only while holding the run lock. Returns what went."""
    removed = [f"published/{name}" for name in remove_interrupted(paths.published)]
    removed += [f"landing/{name}" for name in remove_partial_landings(paths.landing)]
    if paths.work.is_dir():
        for leftover in sorted(paths.work.iterdir()):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed.append(f"work/{leftover.name}")
    return removed


def describe_removed(removed: list[str]) -> str:
    return f"removed {len(removed)} leftover(s) of an interrupted run: {', '.join(removed[:5])}" + (
        " ..." if len(removed) > 5 else ""
    )
