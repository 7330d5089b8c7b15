"""The whole pipeline on every case of the hostile corpus (tests/hostile_corpus/): feeds and files written elsewhere,
publishers that misbehave, operators who mistype. Each case either publishes with every bad record in `rejects`
(its source, a reason) and the per-source counts adding up, or fails before the publish naming the source; in both
cases the set that was `current` before is still there, byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from assets.ingest import RETRY_WAIT_ENV
from orchestration.cli import main
from tankerwatch.publish import current_version, list_versions, resolve_current
from tankerwatch.settings import DEMO_SOURCES_FILE
from tankerwatch.soak import content_hashes
from tankerwatch.sources import FETCH_SETTINGS
from tests.hostile_corpus import corpus
from tests.http_server import Reply, serve_script

pytestmark = pytest.mark.slow

# Tables a rejected record must leave as they were: only `rejects` (and the manifest) may change.
PUBLISHED_TABLES_BUT_REJECTS = "every published table but rejects"


def file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class Baseline:
    data_dir: Path
    version: str
    files: dict[str, str]  # sha256 of every file under current
    tables: dict[str, str]  # content hash of every published table
    rejects: pl.DataFrame = field(repr=False)


@pytest.fixture(scope="session")
def baseline(tmp_path_factory) -> Baseline:
    """The clean demo, published once per session; every case runs on a copy of this data directory."""
    data_dir = tmp_path_factory.mktemp("hostile-baseline") / "data"
    with _clean_environment():
        assert main(["run", "--sources", str(DEMO_SOURCES_FILE), "--data-dir", str(data_dir)]) == 0
    current = resolve_current(data_dir / "published")
    return Baseline(data_dir, current.name, file_hashes(current), content_hashes(current),
                    pl.read_parquet(current / "rejects.parquet"))


@contextmanager
def _clean_environment() -> Iterator[None]:
    names = ("TANKERWATCH_SOURCES", "TANKERWATCH_DATA_DIR", "TANKERWATCH_FAULT")  # $DAGSTER_HOME: the session's
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


# -- publishers the cases need, all on 127.0.0.1 ---------------------------------------------------------------


@contextmanager
def serve_raw(answer: Callable[[BaseHTTPRequestHandler, threading.Event], None],
              tls: tuple[Path, Path] | None = None) -> Iterator[tuple[str, list[str]]]:
    """A server whose every GET is answered by ``answer(handler, stop)`` writing raw bytes; yields its base URL and
    the paths it was asked for."""
    stop = threading.Event()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def do_GET(self):
            seen.append(self.path)
            try:
                answer(self, stop)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # the client gave up first: the point of the case
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", seen
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _line_boundary_near_half(body: bytes) -> int:
    return body.index(b"\n", len(body) // 2) + 1


def _chunked_cut(body: bytes) -> Callable:
    """Chunked transfer encoding, two chunks ending on a line boundary, then the connection closes without the
    terminating zero-length chunk."""
    cut = _line_boundary_near_half(body)

    def answer(handler, stop):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for part in (body[:cut // 2], body[cut // 2:cut]):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        handler.wfile.flush()

    return answer


DRIP_INTERVAL_S = 0.05


def _drip(body: bytes) -> Callable:
    """A correct Content-Length, then one byte every 50 ms: each read arrives well within any read timeout."""

    def answer(handler, stop):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/csv")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for index in range(len(body)):
            handler.wfile.write(body[index:index + 1])
            handler.wfile.flush()
            if stop.wait(DRIP_INTERVAL_S):
                return

    return answer


def _redirect_to(location: str) -> Callable:
    def answer(handler, stop):
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


# -- the cases ---------------------------------------------------------------------------------------------


@dataclass
class Setup:
    """What a case builds: the sources file and data directory of its run, and what it expects of it."""

    tmp: Path
    demo: Path
    monkeypatch: pytest.MonkeyPatch
    stack: ExitStack
    baseline: Baseline
    sources: Path = Path()
    data_dir: Path = Path()
    source: str = ""  # the sources-file name the run must publish rejects from, or name in its error
    markers: dict[str, str] = field(default_factory=dict)  # text in a rejected record -> regex its reason matches
    bad_records: int = 0  # at least this many new rejects from the source
    tables_unchanged: bool = True  # a publish may change only `rejects` (and the manifest)
    error_mentions: list[str] = field(default_factory=list)  # regexes the failure's stderr must also match
    secrets: list[str] = field(default_factory=list)  # text that must appear nowhere
    after: list[Callable[[Setup, Result], list[str]]] = field(default_factory=list)  # further checks

    def edit_sources(self, change: Callable[[dict], None]) -> None:
        document = yaml.safe_load(self.sources.read_text(encoding="utf-8"))
        change(document["sources"])
        self.sources.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    def replace_source(self, old: str, new: str, spec: dict) -> None:
        def change(sources: dict) -> None:
            sources.pop(old, None)
            sources[new] = spec

        self.edit_sources(change)
        self.source = new

    def served_registry(self) -> bytes:
        return (self.demo / "registry" / "tankers.csv").read_bytes()


@dataclass
class Result:
    code: int | None
    out: str
    err: str
    raised: BaseException | None
    seconds: float


def publishes_with_rejects(build: Callable[[Setup], None]) -> tuple[str, Callable[[Setup], None]]:
    return "publishes", build


def fails_naming_the_source(build: Callable[[Setup], None]) -> tuple[str, Callable[[Setup], None]]:
    return "fails", build


# 1. Gates guard what is published: a row staging rejects never fails a gate.

def case_ais_same_second_repeat(s: Setup) -> None:
    s.source, s.bad_records = "ais_feed", corpus.ais_same_second_repeat(s.demo)


def case_imagery_rows_staging_rejects(s: Setup) -> None:
    s.source, s.markers = "imagery_log", corpus.imagery_rows_staging_rejects(s.demo)


def case_registry_rows_staging_rejects(s: Setup) -> None:
    s.source, s.markers = "tanker_registry", corpus.registry_rows_staging_rejects(s.demo)


def case_ais_thirty_bit_mmsi(s: Setup) -> None:
    corpus.ais_thirty_bit_mmsi(s.demo)
    s.source, s.markers = "ais_feed", {str(corpus.THIRTY_BIT_MMSI): r"(?i)mmsi"}


# 3. Plausible values are rejected with their reason.

def case_ais_implausible_tag_blocks(s: Setup) -> None:
    s.source, s.bad_records = "ais_feed", corpus.ais_implausible_tag_blocks(s.demo)


def case_imagery_implausible_times(s: Setup) -> None:
    s.source, s.markers = "imagery_log", corpus.imagery_implausible_times(s.demo)


def case_registry_dwt_nan(s: Setup) -> None:
    s.source, s.markers = "tanker_registry", corpus.registry_dwt_nan(s.demo)


# 2. Every input record accounted for: a truncated body is an error, never fewer rows.

def _serve_registry(s: Setup, reply: Reply) -> None:
    server = s.stack.enter_context(serve_script())
    server.script("/tankers.csv", reply)
    s.replace_source("tanker_registry", "hostile_registry",
                     {"kind": "registry_csv", "url": server.url("/tankers.csv"), "retries": 0})


def case_content_length_shorter_than_body(s: Setup) -> None:
    body = s.served_registry()
    _serve_registry(s, Reply(200, body, {"Content-Type": "text/csv"}, length=_line_boundary_near_half(body)))


def case_content_length_longer_than_body(s: Setup) -> None:
    body = s.served_registry()
    _serve_registry(s, Reply(200, body[:_line_boundary_near_half(body)], {"Content-Type": "text/csv"},
                             length=len(body)))


def case_chunked_body_cut_mid_stream(s: Setup) -> None:
    base, _ = s.stack.enter_context(serve_raw(_chunked_cut(s.served_registry())))
    s.replace_source("tanker_registry", "hostile_registry",
                     {"kind": "registry_csv", "url": f"{base}/tankers.csv", "retries": 0})


def case_registry_last_line_cut(s: Setup) -> None:
    corpus.registry_cut_last_line(s.demo)
    s.source = "tanker_registry"


# 4. Whole real sanctions lists.

def case_ofac_full_list(s: Setup) -> None:
    path = corpus.ofac_full(s.demo)
    s.replace_source("ofac_sdn", "ofac_full", {"kind": "ofac_sdn_csv", "url": f"sanctions/{path.name}"})
    s.tables_unchanged = False
    s.after.append(check_every_designated_ship_is_published)


def check_every_designated_ship_is_published(s: Setup, result: Result) -> list[str]:
    imos, mmsis = corpus.ofac_vessel_identifiers(corpus.OFAC_FULL)
    current = resolve_current(s.data_dir / "published")
    if current is None or current.name == s.baseline.version:
        return []  # reported already: nothing new was published
    sanctioned = pl.read_parquet(current / "sanctioned_vessels.parquet")
    problems = []
    missing = sorted(imos - set(sanctioned["imo"].drop_nulls().to_list()))
    if len(imos) < 400 or missing:
        problems.append(f"{len(missing)} of the {len(imos)} ship IMOs of the full OFAC list are not in "
                        f"sanctioned_vessels: {missing[:10]}")
    if "mmsi" not in sanctioned.columns:
        problems.append(f"sanctioned_vessels has no mmsi column, so the {len(mmsis)} vessels designated without an "
                        f"IMO ({sorted(mmsis)}) cannot be screened by MMSI")
    else:
        published = set(sanctioned.filter(pl.col("imo").is_null())["mmsi"].drop_nulls().cast(pl.String).to_list())
        if mmsis - published:
            problems.append(f"vessels designated with an MMSI and no IMO are not published with IMO null: "
                            f"{sorted(mmsis - published)}")
    return problems


# 5. Hostile publishers and careless operators.

def case_secret_in_url_user_and_query(s: Setup) -> None:
    server = s.stack.enter_context(serve_script())
    server.script("/tankers.csv", Reply(200, s.served_registry(), {"Content-Type": "text/csv"}))
    port = server.base_url.rsplit(":", 1)[1]
    url = f"http://{corpus.SECRET_USER}@127.0.0.1:{port}/tankers.csv?sig={corpus.SECRET_SIG}&day=1"
    s.replace_source("tanker_registry", "hostile_registry", {"kind": "registry_csv", "url": url, "retries": 0})
    s.secrets = [corpus.SECRET_USER, corpus.SECRET_SIG]
    s.tables_unchanged = False  # the registry rows now come from another source name


PUBLIC_HOST, PUBLIC_ADDRESS = "publisher.example.com", "93.184.215.14"


def public_looking(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    """``host`` resolves to a public address without a DNS query, and no connection may ever go to it: its traffic
    must go through the proxy on 127.0.0.1."""
    import urllib3.util.connection

    real_resolve, real_connect = socket.getaddrinfo, urllib3.util.connection.create_connection

    def resolve(name, *args, **kwargs):
        if str(name).lower().rstrip(".") == host:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (PUBLIC_ADDRESS, 80))]
        return real_resolve(name, *args, **kwargs)

    def connect(address, *args, **kwargs):
        if str(address[0]).lower().rstrip(".") in (host, PUBLIC_ADDRESS):
            raise ConnectionRefusedError(f"tests never use the network ({address[0]})")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", connect)


def case_redirect_to_loopback_from_a_public_url(s: Setup) -> None:
    target = s.stack.enter_context(serve_script())
    target.script("/tankers.csv", Reply(200, s.served_registry(), {"Content-Type": "text/csv"}))
    proxy = s.stack.enter_context(serve_script())  # stands in for the public internet: it answers every host
    proxy.script("/tankers.csv", Reply(302, b"", {"Location": target.url("/tankers.csv")}))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        s.monkeypatch.delenv(name, raising=False)
        s.monkeypatch.delenv(name.lower(), raising=False)
    s.monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
    s.monkeypatch.setenv("http_proxy", proxy.base_url)
    s.monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    s.monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    public_looking(s.monkeypatch, PUBLIC_HOST)
    s.replace_source("tanker_registry", "hostile_registry",
                     {"kind": "registry_csv", "url": f"http://{PUBLIC_HOST}/tankers.csv",
                      "allow_insecure_http": True, "retries": 0})
    s.error_mentions = [r"(?i)redirect"]

    def check(s: Setup, result: Result) -> list[str]:
        problems = []
        if not proxy.requests_to("/tankers.csv"):
            problems.append("the public-looking URL was never asked for: the run failed for another reason")
        if target.seen:
            problems.append(f"the loopback target was fetched: {[r.path for r in target.seen]}")
        return problems

    s.after.append(check)


def case_redirect_from_https_to_http(s: Setup) -> None:
    target = s.stack.enter_context(serve_script())
    target.script("/tankers.csv", Reply(200, s.served_registry(), {"Content-Type": "text/csv"}))
    cert, key = self_signed_certificate(s.tmp)
    s.monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    base, seen = s.stack.enter_context(serve_raw(_redirect_to(target.url("/tankers.csv")), tls=(cert, key)))
    s.replace_source("tanker_registry", "hostile_registry",
                     {"kind": "registry_csv", "url": f"{base}/tankers.csv", "retries": 0})
    s.error_mentions = [r"(?i)redirect|https"]

    def check(s: Setup, result: Result) -> list[str]:
        problems = []
        if not seen:
            problems.append("the https URL was never asked for: the run failed for another reason")
        if target.seen:
            problems.append(f"the plain-http target was fetched after an https URL: {[r.path for r in target.seen]}")
        return problems

    s.after.append(check)


def total_deadline_setting() -> str | None:
    """The sources-file setting for a download's total deadline, once there is one."""
    names = [name for name in FETCH_SETTINGS if re.search(r"deadline|total", name)]
    return names[0] if names else None


