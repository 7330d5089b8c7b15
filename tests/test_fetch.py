"""The fetch layer: http(s) through requests against a local server, local paths, landing by sha256."""

from __future__ import annotations

import hashlib

import pytest

from tankerwatch.errors import FetchError, SourcesFileError
from tankerwatch.fetch import FetchOptions, fetch_to_landing
from tankerwatch.ingest import fetch_and_parse
from tankerwatch.settings import REPO_ROOT
from tankerwatch.sources import load_sources
from tests.http_server import serve_folder

SANCTIONS = REPO_ROOT / "demo" / "sanctions"
SDN = SANCTIONS / "ofac_sdn_dprk_20240503.csv"


def test_http_source_is_landed_byte_for_byte_under_its_sha256(tmp_path):
    with serve_folder(SANCTIONS) as base:
        snapshot = fetch_to_landing("ofac", "url", f"{base}/{SDN.name}", tmp_path, tmp_path / "landing")
    expected = hashlib.sha256(SDN.read_bytes()).hexdigest()
    assert snapshot.sha256 == expected and snapshot.bytes == SDN.stat().st_size
    landed = tmp_path / "landing" / "ofac" / "url" / f"{expected[:16]}.csv"
    assert snapshot.path == str(landed) and landed.read_bytes() == SDN.read_bytes()
    assert not [p for p in landed.parent.iterdir() if p.name.startswith(".landing-")]


def test_a_sources_file_over_http_ingests_the_real_ofac_excerpt(tmp_path):
    with serve_folder(SANCTIONS) as base:
        (tmp_path / "sources.yaml").write_text(
            f"sources:\n  ofac:\n    kind: ofac_sdn_csv\n    url: {base}/{SDN.name}\n"
            f"    alt_url: {base}/ofac_alt_dprk_2025.csv\n"
        )
        parsed = fetch_and_parse("ofac_sdn_csv", load_sources(tmp_path / "sources.yaml"), tmp_path / "landing")
    sdn = parsed.table("raw_ofac_sdn")
    assert sdn.height == 495
    assert sdn.filter(sdn["sdn_type"] == "vessel").height == 112
    assert set(sdn["source_name"]) == {"ofac"} and sdn["snapshot_id"].n_unique() == 1
    assert parsed.table("raw_ofac_alt").height == 416


@pytest.mark.parametrize(
    "path, message",
    [
        ("/missing.csv", "answered HTTP 404"),
        ("/fault/empty", "returned an empty body"),
        ("/fault/truncated", "failed"),
    ],
)
def test_http_faults_are_clear_errors_and_land_nothing(tmp_path, path, message):
    # No retries: a cut body is retried with real backoff sleeps (tests/test_fetch_http.py covers retries).
    with serve_folder(SANCTIONS) as base, pytest.raises(FetchError, match=message) as error:
        fetch_to_landing("ofac", "url", base + path, tmp_path, tmp_path / "landing", FetchOptions(retries=0))
    assert "source 'ofac'" in str(error.value)
    assert list((tmp_path / "landing" / "ofac" / "url").iterdir()) == []


def test_local_paths_are_relative_to_the_sources_file_and_file_urls_work(tmp_path):
    relative = fetch_to_landing("un", "url", "un_consolidated_dprk_20260227.xml", SANCTIONS, tmp_path)
    as_url = fetch_to_landing("un", "url", (SANCTIONS / "un_consolidated_dprk_20260227.xml").as_uri(), tmp_path, tmp_path)
    assert relative.sha256 == as_url.sha256
    with pytest.raises(FetchError, match="file not found"):
        fetch_to_landing("un", "url", "nope.xml", SANCTIONS, tmp_path)
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
        fetch_to_landing("un", "url", "ftp://example.org/x.xml", SANCTIONS, tmp_path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("sources: [1, 2]\n", "top-level mapping"),
        ("sources:\n  x:\n    kind: fax\n    url: a\n", "unknown kind 'fax'"),
        ("sources:\n  x:\n    kind: registry_csv\n", "'url' is required"),
        ("sources:\n  Bad-Name:\n    kind: registry_csv\n    url: a\n", "names are lower-case"),
        ("sources: [\n", "not valid YAML"),
    ],
)
def test_bad_sources_files_name_the_problem(tmp_path, text, message):
    (tmp_path / "sources.yaml").write_text(text)
    with pytest.raises(SourcesFileError, match=message):
        load_sources(tmp_path / "sources.yaml")
