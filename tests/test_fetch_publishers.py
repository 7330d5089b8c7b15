"""Publishers that misbehave on the wire: a Content-Length that does not match the body, chunked and gzip bodies
cut short, redirects toward internal addresses or from https to http, and servers that drip bytes forever.
Every server here is on 127.0.0.1; names that look public resolve through a stub, never through DNS."""

from __future__ import annotations

import gzip
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

import tankerwatch.fetch as fetch_module
from tankerwatch.errors import FetchError
from tankerwatch.fetch import Fetcher, FetchOptions
from tankerwatch.settings import REPO_ROOT
from tests.http_server import Reply, serve_script
from tests.test_fetch_http import LoopbackOnlySession, landed, sha

SDN = (REPO_ROOT / "demo" / "sanctions" / "ofac_sdn_dprk_20240503.csv").read_bytes()
QUICK = dict(connect_timeout_s=2.0, read_timeout_s=2.0, retries=0)
PUBLIC = "publisher.example"  # resolves (through the stub) to a public address, served by the local server


@pytest.fixture
def server():
    with serve_script() as fault:
        yield fault


class StubbedSession(LoopbackOnlySession):
    """Leaves this machine for nothing: publisher.example is answered by the local server (see ServedAs)."""

    def send(self, request, **kwargs):
        if urlsplit(request.url).hostname == PUBLIC:
            return requests.Session.send(self, request, **kwargs)
        return super().send(request, **kwargs)


@pytest.fixture
def session():
    with StubbedSession() as s:
        yield s


@pytest.fixture
def logs() -> list[str]:
    return []


@pytest.fixture
def fetcher(tmp_path, session, logs):
    return Fetcher(tmp_path / "landing", session=session, sleep=lambda s: None, log=logs.append)


def fetch(fetcher, tmp_path, url, **options):
    return fetcher.fetch("ofac", "url", url, tmp_path, FetchOptions(**{**QUICK, "expect": "csv", **options}))


# -- the body is the whole body -------------------------------------------------------------------------


@pytest.mark.parametrize("keep_alive", [False, True], ids=["closing", "kept-alive"])
def test_a_content_length_shorter_than_the_body_is_an_error_not_a_truncated_snapshot(
    fetcher, server, tmp_path, keep_alive
):
    declared = len(SDN) // 2
    server.script("/sdn.csv", Reply(200, SDN, length=declared, keep_alive=keep_alive))
    with pytest.raises(FetchError) as error:
        fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    message = str(error.value)
    assert "source 'ofac'" in message and f"{declared:,}" in message and "Content-Length" in message
    assert landed(tmp_path) == []  # no landed file, no temporary, no state


def test_a_content_length_longer_than_the_body_is_an_error_after_the_retries(fetcher, server, tmp_path):
    server.script("/sdn.csv", Reply(200, SDN, length=len(SDN) + 500))
    with pytest.raises(FetchError) as error:
        fetch(fetcher, tmp_path, server.url("/sdn.csv"), retries=1)
    assert "source 'ofac'" in str(error.value) and "truncated" in str(error.value)
    assert len(server.requests_to("/sdn.csv")) == 2
    assert landed(tmp_path) == []


@pytest.mark.parametrize("delta", [-40, 40], ids=["declared-shorter", "declared-longer"])
def test_gzip_bodies_are_measured_in_compressed_bytes(fetcher, server, tmp_path, delta):
    packed = gzip.compress(SDN)
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/csv"}
    server.script("/sdn.csv", Reply(200, packed, headers, length=len(packed) + delta))
    with pytest.raises(FetchError) as error:
        fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    assert "source 'ofac'" in str(error.value)
    assert landed(tmp_path) == []


def test_a_gzip_body_with_the_right_length_lands_decompressed(fetcher, server, tmp_path):
    packed = gzip.compress(SDN)
    server.script("/sdn.csv", Reply(200, packed, {"Content-Encoding": "gzip"}))
    snapshot = fetch(fetcher, tmp_path, server.url("/sdn.csv"))
    assert snapshot.sha256 == sha(SDN) and snapshot.bytes == len(SDN)