DRIP_DEADLINE_S = 5


def case_server_drips_bytes(s: Setup) -> None:
    body = s.served_registry()
    base, _ = s.stack.enter_context(serve_raw(_drip(body)))
    spec = {"kind": "registry_csv", "url": f"{base}/tankers.csv", "retries": 0}
    setting = total_deadline_setting()
    if setting:
        spec[setting] = DRIP_DEADLINE_S
    s.replace_source("tanker_registry", "hostile_registry", spec)
    dripping_s = len(body) * DRIP_INTERVAL_S

    def check(s: Setup, result: Result) -> list[str]:
        problems = [] if setting else ["no sources-file setting bounds a download's total time (FETCH_SETTINGS)"]
        if result.seconds > dripping_s * 0.8:
            problems.append(f"the run took {result.seconds:.0f} s: the drip ({dripping_s:.0f} s) held it to the end")
        return problems

    s.after.append(check)


def case_sources_file_with_anchors(s: Setup) -> None:
    corpus.sources_with_anchors(s.demo)
    s.source = ""  # the error names the sources file
    s.error_mentions = [re.escape(str(s.sources)), r"(?i)anchor|alias"]


def case_sources_file_with_a_duplicate_name(s: Setup) -> None:
    corpus.sources_with_duplicate_name(s.demo)
    s.source = "tanker_registry"
    s.error_mentions = [r"(?i)duplicate|twice|more than once"]


