"""tankerwatch.atomic: a file is replaced whole or not at all, even when the writer dies mid-way."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tankerwatch import atomic


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_text_and_bytes_replace_the_file_and_leave_no_temporary(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_text("old\n", encoding="utf-8")
    assert atomic.write_text(target, "nüe\n") == target
    assert target.read_bytes() == "nüe\n".encode()
    atomic.write_bytes(target, b"\x00\x01\xff")
    assert target.read_bytes() == b"\x00\x01\xff"
    assert _entries(tmp_path) == ["manifest.json"]


def test_a_writer_that_raises_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    target.write_text('{"old": 1}', encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk gone"):
        with atomic.atomic_writer(target, prefix=".state-", suffix=".tmp") as handle:
            handle.write('{"new": ')
            raise RuntimeError("disk gone")
    assert target.read_text(encoding="utf-8") == '{"old": 1}'
    assert _entries(tmp_path) == ["state.json"]


def test_a_failing_before_replace_hook_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")

    def refuse() -> None:
        assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "old"  # the new bytes are not in place yet
        temporaries = [p for p in tmp_path.iterdir() if p.name != "out.txt"]
        assert [p.read_text(encoding="utf-8") for p in temporaries] == ["new"]  # ... but are on disk beside it
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write_text(target, "new", before_replace=refuse)
    assert target.read_text(encoding="utf-8") == "old"
    assert _entries(tmp_path) == ["out.txt"]


def test_temporary_names_follow_the_callers_prefix_and_suffix(tmp_path):
    seen: list[str] = []
    target = tmp_path / "manifest.json"

    def look() -> None:
        seen.extend(p.name for p in tmp_path.iterdir())

    atomic.write_text(target, "x", before_replace=look)
    atomic.write_text(tmp_path / "_state.json", "x", prefix=".state-", suffix=".tmp", before_replace=look)
    first, second = seen[0], [n for n in seen[1:] if n != "manifest.json"][0]
    assert first.startswith(".manifest.json.") and first.endswith(".tmp")
    assert second.startswith(".state-") and second.endswith(".tmp")


def test_mode_is_what_open_would_give_unless_asked(tmp_path):
    old = os.umask(0o027)
    try:
        atomic.write_text(tmp_path / "a", "x")
        atomic.write_text(tmp_path / "b", "x", mode=0o600)
        atomic.write_text(tmp_path / "c", "x", mode=0o644, durable=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o644


def test_a_process_killed_mid_write_leaves_the_old_file_intact(tmp_path):
    """The writer streams half its data, then is killed with SIGKILL: no cleanup code runs at all."""
    target = tmp_path / "published.json"
    old = b'{"tables": "old"}\n'
    target.write_bytes(old)
    script = textwrap.dedent(
        """
        import os, signal, sys
        from tankerwatch import atomic
        with atomic.atomic_writer(sys.argv[1], binary=True) as handle:
            handle.write(b'{"tables": "ne')
            handle.flush()
            print("half", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
            handle.write(b'w"}\\n')
        """
    )
    done = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == "half\n"
    assert target.read_bytes() == old
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    # Only the hidden temporary with the half-written bytes; the tidy-up of each caller removes it.
    assert [p.name.startswith(".published.json.") and p.name.endswith(".tmp") for p in leftovers] == [True]
    assert leftovers[0].read_bytes() == b'{"tables": "ne'


def test_replace_moves_a_file_into_place(tmp_path):
    (tmp_path / "a").write_text("new", encoding="utf-8")
    (tmp_path / "b").write_text("old", encoding="utf-8")
    atomic.replace(tmp_path / "a", tmp_path / "b")
    assert _entries(tmp_path) == ["b"] and (tmp_path / "b").read_text(encoding="utf-8") == "new"


def test_fsync_path_raises_for_a_missing_path_and_fsync_dir_does_not(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic.fsync_path(tmp_path / "missing")
    atomic.fsync_dir(tmp_path / "missing")  # a platform without directory fsync is no reason to fail
    atomic.fsync_path(tmp_path)


def test_a_missing_directory_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        atomic.write_text(tmp_path / "no" / "such" / "file.json", "x")
    assert str(tmp_path / "no" / "such") in str(error.value)
