"""The default size cap takes a real DMA day (2.5-3 GB) and still stops a runaway file; sparse files, no real bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tankerwatch import fetch as fetch_module
from tankerwatch.errors import FetchError
from tankerwatch.fetch import Fetcher, FetchOptions

GIB = 1024**3


class Landed(Exception):
    """Raised where the copy would start: the size check let the file through."""


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)  # no data blocks: a file of this size costs nothing on disk
    assert path.stat().st_size == size
    return path


@pytest.fixture
def stop_at_landing(monkeypatch) -> list[str]:
    reached: list[str] = []

    def land(role_dir, chunks, options, where, what, **kwargs):
        reached.append(what)
        raise Landed(what)

    monkeypatch.setattr(fetch_module, "_land_stream", land)
    return reached


def test_a_dma_day_just_over_2_gib_passes_the_default_cap(tmp_path, stop_at_landing):
    day = sparse(tmp_path / "aisdk-2024-03-01.csv", 2 * GIB + 1)
    fetcher = Fetcher(tmp_path / "landing", log=lambda line: None)
    with pytest.raises(Landed):
        fetcher.fetch("dma", "url", day.name, tmp_path, FetchOptions())
    assert stop_at_landing == [str(day)]


def test_a_3_gb_day_passes_and_a_file_over_8_gib_is_refused(tmp_path, stop_at_landing):
    fetcher = Fetcher(tmp_path / "landing", log=lambda line: None)
    day = sparse(tmp_path / "day.csv", 3_000_000_000)
    with pytest.raises(Landed):
        fetcher.fetch("dma", "url", day.name, tmp_path, FetchOptions())
    runaway = sparse(tmp_path / "runaway.csv", 8 * GIB + 1)
    with pytest.raises(FetchError, match=r"dma.*8,589,934,593 bytes, more than the 8,589,934,592 byte limit"):
        fetcher.fetch("dma", "url", runaway.name, tmp_path, FetchOptions())
    assert stop_at_landing == [str(day)]
    assert not any(p.is_file() for p in (tmp_path / "landing").rglob("*") if p.suffix != ".json")


def test_a_download_announcing_2_5_gb_is_within_the_default_cap():
    response = requests.Response()
    response.headers["Content-Length"] = str(2_500_000_000)
    assert fetch_module._declared_length(response, "source 'dma'", "the day file", FetchOptions()) == 2_500_000_000
    response.headers["Content-Length"] = str(8 * GIB + 1)
    with pytest.raises(FetchError, match="source 'dma'.*announces 8,589,934,593 bytes"):
        fetch_module._declared_length(response, "source 'dma'", "the day file", FetchOptions())