def chunked(data: bytes, size: int = 1000) -> bytes:
    out = b""
    for start in range(0, len(data), size):
        piece = data[start:start + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out


def test_a_chunked_body_lands_whole_and_one_cut_mid_stream_is_an_error(fetcher, server, tmp_path):
    headers = {"Transfer-Encoding": "chunked"}
    whole = chunked(SDN) + b"0\r\n\r\n"
    server.script("/whole.csv", Reply(200, whole, headers, length=None))
    assert fetch(fetcher, tmp_path, server.url("/whole.csv")).sha256 == sha(SDN)

    cut_in_a_chunk = chunked(SDN)[: len(whole) // 2]
    cut_between_chunks = chunked(SDN[:5000])  # whole chunks, but no closing 0-chunk
    for path, body in (("/cut.csv", cut_in_a_chunk), ("/unterminated.csv", cut_between_chunks)):
        server.script(path, Reply(200, body, headers, length=None))
        with pytest.raises(FetchError) as error:
            fetcher.fetch("ofac", path.strip("/").split(".")[0], server.url(path), tmp_path,
                          FetchOptions(**QUICK, expect="csv"))
        assert "source 'ofac'" in str(error.value) and "truncated" in str(error.value)
        assert landed(tmp_path, role=path.strip("/").split(".")[0]) == []


def test_kept_alive_connections_with_honest_lengths_still_land_every_body(fetcher, server, tmp_path):
    server.script("/a.csv", Reply(200, SDN, keep_alive=True))
    server.script("/b.csv", Reply(200, SDN[:3000], keep_alive=True))
    first = fetcher.fetch("ofac", "a", server.url("/a.csv"), tmp_path, FetchOptions(**QUICK, expect="csv"))
    second = fetcher.fetch("ofac", "b", server.url("/b.csv"), tmp_path, FetchOptions(**QUICK, expect="csv"))
    assert (first.sha256, second.sha256) == (sha(SDN), sha(SDN[:3000]))


# -- redirects ------------------------------------------------------------------------------------------


class ServedAs(requests.adapters.HTTPAdapter):
    """Sends requests for a public-looking origin to the local server, and shows answers under that origin."""

    def __init__(self, origin: str, base_url: str) -> None:
        super().__init__()
        self.origin = origin
        self.base_url = base_url

    def send(self, request, **kwargs):
        shown = request.url
        request.url = self.base_url + shown[len(self.origin):]
        response = super().send(request, **kwargs)
        response.url = shown
        return response


@pytest.fixture
def resolver(monkeypatch):
    """A stub DNS: publisher.example is public, metadata.example link-local, intranet.example private."""
    table = {PUBLIC: ["93.184.216.34"], "metadata.example": ["169.254.169.254"],
             "intranet.example": ["93.184.216.35", "10.1.2.3"], "127.0.0.1": ["127.0.0.1"]}
    asked: list[str] = []

    def addresses(host, port):
        asked.append(host)
        if host in table:
            return table[host]
        raise OSError(f"stub DNS: no such host {host}")

    monkeypatch.setattr(fetch_module, "_addresses", addresses)
    return asked


def public_origin(session, server, scheme="http"):
    origin = f"{scheme}://{PUBLIC}"
    session.mount(origin, ServedAs(origin, server.base_url))
    return origin


@pytest.mark.parametrize(
    "location, address",
    [
        ("{base}/sdn.csv", "127.0.0.1"),
        ("http://metadata.example/latest/meta-data/", "169.254.169.254"),
        ("http://intranet.example/sdn.csv", "10.1.2.3"),
        ("http://10.0.0.7/sdn.csv", "10.0.0.7"),
        ("http://[::ffff:127.0.0.1]/sdn.csv", "127.0.0.1"),
        ("http://localhost:1/sdn.csv", "127.0.0.1"),
    ],
    ids=["loopback", "link-local-by-name", "one-private-address-of-two", "private-literal", "mapped-v6", "localhost"],
)
def test_a_public_source_is_never_redirected_to_an_internal_address(
    fetcher, server, session, tmp_path, resolver, location, address
):
    origin = public_origin(session, server)
    server.script("/moved.csv", Reply(302, location=location))
    server.script("/sdn.csv", Reply(200, SDN))
    with pytest.raises(FetchError) as error:
        fetch(fetcher, tmp_path, f"{origin}/moved.csv", allow_insecure_http=True)
    message = str(error.value)
    assert "source 'ofac'" in message and "internal address" in message and address in message
    assert server.requests_to("/sdn.csv") == [] and session.blocked == []
    assert landed(tmp_path) == []


def test_a_public_source_may_be_redirected_to_another_public_host(fetcher, server, session, tmp_path, resolver):
    origin = public_origin(session, server)
    server.script("/moved.csv", Reply(302, location=f"{origin}/sdn.csv"))
    server.script("/sdn.csv", Reply(200, SDN))
    snapshot = fetch(fetcher, tmp_path, f"{origin}/moved.csv", allow_insecure_http=True)
    assert snapshot.sha256 == sha(SDN)
    assert PUBLIC in resolver


def test_a_source_on_this_machine_may_be_redirected_on_this_machine(fetcher, server, tmp_path, resolver):
    server.script("/moved.csv", Reply(301, location="{base}/sdn.csv"))
    server.script("/sdn.csv", Reply(200, SDN))
    assert fetch(fetcher, tmp_path, server.url("/moved.csv")).sha256 == sha(SDN)


def test_https_is_never_redirected_to_http_even_where_http_is_allowed(fetcher, server, session, tmp_path, resolver):
    origin = public_origin(session, server, scheme="https")
    public_origin(session, server, scheme="http")
    server.script("/moved.csv", Reply(302, location=f"http://{PUBLIC}/sdn.csv"))
    server.script("/sdn.csv", Reply(200, SDN))
    with pytest.raises(FetchError) as error:
        fetch(fetcher, tmp_path, f"{origin}/moved.csv", allow_insecure_http=True)
    assert "from https to plain http" in str(error.value) and "source 'ofac'" in str(error.value)
    assert server.requests_to("/sdn.csv") == []


def test_the_redirect_rules_also_guard_api_requests(fetcher, server, session, tmp_path, resolver):
    origin = public_origin(session, server)
    server.script("/api", Reply(307, location="http://metadata.example/latest/"))
    with pytest.raises(FetchError) as error:
        fetcher.send("GET", f"{origin}/api", where="source 'gfw' (url)",
                     options=FetchOptions(**QUICK, allow_insecure_http=True))
    assert "internal address" in str(error.value) and "169.254.169.254" in str(error.value)


# -- the total deadline ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, SDN[:400], drip_s=0.1),
        Reply(200, SDN[:400], drip_s=0.1, length=None),
        Reply(200, SDN[:400], drip_headers_s=0.1),
    ],
    ids=["body-with-length", "body-until-close", "status-and-headers"],
)
def test_a_server_dripping_bytes_inside_every_read_timeout_is_cut_at_the_total_deadline(
    fetcher, server, tmp_path, reply
):
    server.script("/sdn.csv", reply)
    started = time.monotonic()
    with pytest.raises(FetchError) as error:
        fetch(fetcher, tmp_path, server.url("/sdn.csv"), read_timeout_s=5.0, total_timeout_s=1.0, retries=3)
    took = time.monotonic() - started
    assert took < 4.0  # 400 bytes at 10 a second would take 40 s; each byte arrives well inside the read timeout
    message = str(error.value)
    assert "source 'ofac'" in message and "total deadline of 1 s (total_timeout_s)" in message
    assert not error.value.transient  # the ingest step must not wait and spend the deadline again
    assert len(server.requests_to("/sdn.csv")) == 1  # no retry begins after the deadline
    assert landed(tmp_path) == []