def case_lone_surrogate_in_json_lines(s: Setup) -> None:
    path, line = corpus.opensanctions_lone_surrogate(s.demo)

    def change(sources: dict) -> None:
        sources["hostile_opensanctions"] = {"kind": "opensanctions_ftm", "url": path.name}

    s.edit_sources(change)
    s.source = "hostile_opensanctions"
    s.error_mentions = [rf"(?i)line\D{{0,3}}{line}\b"]


def case_invalid_utf8_in_csv(s: Setup) -> None:
    line = corpus.registry_invalid_utf8(s.demo)
    s.source = "tanker_registry"
    s.error_mentions = [rf"(?i)line\D{{0,3}}{line}\b"]


def case_xml_external_entity(s: Setup) -> None:
    corpus.un_with_external_entity(s.demo)
    s.source = "un_consolidated"


def case_data_dir_parent_missing(s: Setup) -> None:
    s.data_dir = s.tmp / "no" / "such" / "parent" / "data"
    s.source = ""
    s.error_mentions = [re.escape(str(s.data_dir))]
    s.after.append(lambda s, r: [] if not (s.tmp / "no").exists() else ["the run created the missing parents"])


def case_data_dir_read_only(s: Setup) -> None:
    folder = s.tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except OSError:
        s.data_dir = folder
    else:  # the superuser writes through file modes; a procfs folder refuses even it
        (folder / "probe").unlink()
        s.data_dir = Path(f"/proc/{os.getpid()}/fdinfo")
    s.source = ""
    s.error_mentions = [re.escape(str(s.data_dir))]


