"""Step retries of the ingest assets: only a transient fetch failure is retried (bounded, with a growing wait)."""

from __future__ import annotations

import dagster as dg
import pytest

from assets.ingest import INGEST_MAX_RETRIES, RETRY_WAIT_ENV, build_ingest_asset, retry_wait_s
from assets.resources import TankerwatchResource
from orchestration.cli import root_cause
from tankerwatch.errors import FetchError
from tankerwatch.fetch import Fetcher, FetchOptions
from tankerwatch.settings import REPO_ROOT
from tests.http_server import Reply, serve_script

UN_XML = (REPO_ROOT / "demo" / "sanctions" / "un_consolidated_dprk_20260227.xml").read_bytes()
PATH = "/consolidated.xml"


def _materialize(tmp_path, server):
    # retries: 0 turns the fetch layer's own retries off, so each step attempt makes exactly one request.
    (tmp_path / "sources.yaml").write_text(
        f"sources:\n  un:\n    kind: un_consolidated_xml\n    url: {server.url(PATH)}\n    retries: 0\n"
    )
    resource = TankerwatchResource(sources_file=str(tmp_path / "sources.yaml"), data_dir=str(tmp_path / "data"))
    return dg.materialize(
        [build_ingest_asset("un_consolidated_xml")], resources={"tankerwatch": resource}, raise_on_error=False
    )


def _events(result, event_type: dg.DagsterEventType) -> list:
    return [e for e in result.all_events if e.event_type == event_type]


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    monkeypatch.setenv(RETRY_WAIT_ENV, "0")


def test_a_transient_failure_is_retried_and_the_step_succeeds(tmp_path):
    with serve_script() as server:
        server.script(PATH, Reply(503, b"restarting"), Reply(503, b"restarting"), Reply(200, UN_XML))
        result = _materialize(tmp_path, server)
        statuses = [seen.status for seen in server.requests_to(PATH)]
    assert result.success
    assert statuses == [503, 503, 200]
    assert len(_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == INGEST_MAX_RETRIES == 2
    [materialization] = result.asset_materializations_for_node("ingest_un_consolidated_xml")
    assert materialization.metadata["dagster/row_count"].value == 78


def test_a_publisher_that_stays_down_fails_after_the_bounded_retries(tmp_path):
    with serve_script() as server:
        server.script(PATH, Reply(503, b"down"))
        result = _materialize(tmp_path, server)
        requests = len(server.requests_to(PATH))
    assert not result.success
    assert requests == 1 + INGEST_MAX_RETRIES
    assert len(_events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == INGEST_MAX_RETRIES
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "HTTP 503" in root_cause(failure.event_specific_data.error)


@pytest.mark.parametrize(
    "reply, says",
    [
        (Reply(404, b"no such file"), "HTTP 404"),
        (Reply(200, b"<!DOCTYPE html><html><body>Maintenance</body></html>", {"Content-Type": "text/html"}), "HTML page"),
    ],
)
def test_a_failure_that_will_not_heal_fails_at_once(tmp_path, reply, says):
    with serve_script() as server:
        server.script(PATH, reply)
        result = _materialize(tmp_path, server)
        requests = len(server.requests_to(PATH))
    assert not result.success
    assert requests == 1
    assert _events(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert says in root_cause(failure.event_specific_data.error)


def test_the_fetch_layer_marks_only_exhausted_429_5xx_and_connection_failures_transient(tmp_path):
    options = FetchOptions(retries=1, backoff_s=0)
    with serve_script() as server, Fetcher(tmp_path / "landing", sleep=lambda s: None) as fetcher:
        server.script("/busy", Reply(429, b"slow down"))
        server.script("/gone", Reply(404, b"gone"))
        outcomes = {}
        for path in ("/busy", "/gone"):
            with pytest.raises(FetchError) as caught:
                fetcher.fetch("un", "url", server.url(path), tmp_path, options)
            outcomes[path] = caught.value.transient
        closed = server.url("/busy").rsplit(":", 1)[0] + ":9"  # nothing listens on port 9 of this machine
        with pytest.raises(FetchError) as caught:
            fetcher.fetch("un", "url", closed + "/x.xml", tmp_path, options)
        outcomes["refused"] = caught.value.transient
    assert outcomes == {"/busy": True, "/gone": False, "refused": True}


def test_the_step_retry_wait_grows_and_is_read_at_run_time(monkeypatch):
    monkeypatch.setenv(RETRY_WAIT_ENV, "30")
    assert [retry_wait_s(n) for n in range(INGEST_MAX_RETRIES)] == [30.0, 60.0]
    monkeypatch.setenv(RETRY_WAIT_ENV, "soon")
    with pytest.raises(ValueError, match=RETRY_WAIT_ENV):
        retry_wait_s(0)