def test_retries_stop_when_the_next_wait_would_pass_the_deadline(server, tmp_path, session):
    sleeps: list[float] = []
    fetcher = Fetcher(tmp_path / "landing", session=session, sleep=sleeps.append, log=lambda m: None)
    server.script("/sdn.csv", Reply(503, b"busy", {"Retry-After": "30"}))
    with pytest.raises(FetchError) as error:
        fetch(fetcher, tmp_path, server.url("/sdn.csv"), retries=4, total_timeout_s=10.0)
    assert sleeps == [] and "deadline" in str(error.value)
    assert len(server.requests_to("/sdn.csv")) == 1


def test_a_fast_download_is_not_touched_by_the_deadline(fetcher, server, tmp_path):
    server.script("/sdn.csv", Reply(200, SDN))
    assert fetch(fetcher, tmp_path, server.url("/sdn.csv"), total_timeout_s=5.0).sha256 == sha(SDN)


# -- secrets in URLs ------------------------------------------------------------------------------------


SECRET = "tw-secret-31b7a9c04e"


@pytest.mark.parametrize(
    "template",
    [
        "http://{secret}@{host}/sdn.csv",
        "http://user:{secret}@{host}/sdn.csv",
        "http://{host}/sdn.csv?code={secret}",
        "http://{host}/sdn.csv?X-Amz-Signature={secret}&X-Amz-Expires=300",
        "http://{host}/sdn.csv?ACCESS_TOKEN={secret}",
        "http://{host}/sdn.csv?apiKey={secret}",
        "http://{host}/sdn.csv?a=1;sig={secret}",
        "http://{host}/sdn.csv?Password={secret}",
        "http://{host}/sdn.csv#access_token={secret}",
    ],
)
def test_a_secret_in_a_url_is_masked_in_errors_logs_state_and_the_snapshot(fetcher, server, tmp_path, logs, template):
    host = urlsplit(server.base_url).netloc
    url = template.format(secret=SECRET, host=host)
    server.script("/sdn.csv", Reply(200, SDN), Reply(503, f"denied for {url}".encode()))
    snapshot = fetch(fetcher, tmp_path, url, on_fetch_error="reuse_last_good", retries=1)
    stale = fetch(fetcher, tmp_path, url, on_fetch_error="reuse_last_good", retries=1)
    with pytest.raises(FetchError) as error:
        fetch(fetcher, tmp_path, url, retries=1)
    seen = [snapshot.url, repr(snapshot), repr(stale), str(error.value), repr(error.value), *logs]
    seen += [p.read_text() for p in (tmp_path / "landing").rglob("_state.json")]
    assert stale.stale and "***" in snapshot.url
    assert [text for text in seen if SECRET in text] == []