def case_data_dir_is_a_file(s: Setup) -> None:
    s.data_dir = s.tmp / "data.txt"
    s.data_dir.write_text("not a folder\n")
    s.source = ""
    s.error_mentions = [re.escape(str(s.data_dir))]
    s.after.append(lambda s, r: [] if s.data_dir.read_text() == "not a folder\n" else ["the file was changed"])


def case_mistyped_sources_path(s: Setup) -> None:
    s.sources = s.demo / "sourcse.yaml"
    s.source = ""
    s.error_mentions = [re.escape(str(s.sources))]

    def check(s: Setup, result: Result) -> list[str]:
        problems = []
        reports = [line for line in result.err.splitlines() if str(s.sources) in line]
        if len(reports) != 1:
            problems.append(f"the mistyped path is reported on {len(reports)} lines, not once")
        if "STEP FAILED" in result.err:
            problems.append("steps ran before the mistyped sources path was reported")
        return problems

    s.after.append(check)


CASES = {
    # class 1: gates guard what is published
    "1-ais-same-second-two-positions": publishes_with_rejects(case_ais_same_second_repeat),
    "1-imagery-rows-staging-rejects": publishes_with_rejects(case_imagery_rows_staging_rejects),
    "1-registry-rows-staging-rejects": publishes_with_rejects(case_registry_rows_staging_rejects),
    "1-ais-30-bit-mmsi": publishes_with_rejects(case_ais_thirty_bit_mmsi),
    # class 2: every input record accounted for
    "2-content-length-shorter-than-body": fails_naming_the_source(case_content_length_shorter_than_body),
    "2-content-length-longer-than-body": fails_naming_the_source(case_content_length_longer_than_body),
    "2-chunked-body-cut-mid-stream": fails_naming_the_source(case_chunked_body_cut_mid_stream),
    "2-last-line-cut": fails_naming_the_source(case_registry_last_line_cut),
    # class 3: plausible values
    "3-ais-tag-block-c0-and-11-digits": publishes_with_rejects(case_ais_implausible_tag_blocks),
    "3-imagery-offset-99-and-years-0001-3024": publishes_with_rejects(case_imagery_implausible_times),
    "3-registry-dwt-nan": publishes_with_rejects(case_registry_dwt_nan),
    # class 4: whole real sanctions lists
    "4-ofac-full-sdn-2022": publishes_with_rejects(case_ofac_full_list),
    # class 5: hostile publishers and careless operators
    "5-token-in-url-user-and-query": publishes_with_rejects(case_secret_in_url_user_and_query),
    "5-redirect-to-loopback": fails_naming_the_source(case_redirect_to_loopback_from_a_public_url),
    "5-redirect-https-to-http": fails_naming_the_source(case_redirect_from_https_to_http),
    "5-server-drips-bytes": fails_naming_the_source(case_server_drips_bytes),
    "5-sources-yaml-anchors": fails_naming_the_source(case_sources_file_with_anchors),
    "5-sources-duplicate-name": fails_naming_the_source(case_sources_file_with_a_duplicate_name),
    "5-lone-surrogate-in-json-lines": fails_naming_the_source(case_lone_surrogate_in_json_lines),
    "5-invalid-utf8-in-csv": fails_naming_the_source(case_invalid_utf8_in_csv),
    "5-xml-external-entity": fails_naming_the_source(case_xml_external_entity),
    "5-data-dir-parent-missing": fails_naming_the_source(case_data_dir_parent_missing),
    "5-data-dir-read-only": fails_naming_the_source(case_data_dir_read_only),
    "5-data-dir-is-a-file": fails_naming_the_source(case_data_dir_is_a_file),
    "5-mistyped-sources-path": fails_naming_the_source(case_mistyped_sources_path),
}


