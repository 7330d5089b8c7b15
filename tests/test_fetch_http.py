"""The fetch layer against a scripted server on 127.0.0.1: retries, timeouts, cut bodies, caps, 304s, reuse, secrets."""

from __future__ import annotations

import email.utils
import hashlib
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tankerwatch.errors import FetchError
from tankerwatch.fetch import STATE_FILE, Fetcher, FetchOptions
from tankerwatch.settings import REPO_ROOT
from tests.http_server import Reply, serve_script

SDN = (REPO_ROOT / "demo" / "sanctions" / "ofac_sdn_dprk_20240503.csv").read_bytes()
UN_XML = (REPO_ROOT / "demo" / "sanctions" / "un_consolidated_dprk_20260227.xml").read_bytes()
TOKEN = "tw-test-token-5f1c9e2b7d0a"

# Short timeouts keep every test bounded; retries and backoff stay at their defaults, with a fake sleep.
QUICK = dict(connect_timeout_s=2.0, read_timeout_s=2.0)


class LoopbackOnlySession(requests.Session):
    """A session that cannot leave the machine: a request (or redirect hop) to another host is recorded, refused."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # no proxies or .netrc from the environment
        self.blocked: list[str] = []

    def send(self, request, **kwargs):
        if urlsplit(request.url).hostname not in ("127.0.0.1", "localhost"):
            self.blocked.append(request.url)
            raise requests.ConnectionError(f"test guard: {request.url} is not on this machine")
        return super().send(request, **kwargs)


@pytest.fixture
def server():
    with serve_script() as fault:
        yield fault


@pytest.fixture
def session():
    with LoopbackOnlySession() as s:
        yield s


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def logs() -> list[str]:
    return []


@pytest.fixture
def fetcher(tmp_path, session, sleeps, logs):
    return Fetcher(tmp_path / "landing", session=session, sleep=sleeps.append, log=logs.append)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def landed(tmp_path: Path, source: str = "ofac", role: str = "url") -> list[str]:
    """Everything in a landing folder, hidden temp files included."""
    folder = tmp_path / "landing" / source / role
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def fetch(fetcher, tmp_path, url, **options):
    return fetcher.fetch("ofac", "url", url, tmp_path, FetchOptions(**{**QUICK, **options}))


# -- retries -----------------------------------------------------------------------------------------


def test_a_500_then_a_200_lands_the_body_after_one_backoff(fetcher, server, tmp_path, sleeps, logs):
    server.script("/sdn.csv", Reply(500, b"busy"), Reply(200, SDN, {"Content-Type": "text/csv"}))
    snapshot = fetch(fetcher, tmp_path, server.url("/sdn.csv"), expect="csv")
    assert snapshot.sha256 == sha(SDN) and snapshot.bytes == len(SDN)
    assert Path(snapshot.path).name == f"{sha(SDN)[:16]}.csv" and Path(snapshot.path).read_bytes() == SDN
    assert [s.status for s in server.requests_to("/sdn.csv")] == [500, 200]
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 1.1  # backoff_s * 2**0, plus at most 10% jitter
    assert any("HTTP 500" in line and "retrying in" in line for line in logs)
    assert not snapshot.unchanged and not snapshot.stale


def test_429_with_retry_after_seconds_waits_exactly_that_long(fetcher, server, tmp_path, sleeps):
    server.script("/sdn.csv", Reply(429, headers={"Retry-After": "3"}), Reply(200, SDN))
    snapshot = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    assert sleeps == [3.0]
    assert len(server.requests_to("/sdn.csv")) == 2 and snapshot.sha256 == sha(SDN)


def test_retry_after_as_an_http_date_is_a_wait_until_then(fetcher, server, tmp_path, sleeps):
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    server.script("/sdn.csv", Reply(503, headers={"Retry-After": when}), Reply(200, SDN))
    fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 3.0


def test_a_retry_after_beyond_the_cap_fails_instead_of_sleeping(fetcher, server, tmp_path, sleeps):
    server.script("/sdn.csv", Reply(429, headers={"Retry-After": "3600"}), Reply(200, SDN))
    with pytest.raises(FetchError, match=r"Retry-After '3600'.*max_retry_after_s") as error:
        fetch(fetcher, tmp_path, server.url("/sdn.csv"), max_retry_after_s=300)
    assert "HTTP 429" in str(error.value) and "1 attempt" in str(error.value)
    assert len(server.requests_to("/sdn.csv")) == 1 and sleeps == []
    assert landed(tmp_path) == []


def test_a_404_fails_at_once_naming_source_url_and_status(fetcher, server, tmp_path, sleeps):
    url = server.url("/gone.csv")
    with pytest.raises(FetchError) as error:
        fetch(fetcher, tmp_path, url)
    message = str(error.value)
    assert message.startswith("source 'ofac' (url): GET " + url) and "answered HTTP 404" in message
    assert "attempt 1" in message
    assert len(server.requests_to("/gone.csv")) == 1 and sleeps == []
    assert landed(tmp_path) == []


def test_503_forever_exhausts_the_retries_with_capped_exponential_backoff(fetcher, server, tmp_path, sleeps):
    server.script("/sdn.csv", Reply(503, b"down for maintenance"))
    with pytest.raises(FetchError, match=r"failed after 5 attempt\(s\); last: HTTP 503"):
        fetch(fetcher, tmp_path, server.url("/sdn.csv"), retries=4, backoff_s=1.0, max_backoff_s=3.0)
    assert len(server.requests_to("/sdn.csv")) == 5
    assert len(sleeps) == 4
    assert 1.0 <= sleeps[0] <= 1.1 and 2.0 <= sleeps[1] <= 2.2 and sleeps[2:] == [3.0, 3.0]
    assert landed(tmp_path) == []


def test_a_refused_connection_is_retried_then_fails(fetcher, tmp_path, sleeps):
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=r"failed after 3 attempt\(s\); last: ConnectionError"):
        fetch(fetcher, tmp_path, f"http://127.0.0.1:{port}/sdn.csv", retries=2)
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "reply",
    [Reply(200, SDN, delay_s=10), Reply(200, SDN, stall_s=10)],
    ids=["no-answer", "stalls-mid-body"],
)
def test_a_hanging_server_times_out_in_bounded_time(fetcher, server, tmp_path, sleeps, reply):
    server.script("/sdn.csv", reply)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"failed after 2 attempt\(s\); last: timed out"):
        fetch(fetcher, tmp_path, server.url("/sdn.csv"), read_timeout_s=0.3, retries=1)
    assert time.monotonic() - started < 5
    assert len(server.requests_to("/sdn.csv")) == 2 and len(sleeps) == 1
    assert landed(tmp_path) == []


# -- what comes back ---------------------------------------------------------------------------------


def test_a_body_cut_mid_way_is_retried_and_the_whole_body_lands(fetcher, server, tmp_path, sleeps):
    server.script("/sdn.csv", Reply(200, SDN[:5000], length=len(SDN)), Reply(200, SDN))
    snapshot = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    assert snapshot.sha256 == sha(SDN) and len(sleeps) == 1
    assert landed(tmp_path) == sorted([STATE_FILE, f"{sha(SDN)[:16]}.csv"])


def test_a_body_always_cut_fails_and_lands_nothing(fetcher, server, tmp_path):
    server.script("/sdn.csv", Reply(200, SDN[:5000], length=len(SDN)))
    with pytest.raises(FetchError, match=r"after 3 attempt\(s\); last: body truncated"):
        fetch(fetcher, tmp_path, server.url("/sdn.csv"), retries=2)
    assert len(server.requests_to("/sdn.csv")) == 3
    assert landed(tmp_path) == []


def test_an_empty_body_fails_at_once(fetcher, server, tmp_path, sleeps):
    server.script("/sdn.csv", Reply(200, b""))
    with pytest.raises(FetchError, match="returned an empty body"):
        fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    assert len(server.requests_to("/sdn.csv")) == 1 and sleeps == []
    assert landed(tmp_path) == []


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"Content-Type": "text/html; charset=utf-8"}, b"<p>Scheduled maintenance</p>"),
        ({"Content-Type": "text/csv"}, b"\xef\xbb\xbf \r\n<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"><html>"),
        ({"Content-Type": "application/octet-stream"}, b"<!-- portal --><HTML><body>Access denied</body></HTML>"),
    ],
    ids=["content-type", "doctype-after-bom", "html-after-comment"],
)
def test_an_html_page_where_csv_is_expected_fails(fetcher, server, tmp_path, headers, body):
    server.script("/sdn.csv", Reply(200, body, headers))
    with pytest.raises(FetchError, match="HTML page"):
        fetch(fetcher, tmp_path, server.url("/sdn.csv"), expect="csv")
    assert landed(tmp_path) == []
    # Without an expectation the fetch layer does not judge content: the parser will.
    assert fetch(fetcher, tmp_path, server.url("/sdn.csv")).sha256 == sha(body)


@pytest.mark.parametrize(
    "expect, body, message",
    [
        ("xml", b'{"error": "rate limited"}', "is not XML"),
        ("json", UN_XML, "is not JSON"),
        ("jsonl", b"id,name\n1,x\n", "is not JSONL"),
    ],
)
def test_a_body_of_the_wrong_format_fails(fetcher, server, tmp_path, expect, body, message):
    server.script("/data", Reply(200, body))
    with pytest.raises(FetchError, match=message):
        fetch(fetcher, tmp_path, server.url("/data"), expect=expect)
    assert landed(tmp_path) == []


@pytest.mark.parametrize(
    "expect, body",
    [
        ("xml", b"\xef\xbb\xbf\n  " + UN_XML),
        ("jsonl", b'{"id": "NK-1", "schema": "Vessel"}\n{"id": "NK-2", "schema": "Vessel"}\n'),
        ("json", b"\xff\xfe" + '[{"imo": "8916293"}]'.encode("utf-16-le")),
    ],
)
def test_bodies_of_the_expected_format_pass_after_bom_and_whitespace(fetcher, server, tmp_path, expect, body):
    server.script("/data", Reply(200, body))
    assert Path(fetch(fetcher, tmp_path, server.url("/data"), expect=expect).path).read_bytes() == body


@pytest.mark.parametrize(
    "reply, message",
    [
        (Reply(200, filler=200_000), "announces 200,000 bytes"),  # refused on Content-Length alone
        (Reply(200, filler=200_000, length=None), "larger than the 50,000 byte limit"),  # stopped while reading
    ],
    ids=["content-length", "streamed"],
)
def test_the_size_cap_fails_and_lands_nothing(fetcher, server, tmp_path, sleeps, reply, message):
    server.script("/big.csv", reply)
    with pytest.raises(FetchError, match=message):
        fetch(fetcher, tmp_path, server.url("/big.csv"), max_bytes=50_000)
    assert len(server.requests_to("/big.csv")) == 1 and sleeps == []
    assert landed(tmp_path) == []


def test_the_size_cap_applies_to_local_files(fetcher, tmp_path):
    (tmp_path / "big.csv").write_bytes(b"x" * 2_000)
    with pytest.raises(FetchError, match="more than the 1,000 byte limit"):
        fetch(fetcher, tmp_path, "big.csv", max_bytes=1_000)
    assert landed(tmp_path) == []


# -- conditional GET and unchanged snapshots -------------------------------------------------------


def test_etag_second_fetch_is_a_304_and_returns_the_same_snapshot(fetcher, server, tmp_path):
    def answer(request):
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304, headers={"ETag": '"v1"'})
        return Reply(200, SDN, {"ETag": '"v1"'})

    server.route("/sdn.csv", answer)
    first = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    second = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    seen = server.requests_to("/sdn.csv")
    assert [s.status for s in seen] == [200, 304]
    assert "if-none-match" not in seen[0].headers and seen[1].headers["if-none-match"] == '"v1"'
    assert not first.unchanged and first.etag == '"v1"'
    assert second.unchanged and not second.stale
    assert (second.sha256, second.path, second.fetched_at) == (first.sha256, first.path, first.fetched_at)
    assert landed(tmp_path) == sorted([STATE_FILE, Path(first.path).name])
    state = json.loads((tmp_path / "landing" / "ofac" / "url" / STATE_FILE).read_text())
    assert state["entries"][server.url("/sdn.csv")]["etag"] == '"v1"'


def test_last_modified_second_fetch_is_a_304_and_returns_the_same_snapshot(fetcher, server, tmp_path):
    stamp = "Fri, 03 May 2024 14:00:00 GMT"

    def answer(request):
        if request.headers.get("if-modified-since") == stamp:
            return Reply(304)
        return Reply(200, SDN, {"Last-Modified": stamp})

    server.route("/sdn.csv", answer)
    first = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    second = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    assert [s.status for s in server.requests_to("/sdn.csv")] == [200, 304]
    assert first.last_modified == stamp and second.last_modified == stamp
    assert second.unchanged and second.sha256 == first.sha256 and second.path == first.path


def test_a_200_with_the_same_bytes_is_unchanged_and_a_new_body_is_a_new_snapshot(fetcher, server, tmp_path):
    newer = SDN + b"99999,\"NEW TANKER\",vessel,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n"
    server.script("/sdn.csv", Reply(200, SDN), Reply(200, SDN), Reply(200, newer))
    first = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    again = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    changed = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    assert again.unchanged and again.path == first.path and again.fetched_at == first.fetched_at
    assert not changed.unchanged and changed.sha256 == sha(newer)
    # Earlier snapshots are kept: both bodies are on disk.
    assert Path(first.path).read_bytes() == SDN and Path(changed.path).read_bytes() == newer
    assert landed(tmp_path) == sorted([STATE_FILE, Path(first.path).name, Path(changed.path).name])


def test_an_unchanged_local_file_is_unchanged_and_an_edited_one_is_new(fetcher, tmp_path):
    registry = tmp_path / "registry.csv"
    registry.write_bytes(b"imo,name\n8916293,SIN PHYONG 9\n")
    first = fetcher.fetch("registry", "url", "registry.csv", tmp_path)
    again = fetcher.fetch("registry", "url", registry.as_uri(), tmp_path)  # the same file, named another way
    assert again.unchanged and again.sha256 == first.sha256 and again.path == first.path
    registry.write_bytes(b"imo,name\n8916293,CHONG RIM 2\n")
    edited = fetcher.fetch("registry", "url", "registry.csv", tmp_path)
    assert not edited.unchanged and edited.sha256 != first.sha256
    assert Path(first.path).exists() and Path(edited.path).read_bytes() == registry.read_bytes()


def test_a_glob_of_three_daily_files_gives_three_snapshots_in_name_order(fetcher, tmp_path):
    drops = tmp_path / "drops"
    drops.mkdir()
    days = ["2024-03-03", "2024-03-01", "2024-03-02"]
    for day in days:  # written out of order on purpose
        (drops / f"imagery_{day}.csv").write_text(f"sighting_id,observed_at\n{day}-1,{day}T01:00:00+10:00\n")
    (drops / "notes.txt").write_text("not a log\n")
    snapshots = fetcher.fetch_all("imagery", "url", "drops/imagery_*.csv", tmp_path)
    assert [s.url for s in snapshots] == [f"drops/imagery_{day}.csv" for day in sorted(days)]
    assert [s.sha256 for s in snapshots] == [sha((drops / f"imagery_{d}.csv").read_bytes()) for d in sorted(days)]
    assert all(Path(s.path).read_bytes() == (tmp_path / s.url).read_bytes() for s in snapshots)
    again = fetcher.fetch_all("imagery", "url", "drops/imagery_*.csv", tmp_path)
    assert all(s.unchanged for s in again) and [s.path for s in again] == [s.path for s in snapshots]
    # A folder lists every (non-hidden) file in it; no match is an error.
    assert len(fetcher.fetch_all("imagery", "url", "drops/", tmp_path)) == 4
    with pytest.raises(FetchError, match="no file matches"):
        fetcher.fetch_all("imagery", "url", "drops/ais_*.nmea", tmp_path)


# -- reuse_last_good ---------------------------------------------------------------------------------


def test_reuse_last_good_returns_the_last_snapshot_stale_and_touches_nothing(fetcher, server, tmp_path, logs):
    server.script("/sdn.csv", Reply(200, SDN, {"ETag": '"v1"'}), Reply(503, b"down"))
    options = dict(on_fetch_error="reuse_last_good")
    first = fetch(fetcher, tmp_path, server.url("/sdn.csv"), **options)
    state = tmp_path / "landing" / "ofac" / "url" / STATE_FILE
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (state, Path(first.path))}
    listing = landed(tmp_path)

    second = fetch(fetcher, tmp_path, server.url("/sdn.csv"), **options)
    assert second.stale and not second.unchanged
    assert (second.sha256, second.path, second.fetched_at) == (first.sha256, first.path, first.fetched_at)
    assert "HTTP 503" in second.stale_reason and "5 attempt(s)" in second.stale_reason
    assert len(server.requests_to("/sdn.csv")) == 1 + 5
    assert any(line.startswith("warning:") and "reusing the last good snapshot" in line for line in logs)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before} == before
    assert landed(tmp_path) == listing


def test_reuse_last_good_without_an_earlier_snapshot_raises(fetcher, server, tmp_path):
    server.script("/sdn.csv", Reply(503))
    with pytest.raises(FetchError, match="HTTP 503.*no earlier good snapshot is on disk"):
        fetch(fetcher, tmp_path, server.url("/sdn.csv"), on_fetch_error="reuse_last_good")
    assert landed(tmp_path) == []


def test_reuse_last_good_covers_an_html_page_and_a_vanished_drop_folder(fetcher, server, tmp_path):
    reuse = FetchOptions(on_fetch_error="reuse_last_good", expect="csv", **QUICK)
    server.script("/sdn.csv", Reply(200, SDN), Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}))
    first = fetcher.fetch("ofac", "url", server.url("/sdn.csv"), tmp_path, reuse)
    assert fetcher.fetch("ofac", "url", server.url("/sdn.csv"), tmp_path, reuse).path == first.path
    drops = tmp_path / "drops"
    drops.mkdir()
    for day in ("01", "02"):
        (drops / f"ais_{day}.csv").write_text(f"mmsi,at\n1,{day}\n")
    good = fetcher.fetch_all("ais", "url", "drops/*.csv", tmp_path, reuse)
    for f in drops.iterdir():
        f.unlink()
    stale = fetcher.fetch_all("ais", "url", "drops/*.csv", tmp_path, reuse)
    assert [s.path for s in stale] == [s.path for s in good] and all(s.stale for s in stale)
    assert "no file matches" in stale[0].stale_reason


# -- what may be fetched -----------------------------------------------------------------------------


def test_plain_http_to_another_host_is_refused_before_any_connection(fetcher, session, tmp_path, sleeps):
    for call in (
        lambda: fetch(fetcher, tmp_path, "http://192.0.2.1/x.csv"),
        lambda: fetcher.fetch_all("ofac", "url", "http://192.0.2.1/x.csv", tmp_path),
        lambda: fetcher.send("GET", "http://192.0.2.1/v3/vessels", where="source 'gfw' (api)"),
    ):
        with pytest.raises(FetchError, match=r"refusing plain http:// to 192\.0\.2\.1"):
            call()
    assert session.blocked == [] and sleeps == []
    assert landed(tmp_path) == []


def test_allow_insecure_http_lets_the_request_go_out(fetcher, session, tmp_path):
    # The guard session stands in for the network: it records the request and refuses to connect.
    with pytest.raises(FetchError, match="test guard"):
        fetch(fetcher, tmp_path, "http://192.0.2.1/x.csv", allow_insecure_http=True, retries=0)
    assert session.blocked == ["http://192.0.2.1/x.csv"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_to_loopback_needs_no_flag(fetcher, server, tmp_path, host):
    server.script("/sdn.csv", Reply(200, SDN))
    url = server.url("/sdn.csv").replace("127.0.0.1", host)
    assert fetch(fetcher, tmp_path, url).sha256 == sha(SDN)


def test_a_redirect_to_plain_http_elsewhere_is_refused_before_following_it(fetcher, server, session, tmp_path):
    server.script("/moved", Reply(302, headers={"Location": "http://192.0.2.1/sdn.csv"}))
    server.script("/here", Reply(301, headers={"Location": "/sdn.csv"}))
    server.script("/sdn.csv", Reply(200, SDN))
    with pytest.raises(FetchError, match=r"redirected to http://192\.0\.2\.1/sdn\.csv"):
        fetch(fetcher, tmp_path, server.url("/moved"))
    assert session.blocked == [] and len(server.requests_to("/moved")) == 1
    assert fetch(fetcher, tmp_path, server.url("/here")).sha256 == sha(SDN)


@pytest.mark.parametrize("url", ["ftp://example.org/sdn.csv", "gopher://example.org/1", "s3://bucket/sdn.csv"])
def test_other_schemes_are_refused(fetcher, session, tmp_path, url):
    with pytest.raises(FetchError, match="unsupported URL scheme"):
        fetch(fetcher, tmp_path, url)
    assert session.blocked == []


# -- send() and land_bytes() for API clients ---------------------------------------------------------


def test_send_keeps_the_authorization_token_out_of_errors_and_logs(fetcher, server, tmp_path, sleeps, logs):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    server.script("/v3/vessels", Reply(401, f'{{"error": "invalid token {TOKEN}"}}'.encode()))
    server.script("/v3/events", Reply(500, b"internal error"))
    where = "source 'gfw' (vessels)"

    with pytest.raises(FetchError) as unauthorised:
        fetcher.send("GET", server.url("/v3/vessels"), where=where, options=FetchOptions(**QUICK), headers=auth)
    message = str(unauthorised.value)
    assert "HTTP 401" in message and "invalid token ***" in message and TOKEN not in message
    assert unauthorised.value.__cause__ is None and unauthorised.value.__context__ is None
    assert len(server.requests_to("/v3/vessels")) == 1 and sleeps == []

    with pytest.raises(FetchError) as failing:
        fetcher.send("POST", server.url("/v3/events"), where=where, options=FetchOptions(retries=2, **QUICK),
                     headers=auth, json={"datasets": ["public-global-port-visits-events:latest"]})
    assert "after 3 attempt(s); last: HTTP 500" in str(failing.value) and TOKEN not in str(failing.value)
    assert len(sleeps) == 2 and logs and not any(TOKEN in line for line in logs)
    # The token did reach the server: it was sent, only never shown.
    assert all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in server.seen)


def test_send_returns_the_read_body_and_caps_it(fetcher, server, tmp_path):
    page = json.dumps({"entries": [{"imo": "8916293"}], "since": None}).encode()
    server.script("/v3/vessels/search", Reply(200, page, {"Content-Type": "application/json"}))
    response = fetcher.send(
        "GET", server.url("/v3/vessels/search"), where="source 'gfw' (vessels)",
        options=FetchOptions(expect="json", **QUICK), params={"query": "8916293"},
    )
    assert response.status_code == 200 and response.json()["entries"] == [{"imo": "8916293"}]
    assert server.requests_to("/v3/vessels/search")[0].path.endswith("?query=8916293")
    with pytest.raises(FetchError, match="byte limit"):
        fetcher.send("GET", server.url("/v3/vessels/search"), where="gfw", options=FetchOptions(max_bytes=10, **QUICK))


def test_land_bytes_lands_pages_and_reuses_the_last_good_when_a_page_fails(fetcher, tmp_path, logs):
    url = "https://gateway.api.globalfishingwatch.org/v3/vessels/search"
    pages = [b'{"imo": "8916293"}\n', b'{"imo": "8604917"}\n']
    reuse = FetchOptions(on_fetch_error="reuse_last_good", expect="jsonl")
    first = fetcher.land_bytes("gfw", "vessels", iter(pages), url=url, suffix=".jsonl", options=reuse)
    assert Path(first.path).read_bytes() == b"".join(pages) and first.path.endswith(".jsonl")
    assert fetcher.land_bytes("gfw", "vessels", iter(pages), url=url, suffix=".jsonl", options=reuse).unchanged

    def failing_pages():
        yield pages[0]
        raise FetchError("source 'gfw' (vessels): page 2 answered HTTP 503")

    stale = fetcher.land_bytes("gfw", "vessels", failing_pages(), url=url, suffix=".jsonl", options=reuse)
    assert stale.stale and stale.path == first.path and "page 2" in stale.stale_reason
    with pytest.raises(FetchError, match="page 2"):
        fetcher.land_bytes("gfw", "vessels", failing_pages(), url=url, suffix=".jsonl")
    assert landed(tmp_path, "gfw", "vessels") == sorted([STATE_FILE, Path(first.path).name])


@pytest.mark.parametrize(
    "bad",
    [
        {"expect": "pdf"},
        {"on_fetch_error": "retry"},
        {"allow_insecure_http": "false"},
        {"retries": -1},
        {"read_timeout_s": 0},
    ],
)
def test_fetch_options_refuse_nonsense(bad):
    with pytest.raises(ValueError):
        FetchOptions(**bad)