def test_display_url_keeps_everything_but_the_secrets_as_written():
    shown = fetch_module._display_url(
        "https://key123456@feed.example/v1/data.csv?region=Baltic%20Sea&X-Amz-Credential=AKIA%2F1&page=2"
    )
    assert shown == "https://***@feed.example/v1/data.csv?region=Baltic%20Sea&X-Amz-Credential=***&page=2"
    message = fetch_module._scrub(
        "HTTPSConnectionPool(host='x', port=443): Max retries exceeded with url: /a?token=abcdef&b=2 "
        "(redirected from https://u:p4ssw0rd@x/a?sig=zzzzzz)"
    )
    assert "abcdef" not in message and "p4ssw0rd" not in message and "zzzzzz" not in message
    assert "&b=2" in message


# -- a full disk ----------------------------------------------------------------------------------------


@pytest.fixture
def full_disk(monkeypatch):
    """Landing files write to /dev/full: every write the kernel answers with ENOSPC, as on a full disk."""
    real_mkstemp = fetch_module.tempfile.mkstemp

    def mkstemp(*args, prefix=None, dir=None, **kwargs):
        if prefix == ".landing-":
            return os.open("/dev/full", os.O_WRONLY), str(Path(dir) / ".landing-full.part")
        return real_mkstemp(*args, prefix=prefix, dir=dir, **kwargs)

    monkeypatch.setattr(fetch_module.tempfile, "mkstemp", mkstemp)


def test_a_full_disk_while_landing_names_the_source(fetcher, server, tmp_path, full_disk):
    server.script("/sdn.csv", Reply(200, SDN))
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "sdn.csv").write_bytes(SDN)
    for url in (server.url("/sdn.csv"), "drop/sdn.csv"):
        with pytest.raises(FetchError) as error:
            fetch(fetcher, tmp_path, url, retries=2)
        assert "source 'ofac' (url)" in str(error.value) and "No space left on device" in str(error.value)
    assert len(server.requests_to("/sdn.csv")) == 1  # waiting will not free the disk: no retry


# -- the same over TLS ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("keep_alive", [False, True], ids=["closing", "kept-alive"])
def test_over_https_an_honest_body_lands_and_one_longer_than_declared_fails(
    tmp_path, session, certificate, keep_alive
):
    session.verify = str(certificate[0])
    fetcher = Fetcher(tmp_path / "landing", session=session, sleep=lambda s: None, log=lambda m: None)
    with serve_script(tls=certificate) as server:
        server.script("/sdn.csv", Reply(200, SDN, keep_alive=keep_alive))
        server.script("/long.csv", Reply(200, SDN, length=len(SDN) - 100, keep_alive=keep_alive))
        assert fetch(fetcher, tmp_path, server.url("/sdn.csv")).sha256 == sha(SDN)
        with pytest.raises(FetchError, match="more bytes than the"):
            fetcher.fetch("ofac", "long", server.url("/long.csv"), tmp_path, FetchOptions(**QUICK, expect="csv"))
        assert fetch(fetcher, tmp_path, server.url("/sdn.csv")).unchanged