# -- what must hold after a case ------------------------------------------------------------------------------


def run(sources: Path, data_dir: Path, capsys) -> Result:
    capsys.readouterr()
    started = time.monotonic()
    code, raised = None, None
    with _clean_environment():
        try:
            code = main(["run", "--sources", str(sources), "--data-dir", str(data_dir), "--lock-wait", "0"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:  # noqa: BLE001 - what escapes main is itself the finding
            raised = exc
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err, raised, time.monotonic() - started)


def names(text: str, name: str) -> bool:
    """``name`` as a word of its own: a landed path (.../landing/<name>/url/...) does not count."""
    return re.search(rf"(?<![\w/]){re.escape(name)}(?![\w/])", text) is not None


# Records a snapshot's accounting may count besides used and rejected: the extra sentences of a multi-sentence
# AIS message (merged into its first) and lines that are not records of the kind (other NMEA sentences).
ALSO_COUNTED = ("merged", "skipped")


def accounting_entries(manifest: dict) -> list[tuple[str, dict]]:
    """Every (context, entry) in the manifest with whole-number counts of records read, used and rejected."""
    found: list[tuple[str, dict]] = []

    def walk(node, context: str) -> None:
        if isinstance(node, dict):
            if all(type(node.get(key)) is int for key in ("read", "used", "rejected")):
                found.append((context + " " + json.dumps({k: v for k, v in node.items() if isinstance(v, str)}), node))
            for key, value in node.items():
                walk(value, f"{context} {key}")
        elif isinstance(node, list):
            for value in node:
                walk(value, context)

    walk(manifest, "")
    return found


def accounting_problems(current: Path, source: str, at_least_rejected: int) -> list[str]:
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    entries = accounting_entries(manifest)
    if not entries:
        return ["the manifest carries no per-snapshot accounting (records read, used, rejected)"]
    problems = []
    for context, entry in entries:
        also = {key: entry[key] for key in ALSO_COUNTED if type(entry.get(key)) is int}
        if entry["read"] != entry["used"] + entry["rejected"] + sum(also.values()):
            problems.append(f"records read {entry['read']} != used {entry['used']} + rejected {entry['rejected']}"
                            f" + {also} in{context}")
        if entry.get("unaccounted", 0) != 0:
            problems.append(f"{entry['unaccounted']} records unaccounted for in{context}")
    mine = [entry for context, entry in entries if names(context, source)]
    if not mine:
        problems.append(f"the manifest's accounting does not list source {source!r}")
    elif sum(entry["rejected"] for entry in mine) < at_least_rejected:
        problems.append(f"the manifest counts {sum(entry['rejected'] for entry in mine)} rejected records of "
                        f"{source!r}, not at least {at_least_rejected}")
    return problems


def new_rejects(baseline: Baseline, current: Path) -> pl.DataFrame:
    rejects = pl.read_parquet(current / "rejects.parquet")
    key = ["source_name", "reason", "record"]
    return rejects.join(baseline.rejects.select(key).unique(), on=key, how="anti", nulls_equal=True)


def publish_problems(s: Setup, result: Result) -> list[str]:
    published = s.data_dir / "published"
    if result.code != 0 or current_version(published) == s.baseline.version:
        return [f"did not publish (exit {result.code}): {result.err.strip()[-3000:]}"]
    problems = []
    current = resolve_current(published)
    previous = published / "versions" / s.baseline.version
    if not previous.is_dir() or file_hashes(previous) != s.baseline.files:
        problems.append("the previously current version is no longer intact")
    if s.tables_unchanged:
        changed = sorted(name for name, digest in content_hashes(current).items()
                         if name != "rejects" and s.baseline.tables.get(name) != digest)
        if changed:
            problems.append(f"a rejected record changed published tables: {changed}")
    rejects = new_rejects(s.baseline, current)
    foreign = sorted(set(rejects["source_name"].to_list()) - {s.source})
    if foreign and s.tables_unchanged:
        problems.append(f"new rejects from sources the case did not touch: {foreign}")
    mine = rejects.filter(pl.col("source_name") == s.source)
    if mine.height < max(s.bad_records, len(s.markers)):
        problems.append(f"{mine.height} new rejects from {s.source!r}, expected at least "
                        f"{max(s.bad_records, len(s.markers))}")
    if mine.filter(pl.col("reason").is_null() | (pl.col("reason").str.strip_chars() == "")).height:
        problems.append("a reject has no reason")
    for marker, reason in s.markers.items():
        hits = mine.filter(pl.col("record").str.contains(marker, literal=True)
                           | pl.col("record_id").fill_null("").str.contains(marker, literal=True))
        if hits.height == 0:
            problems.append(f"record {marker!r} is not in rejects")
        elif not any(re.search(reason, text, re.I) for text in hits["reason"].to_list()):
            problems.append(f"record {marker!r} is rejected for {hits['reason'].to_list()}, not for /{reason}/")
    problems += accounting_problems(current, s.source, max(s.bad_records, len(s.markers)))
    return problems


def failure_problems(s: Setup, result: Result) -> list[str]:
    problems = []
    if result.code in (0, None):
        problems.append(f"exit {result.code}: the run did not fail")
    if s.source and not names(result.err, s.source):
        problems.append(f"the error does not name source {s.source!r}")
    for pattern in s.error_mentions:
        if not re.search(pattern, result.err):
            problems.append(f"the error does not match /{pattern}/")
    if "Traceback" in result.err:
        problems.append("a traceback instead of one clear line")
    published = s.data_dir / "published"
    if s.data_dir.is_dir() and (s.data_dir / "published").exists():
        if current_version(published) != s.baseline.version or list_versions(published) != [s.baseline.version]:
            problems.append(f"published changed: current {current_version(published)}, {list_versions(published)}")
        elif file_hashes(resolve_current(published)) != s.baseline.files:
            problems.append("files under current changed")
    return problems


def leak_problems(s: Setup, result: Result, caplog_text: str) -> list[str]:
    problems = []
    places = {"stdout": result.out, "stderr": result.err, "log": caplog_text}
    for path in sorted(s.data_dir.rglob("*")):
        if path.is_file():
            places[str(path.relative_to(s.data_dir))] = path.read_bytes().decode("latin-1")
    warehouse = s.data_dir / "warehouse.duckdb"
    if warehouse.exists():
        with duckdb.connect(str(warehouse), read_only=True) as con:
            columns = con.execute("select table_schema, table_name, column_name from information_schema.columns "
                                  "where data_type like 'VARCHAR%' or data_type like '%[]' or data_type like 'STRUCT%' "
                                  "or data_type like 'JSON%'").fetchall()
            for schema, table, column in columns:
                text = con.execute(f'select string_agg(cast("{column}" as varchar), \'\n\') '
                                   f'from "{schema}"."{table}"').fetchone()[0]
                places[f"warehouse {schema}.{table}.{column}"] = text or ""
    for secret in s.secrets:
        leaked = sorted(place for place, text in places.items() if secret in text)
        if leaked:
            problems.append(f"secret {secret[:6]}... written to: {leaked[:10]}")
    return problems


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_case_publishes_with_rejects_or_fails_naming_the_source(case, baseline, tmp_path, monkeypatch,
                                                                          capsys, caplog):
    expectation, build = CASES[case]
    # A cut body is transient: the step is still retried as in production, without the minutes between retries.
    monkeypatch.setenv(RETRY_WAIT_ENV, "0")
    with ExitStack() as stack:
        s = Setup(tmp_path, corpus.copy_demo(tmp_path / "demo"), monkeypatch, stack, baseline)
        s.sources, s.data_dir = s.demo / "sources.yaml", tmp_path / "data"
        shutil.copytree(baseline.data_dir, s.data_dir, symlinks=True)
        build(s)
        result = run(s.sources, s.data_dir, capsys)
        if result.raised is not None:
            problems = [f"main raised {type(result.raised).__name__}: {result.raised}"]
        elif expectation == "publishes":
            problems = publish_problems(s, result)
        else:
            problems = failure_problems(s, result)
        problems += [p for check in s.after for p in check(s, result)]
        if s.secrets:
            problems += leak_problems(s, result, caplog.text)
    if problems:
        problems.append(f"(exit {result.code} after {result.seconds:.0f} s; stderr: {result.err.strip()[-3000:]})")
    assert problems == [], "\n".join(problems)
