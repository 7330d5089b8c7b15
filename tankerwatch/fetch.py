"""The one fetch layer: http(s) with retries and conditional GET, local files and globs, bytes landed by sha256."""

from __future__ import annotations

import email.utils
import glob
import hashlib
import ipaddress
import json as jsonlib
import logging
import os
import random
import re
import select
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urljoin, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3
import urllib3.connectionpool

from tankerwatch import atomic
from tankerwatch.errors import FetchError
from tankerwatch.faults import fault_point
from tankerwatch.settings import DEMO_DIR

CHUNK = 1024 * 1024
USER_AGENT = "tankerwatch/0.1 (+https://github.com/tankerwatch)"
STATE_FILE = "_state.json"
EXPECT_KINDS = ("csv", "xml", "json", "jsonl", "nmea")
ON_FETCH_ERROR = ("fail", "reuse_last_good")

# Enough of the body to see past a BOM, an XML declaration and a comment or two.
_HEAD_BYTES = 8192
# URLs of a role that were never fetched again fall out of its state file after this many others.
_STATE_ENTRIES_KEPT = 500
_MESSAGE_DETAIL_CHARS = 300
# A query or fragment parameter whose name holds one of these (X-Amz-Signature, client_secret, apiKey, code)
# carries a credential: its value is masked wherever a URL is shown or stored.
_SECRET_PARAM = re.compile(
    r"(key|token|secret|passw|pwd|signature|sig|auth|code|credential|session|jwt|bearer|private|otp)", re.IGNORECASE
)
# In free text (an exception of requests or urllib3 quotes the URL it failed on): user info, and secret-named values.
_TEXT_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#'\"<>]+@")
_TEXT_PARAM = re.compile(r"([?&;#]\s*)([^=&;?#\s'\"<>]+)=([^&;#\s'\"<>)]*)")
_SECRET_HEADERS = ("authorization", "proxy-authorization")
_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SUFFIX = re.compile(r"^(\.[A-Za-z0-9]{1,10}){1,2}$")

_logger = logging.getLogger(__name__)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


@dataclass(frozen=True)
class FetchOptions:
    """How one source is fetched; built from the sources file by ``sources.py``."""

    allow_insecure_http: bool = False
    on_fetch_error: str = "fail"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    max_retry_after_s: float = 300.0
    # A real day of the DMA's AIS CSV is 2.5-3 GB; the cap is there to stop a runaway body, not a big feed.
    max_bytes: int = 8 * 1024**3
    # The whole download, retries and waits included: a server that drips a byte within every read
    # timeout cannot hold a run (and the data directory's lock) for longer than this.
    total_timeout_s: float = 1800.0
    expect: str | None = None
    # A daily feed's quiet day may be an empty file; for anything else an empty body is a publisher fault.
    allow_empty: bool = False
    # Folders local paths may name besides the sources file's own folder and the bundled demo;
    # they come from $TANKERWATCH_ALLOWED_ROOTS (the operator's environment), never from the sources file.
    local_roots: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A YAML string "false" is truthy; refuse anything but a real bool for the one security switch.
        if type(self.allow_insecure_http) is not bool:
            raise ValueError(f"allow_insecure_http must be true or false, not {self.allow_insecure_http!r}")
        if type(self.allow_empty) is not bool:
            raise ValueError(f"allow_empty must be true or false, not {self.allow_empty!r}")
        if self.on_fetch_error not in ON_FETCH_ERROR:
            raise ValueError(f"on_fetch_error must be one of {', '.join(ON_FETCH_ERROR)}, not {self.on_fetch_error!r}")
        if self.expect is not None and self.expect not in EXPECT_KINDS:
            raise ValueError(f"expect must be one of {', '.join(EXPECT_KINDS)} or None, not {self.expect!r}")
        for name in ("connect_timeout_s", "read_timeout_s", "total_timeout_s"):
            if not _is_number(getattr(self, name)) or not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a number above 0, not {getattr(self, name)!r}")
        for name in ("backoff_s", "max_backoff_s", "max_retry_after_s"):
            if not _is_number(getattr(self, name)) or not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be a number of at least 0, not {getattr(self, name)!r}")
        if type(self.retries) is not int or self.retries < 0:
            raise ValueError(f"retries must be a whole number of at least 0, not {self.retries!r}")
        if type(self.max_bytes) is not int or self.max_bytes < 1:
            raise ValueError(f"max_bytes must be a whole number above 0, not {self.max_bytes!r}")
        if not isinstance(self.local_roots, tuple) or not all(
            isinstance(root, str) and os.path.isabs(root) for root in self.local_roots
        ):
            raise ValueError(f"local_roots must be a tuple of absolute paths, not {self.local_roots!r}")


@dataclass(frozen=True)
class Snapshot:
    """One fetched copy of one URL of a source, as landed on disk."""

    source_name: str
    role: str
    url: str
    sha256: str
    bytes: int
    fetched_at: str
    path: str
    unchanged: bool = False
    stale: bool = False
    stale_reason: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    checked_at: str | None = None  # when this fetch ran; fetched_at stays the time these bytes first arrived
    partition_day: str | None = None  # the day (YYYY-MM-DD) a daily feed's file covers; None for a whole source

    @property
    def snapshot_id(self) -> str:
        return self.sha256[:16]

    def to_dict(self) -> dict:
        return {**asdict(self), "snapshot_id": self.snapshot_id}


class Fetcher:
    """Fetches sources into ``landing_dir/<source>/<role>/``; one ``requests.Session`` for every request."""

    def __init__(
        self,
        landing_dir: Path,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] | None = None,
        good_once_parsed: bool = False,
    ) -> None:
        """With ``good_once_parsed`` new bytes are landed and used but stay *pending*: the last good
        snapshot (and the validators sent with conditional requests) move to them only when
        ``confirm`` is called after they parsed, so a body that is plausible on the wire but
        garbage to its parser never replaces the copy ``reuse_last_good`` falls back to."""
        self.landing_dir = Path(landing_dir)
        self._good_once_parsed = good_once_parsed
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        _watch_session(self._session)
        self._sleep = sleep
        self._log = log if log is not None else _logger.warning

    def for_day(self, day: str) -> Fetcher:
        """A fetcher landing under ``<landing>/days/<day>/``, sharing this one's session: each day of a daily
        feed keeps its own last good file and validators, so a failing day never falls back to another day."""
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            raise ValueError(f"day {day!r} is not YYYY-MM-DD")
        return Fetcher(
            self.landing_dir / "days" / day,
            session=self._session,
            sleep=self._sleep,
            log=self._log,
            good_once_parsed=self._good_once_parsed,
        )

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public interface -------------------------------------------------------------------------

    def fetch(
        self, source_name: str, role: str, url: str, base_dir: Path, options: FetchOptions = FetchOptions()
    ) -> Snapshot:
        """Land one URL or file; unchanged, stale and the validators are on the returned snapshot."""
        where = _where(source_name, role)
        role_dir = self._role_dir(source_name, role)
        secrets = _secrets(url)
        try:
            path = _local_target(url, Path(base_dir), where, options)
            # The state file is keyed by what can be shown: a token in a query string never lands on disk.
            key = _display_url(url) if path is None else os.path.abspath(path)
            fetch_one = self._fetch_http if path is None else self._fetch_local
            try:
                return fetch_one(source_name, role, url, path, key, role_dir, options)
            except FetchError as exc:
                return self._reuse_last_good(exc, source_name, role, role_dir, [key], options)
        except FetchError as exc:
            message, transient = _scrub(str(exc), secrets), exc.transient
        # Raised outside the handler so no unscrubbed exception rides along as __context__.
        raise FetchError(message, transient=transient)

    def fetch_all(
        self, source_name: str, role: str, url: str, base_dir: Path, options: FetchOptions = FetchOptions()
    ) -> list[Snapshot]:
        """Like fetch, but a local folder or a glob (e.g. drops/imagery_*.csv, or drops/) yields one snapshot per
        matching file, sorted by name; no match is a FetchError. http(s) URLs give one snapshot."""
        where = _where(source_name, role)
        role_dir = self._role_dir(source_name, role)
        path = _local_target(url, Path(base_dir), where, options)
        if path is None:
            return [self.fetch(source_name, role, url, base_dir, options)]
        set_key = "files:" + os.path.abspath(path)
        try:
            members = _expand(url, path, Path(base_dir), where)
        except FetchError as exc:
            keys = _State.load(role_dir, self._log).sets.get(set_key) or []
            return self._reuse_last_good(exc, source_name, role, role_dir, keys, options, many=True)
        for _, member in members:
            # A link in a drop folder can point anywhere: every member is checked, not just the pattern.
            _check_within_roots(member, Path(base_dir), options, where)
        snapshots = []
        for shown, member in members:
            snapshots.append(self._fetch_or_reuse(source_name, role, shown, member, role_dir, options))
        state = _State.load(role_dir, self._log)
        state.sets[set_key] = [os.path.abspath(member) for _, member in members]
        self._save_state(state, where)
        return snapshots

    def send(
        self,
        method: str,
        url: str,
        *,
        where: str,
        options: FetchOptions = FetchOptions(),
        params: Any = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> requests.Response:
        """One HTTP request with the same timeouts, retries, backoff and Retry-After handling (for API clients
        that page through JSON). The body is read fully, capped at max_bytes. Header values named Authorization
        never appear in any message, log line or exception.

        A 2xx answer (or a status listed in ``accept``) is returned with its body read; anything else raises FetchError.
        """
        method = method.upper()
        secrets = _secrets(url, headers, params)
        shown = _display_url(url)

        def handle(response: requests.Response, attempt: int) -> requests.Response:
            status = response.status_code
            if not (200 <= status < 300 or status in accept):
                detail = _error_detail(response)
                raise FetchError(
                    f"{where}: {method} {shown} answered HTTP {status} {response.reason or ''}".rstrip()
                    + f" on attempt {attempt}; only 429 and 5xx are retried{detail}"
                )
            declared = _declared_length(response, where, f"{method} {shown}", options)
            body = bytearray()
            sniffer = _Sniffer(options.expect, where, f"{method} {shown}")
            for chunk in response.iter_content(CHUNK):
                body += chunk
                if len(body) > options.max_bytes:
                    raise FetchError(f"{where}: {method} {shown} is larger than the {options.max_bytes:,} byte limit")
                sniffer.feed(chunk)
            _check_complete(response, declared, where, f"{method} {shown}")
            if body:
                sniffer.finish()
            # The documented way to hand back a streamed response whose body has been read: .content,
            # .text and .json() all work on it.
            response._content = bytes(body)
            response._content_consumed = True
            return response

        try:
            _check_remote_url(url, where, options)
            return self._exchange(
                method, url, where=where, options=options, handle=handle,
                headers=headers, params=params, json=json, secrets=secrets,
            )
        except FetchError as exc:
            message, transient = _scrub(str(exc), secrets), exc.transient
        raise FetchError(message, transient=transient)

    def land_bytes(
        self,
        source_name: str,
        role: str,
        chunks: Iterable[bytes],
        *,
        url: str,
        suffix: str,
        options: FetchOptions = FetchOptions(),
    ) -> Snapshot:
        """Land bytes produced by the caller (e.g. all pages of an API answer as JSONL), atomically, by sha256.

        A FetchError raised by ``chunks`` while it is read (a page that failed) follows ``options.on_fetch_error``:
        with ``reuse_last_good`` the last good snapshot of ``url`` comes back stale. Empty output is allowed here
        (an API query can rightly find nothing); ``options.max_bytes`` and ``options.expect`` apply.
        """
        if not _SUFFIX.fullmatch(suffix):
            raise ValueError(f"suffix must look like '.jsonl' or '.ftm.json', not {suffix!r}")
        where = _where(source_name, role)
        role_dir = self._role_dir(source_name, role)
        checked_at = _now()
        try:
            what = f"the data for {_display_url(url)}"
            part = _land_stream(role_dir, iter(chunks), options, where, what, allow_empty=True)
        except FetchError as exc:
            return self._reuse_last_good(exc, source_name, role, role_dir, [_display_url(url)], options)
        state = _State.load(role_dir, self._log)
        return self._commit(
            source_name, role, url, _display_url(url), part, suffix, role_dir, state, None, None, checked_at, checked_at
        )

    # -- http -------------------------------------------------------------------------------------

    def _fetch_http(
        self, source_name: str, role: str, url: str, _path: Path | None, key: str, role_dir: Path, options: FetchOptions
    ) -> Snapshot:
        where = _where(source_name, role)
        shown = _display_url(url)
        state = _State.load(role_dir, self._log)
        entry = state.entries.get(key, {})
        conditional: dict[str, str] = {}
        # Validators are only worth sending while the bytes they stand for are still on disk.
        if state.last_good(key, role_dir) is not None:
            if entry.get("etag"):
                conditional["If-None-Match"] = entry["etag"]
            if entry.get("last_modified"):
                conditional["If-Modified-Since"] = entry["last_modified"]
        checked_at = _now()

        def handle(response: requests.Response, attempt: int) -> tuple[_Part | None, str | None, str | None]:
            status = response.status_code
            etag = response.headers.get("ETag")
            last_modified = response.headers.get("Last-Modified")
            if status == 304:
                if not conditional:
                    raise FetchError(f"{where}: GET {shown} answered 304 Not Modified to an unconditional request")
                return None, etag or entry.get("etag"), last_modified or entry.get("last_modified")
            if status != 200:
                raise FetchError(
                    f"{where}: GET {shown} answered HTTP {status} {response.reason or ''}".rstrip()
                    + f" on attempt {attempt}; only 429 and 5xx are retried"
                )
            what = f"GET {shown}"
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if options.expect and media_type in ("text/html", "application/xhtml+xml"):
                raise FetchError(
                    f"{where}: {what} answered an HTML page (Content-Type {media_type}) "
                    f"where {options.expect} was expected"
                )
            declared = _declared_length(response, where, what, options)
            part = _land_stream(
                role_dir, response.iter_content(CHUNK), options, where, what,
                finish=lambda: _check_complete(response, declared, where, what),
            )
            return part, etag, last_modified

        part, etag, last_modified = self._exchange(
            "GET", url, where=where, options=options, handle=handle, headers=conditional, secrets=_secrets(url)
        )
        if part is None:
            last = state.last_good(key, role_dir)
            if last is None:
                raise FetchError(f"{where}: GET {shown} answered 304 Not Modified but the last good snapshot is gone")
            state.entries[key] = {**entry, "etag": etag, "last_modified": last_modified, "used_at": checked_at}
            self._save_state(state, where)
            return _snapshot_from(
                source_name, role, url, last, role_dir, etag, last_modified, checked_at, unchanged=True
            )
        return self._commit(
            source_name, role, url, key, part, _suffix(urlsplit(url).path), role_dir, state,
            etag, last_modified, checked_at, checked_at,
        )

    def _exchange(
        self,
        method: str,
        url: str,
        *,
        where: str,
        options: FetchOptions,
        handle: Callable[[requests.Response, int], Any],
        headers: dict[str, str] | None = None,
        params: Any = None,
        json: Any = None,
        secrets: Collection[str] = (),
    ) -> Any:
        """Send until ``handle`` accepts an answer: retries on connection errors, timeouts, 429 and 5xx,
        all within ``options.total_timeout_s``."""
        shown = _display_url(url)
        attempts = options.retries + 1
        request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        guard = _redirect_guard(_RedirectPolicy(url, where, options))
        problem = "no attempt made"

        def out_of_time(attempt: int) -> FetchError:
            # Not transient: the deadline is all the time this source may take in a run, and a step retried
            # later would spend it again (and hold the run's lock that much longer).
            return FetchError(_scrub(
                f"{where}: {method} {shown} did not complete within its total deadline of "
                f"{options.total_timeout_s:g} s (total_timeout_s) on attempt {attempt}; last: {problem}", secrets,
            ))

        with _Deadline(options.total_timeout_s) as deadline:
            for attempt in range(1, attempts + 1):
                retry_after: float | None = None
                fatal: str | None = None
                try:
                    response = self._session.request(
                        method, url, params=params, json=json, headers=request_headers,
                        timeout=(options.connect_timeout_s, options.read_timeout_s),
                        stream=True, allow_redirects=True, hooks={"response": [guard]},
                    )
                except requests.RequestException as exc:
                    problem = _describe(exc)
                    if deadline.expired:
                        raise out_of_time(attempt) from None
                    if not _transient(exc):
                        fatal = problem
                else:
                    try:
                        with response:
                            deadline.watch(_body_socket(response))
                            status = response.status_code
                            if status == 429 or 500 <= status <= 599:
                                problem = f"HTTP {status} {response.reason or ''}".rstrip()
                                header = response.headers.get("Retry-After")
                                retry_after = _retry_after(header)
                                if retry_after is not None and retry_after > options.max_retry_after_s:
                                    raise FetchError(
                                        f"{where}: {method} {shown} answered {problem} with Retry-After {header!r} "
                                        f"({retry_after:.0f} s), longer than the {options.max_retry_after_s:.0f} s "
                                        f"this source may wait (max_retry_after_s); gave up after {attempt} attempt(s)"
                                    )
                            else:
                                response._tankerwatch_tail = _install_tail_check(response)  # type: ignore[attr-defined]
                                return handle(response, attempt)
                    except _Retryable as exc:
                        problem = str(exc)
                    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                        problem = _describe(exc)
                        if not _transient(exc):
                            fatal = problem
                    if deadline.expired:
                        raise out_of_time(attempt)
                if fatal is not None:
                    raise FetchError(_scrub(f"{where}: {method} {shown} failed on attempt {attempt}: {fatal}", secrets))
                if attempt < attempts:
                    delay = retry_after if retry_after is not None else _backoff(options, attempt - 1)
                    if delay >= deadline.remaining():
                        problem += f"; the next attempt would start after the deadline (in {delay:.1f} s)"
                        raise out_of_time(attempt)
                    self._log(_scrub(
                        f"{where}: {method} {shown}: {problem}; retrying in {delay:.1f} s "
                        f"(attempt {attempt + 1} of {attempts})", secrets,
                    ))
                    self._sleep(delay)
        message = f"{where}: {method} {shown} failed after {attempts} attempt(s); last: {problem}"
        # Only here is a failure transient: every attempt met 429/5xx, a connection error or a timeout.
        raise FetchError(_scrub(message, secrets), transient=True)

    # -- local files ------------------------------------------------------------------------------

    def _fetch_local(
        self, source_name: str, role: str, url: str, path: Path | None, key: str, role_dir: Path, options: FetchOptions
    ) -> Snapshot:
        assert path is not None
        where = _where(source_name, role)
        checked_at = _now()
        try:
            size = path.stat().st_size
            if path.is_dir():
                raise FetchError(f"{where}: {path} is a folder; fetch_all lands every file in it")
            if size > options.max_bytes:
                raise FetchError(f"{where}: {path} has {size:,} bytes, more than the {options.max_bytes:,} byte limit")
            with path.open("rb") as source:
                part = _land_stream(role_dir, iter(lambda: source.read(CHUNK), b""), options, where, str(path))
        except FileNotFoundError:
            raise FetchError(f"{where}: file not found: {path}") from None
        except OSError as exc:
            raise FetchError(f"{where}: cannot copy {path} into the landing folder: {exc}") from None
        state = _State.load(role_dir, self._log)
        return self._commit(
            source_name, role, url, key, part, _suffix(path.name), role_dir, state, None, None, checked_at, checked_at
        )

    def _fetch_or_reuse(
        self, source_name: str, role: str, shown: str, path: Path, role_dir: Path, options: FetchOptions
    ) -> Snapshot:
        key = os.path.abspath(path)
        try:
            return self._fetch_local(source_name, role, shown, path, key, role_dir, options)
        except FetchError as exc:
            return self._reuse_last_good(exc, source_name, role, role_dir, [key], options)

    # -- landing and state ------------------------------------------------------------------------

    def _commit(
        self,
        source_name: str,
        role: str,
        url: str,
        key: str,
        part: _Part,
        suffix: str,
        role_dir: Path,
        state: _State,
        etag: str | None,
        last_modified: str | None,
        fetched_at: str,
        checked_at: str,
    ) -> Snapshot:
        where = _where(source_name, role)
        try:
            last = state.last_good(key, role_dir)
            if last is not None and last["sha256"] == part.sha256:
                part.path.unlink()
                good = last
                unchanged = True
            else:
                final = role_dir / f"{part.sha256[:16]}{suffix}"
                # Content-addressed: an existing file of that name already holds these bytes (A, B, then A again).
                if final.is_file() and final.stat().st_size == part.size:
                    part.path.unlink()
                else:
                    try:
                        atomic.replace(part.path, final)
                    except OSError as exc:
                        raise FetchError(f"{where}: cannot land {final}: {exc.strerror or exc}") from None
                good = {
                    "sha256": part.sha256, "file": final.name, "bytes": part.size, "fetched_at": fetched_at,
                    "url": _display_url(url),
                }
                unchanged = False
        except BaseException:
            part.path.unlink(missing_ok=True)
            raise
        entry = {
            "url": _display_url(url), "etag": etag, "last_modified": last_modified, "last_good": good,
            "used_at": checked_at,
        }
        if self._good_once_parsed and not unchanged:
            previous = state.entries.get(key, {})
            entry = {
                **entry,
                "etag": previous.get("etag"),
                "last_modified": previous.get("last_modified"),
                "last_good": last,
                "pending": {**good, "etag": etag, "last_modified": last_modified},
            }
        state.entries[key] = entry
        self._save_state(state, where)
        return _snapshot_from(
            source_name, role, url, good, role_dir, etag, last_modified, checked_at, unchanged=unchanged
        )

    def confirm(self, snapshots: Collection[Snapshot]) -> None:
        """These snapshots parsed: each becomes the last good one of its URL or file."""
        by_role_dir: dict[Path, set[str]] = {}
        for snapshot in snapshots:
            if not snapshot.stale:
                by_role_dir.setdefault(Path(snapshot.path).parent, set()).add(snapshot.sha256)
        for role_dir, parsed in by_role_dir.items():
            state = _State.load(role_dir, self._log)
            promoted = False
            for entry in state.entries.values():
                pending = entry.get("pending") if isinstance(entry, dict) else None
                if isinstance(pending, dict) and pending.get("sha256") in parsed:
                    entry["etag"] = pending.pop("etag", None)
                    entry["last_modified"] = pending.pop("last_modified", None)
                    entry["last_good"] = pending
                    del entry["pending"]
                    promoted = True
            if promoted:
                self._save_state(state, str(role_dir))

    def _reuse_last_good(
        self,
        error: FetchError,
        source_name: str,
        role: str,
        role_dir: Path,
        keys: list[str],
        options: FetchOptions,
        *,
        many: bool = False,
    ) -> Any:
        if options.on_fetch_error != "reuse_last_good":
            raise error
        where = _where(source_name, role)
        state = _State.load(role_dir, self._log)
        goods = [(key, state.last_good(key, role_dir)) for key in keys]
        if not goods or any(good is None for _, good in goods):
            raise FetchError(
                f"{error} (on_fetch_error is reuse_last_good, but no earlier good snapshot is on disk)",
                transient=error.transient,
            )
        reason = str(error)
        checked_at = _now()
        snapshots = [
            _snapshot_from(
                source_name, role, good["url"], good, role_dir,
                state.entries[key].get("etag"), state.entries[key].get("last_modified"), checked_at,
                stale=True, stale_reason=reason,
            )
            for key, good in goods
        ]
        ids = ", ".join(f"{s.snapshot_id} (fetched {s.fetched_at})" for s in snapshots)
        self._log(f"warning: {where}: the fetch failed, reusing the last good snapshot {ids}: {reason}")
        return snapshots if many else snapshots[0]

    def _role_dir(self, source_name: str, role: str) -> Path:
        for label, value in (("source name", source_name), ("role", role)):
            if not isinstance(value, str) or not _NAME_PART.fullmatch(value):
                raise ValueError(f"{label} {value!r} cannot name a landing folder")
        role_dir = self.landing_dir / source_name / role
        try:
            role_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FetchError(
                f"{_where(source_name, role)}: cannot create the landing folder {role_dir}: {exc.strerror or exc}"
            ) from None
        return role_dir

    def _save_state(self, state: _State, where: str) -> None:
        try:
            state.save()
        except OSError as exc:
            # The bytes are landed and the snapshot is good; only the next conditional GET is lost.
            self._log(f"warning: {where}: cannot write {state.path}: {exc}")


def remove_partial_landings(landing_dir: Path) -> list[str]:
    """Delete temporary files a run killed mid-fetch left in the landing folders; return their paths.

    Landed snapshots and ``_state.json`` are written under a temporary name and renamed, so a kill
    leaves only these temporaries, never a half file under a real name. Call it only while no other
    run can be fetching into ``landing_dir`` (the CLI holds the data directory's run lock).
    """
    landing_dir = Path(landing_dir)
    leftovers = [*landing_dir.glob("*/*/.landing-*.part"), *landing_dir.glob("*/*/.state-*.tmp")]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return sorted(str(path.relative_to(landing_dir)) for path in leftovers)


def fetch_to_landing(
    source_name: str, role: str, url: str, base_dir: Path, landing_dir: Path, options: FetchOptions = FetchOptions()
) -> Snapshot:
    """Fetch ``url`` and land its bytes under ``landing_dir/source_name/role/``, named by content hash."""
    with Fetcher(Path(landing_dir)) as fetcher:
        return fetcher.fetch(source_name, role, url, Path(base_dir), options)


# -- landing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """Bytes fully received into a temp file of the landing folder, not yet under their final name."""

    path: Path
    sha256: str
    size: int


class _Retryable(Exception):
    """A failure worth another attempt (the body broke off mid-way)."""


def _land_stream(
    role_dir: Path,
    chunks: Iterator[bytes],
    options: FetchOptions,
    where: str,
    what: str,
    *,
    allow_empty: bool = False,
    finish: Callable[[], None] | None = None,
) -> _Part:
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".landing-", suffix=".part", dir=role_dir)
    except OSError as exc:
        raise FetchError(f"{where}: cannot land {what} in {role_dir}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        sniffer = _Sniffer(options.expect, where, what)
        with os.fdopen(fd, "wb") as sink:
            for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > options.max_bytes:
                    raise FetchError(f"{where}: {what} is larger than the {options.max_bytes:,} byte limit (max_bytes)")
                sniffer.feed(chunk)
                digest.update(chunk)
                sink.write(chunk)
                fault_point("landing")
            if finish is not None:
                finish()
            if size == 0 and not (allow_empty or options.allow_empty):
                raise FetchError(f"{where}: {what} returned an empty body")
            if size:
                sniffer.finish()
            sink.flush()
            os.fsync(sink.fileno())
    except requests.RequestException:
        tmp.unlink(missing_ok=True)
        raise  # the body broke off: _exchange decides whether that is worth another attempt
    except OSError as exc:
        # A full disk or a landing folder gone read-only: the source must be named, not only a temp path.
        tmp.unlink(missing_ok=True)
        raise FetchError(f"{where}: cannot land {what} in {role_dir}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _Part(tmp, digest.hexdigest(), size)


def _declared_length(response: requests.Response, where: str, what: str, options: FetchOptions) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        declared = int(value) if value is not None else None
    except ValueError:
        return None
    if declared is not None and declared > options.max_bytes:
        raise FetchError(
            f"{where}: {what} announces {declared:,} bytes (Content-Length), "
            f"more than the {options.max_bytes:,} byte limit"
        )
    return declared


def _check_complete(response: requests.Response, declared: int | None, where: str, what: str) -> None:
    """The body that arrived is the whole body: not cut by the deadline, not shorter or longer than declared."""
    deadline = getattr(_active, "deadline", None)
    if deadline is not None and deadline.expired:
        # A cut connection can look like the end of a body sent without Content-Length.
        raise _Retryable("the total deadline cut the body off")
    # urllib3 2 already raises IncompleteRead on a short body; counting the wire bytes (tell(), before any
    # Content-Encoding is undone) against Content-Length also catches a pool or adapter that does not.
    received = getattr(response.raw, "tell", lambda: None)()
    if declared is not None and isinstance(received, int) and received != declared:
        raise _Retryable(f"body truncated: {received:,} of the {declared:,} bytes announced arrived")
    tail = getattr(response, "_tankerwatch_tail", None)
    if tail is not None and tail.extra:
        raise FetchError(
            f"{where}: {what} sent more bytes than the {declared:,} its Content-Length announced "
            f"(it went on with {bytes(tail.extra[:16])!r}): the body cannot be trusted to be whole"
        )


class _Sniffer:
    """Looks at the first bytes of a body: an HTML page, or XML/JSON that is something else, is refused."""

    def __init__(self, expect: str | None, where: str, what: str) -> None:
        self.expect = expect
        self.where = where
        self.what = what
        self.head = bytearray()
        self.done = expect is None

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        self.head += chunk[: _HEAD_BYTES - len(self.head)]
        if len(self.head) >= _HEAD_BYTES:
            self.finish()

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        head = bytes(self.head)
        if b"\x00" in head and not head.startswith(_WIDE_BOMS):
            # No CSV, XML, JSON or NMEA text of a publisher holds NUL bytes outside UTF-16/32: this is binary.
            raise FetchError(
                f"{self.where}: {self.what} is binary data (it holds NUL bytes), not {self.expect}: "
                f"it starts {head[:16]!r}"
            )
        text = _head_text(head).lstrip()
        start = repr(text[:40])
        if _looks_like_html(text):
            raise FetchError(f"{self.where}: {self.what} is an HTML page, not {self.expect}: it starts {start}")
        if self.expect == "xml" and not text.startswith("<"):
            raise FetchError(f"{self.where}: {self.what} is not XML: it starts {start}")
        if self.expect in ("json", "jsonl") and not text.startswith(("{", "[")):
            raise FetchError(f"{self.where}: {self.what} is not {self.expect.upper()}: it starts {start}")


_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _head_text(data: bytes) -> str:
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="ignore")
    # Only the first characters are compared against ASCII markers, so any byte-preserving codec will do.
    return data.decode("latin-1")


def _looks_like_html(text: str) -> bool:
    # An error page may open with an XML declaration or a comment before <!DOCTYPE html>.
    for _ in range(8):
        text = text.lstrip()
        if text.startswith("<?xml"):
            end = text.find("?>")
        elif text.startswith("<!--"):
            end = text.find("-->")
        else:
            break
        if end < 0:
            return False
        text = text[end + 2 if text.startswith("<?") else end + 3:]
    lowered = text.lower()
    return lowered.startswith("<!doctype html") or lowered.startswith("<html")


class _State:
    """``_state.json`` of one source/role: per URL or file, its validators and last good snapshot."""

    def __init__(self, path: Path, entries: dict[str, dict], sets: dict[str, list[str]]) -> None:
        self.path = path
        self.entries = entries
        self.sets = sets

    @classmethod
    def load(cls, role_dir: Path, log: Callable[[str], None]) -> _State:
        path = role_dir / STATE_FILE
        try:
            document = jsonlib.loads(path.read_text(encoding="utf-8"))
            entries = document["entries"]
            sets = document.get("sets", {})
            if not isinstance(entries, dict) or not isinstance(sets, dict):
                raise ValueError("entries and sets must be objects")
        except FileNotFoundError:
            return cls(path, {}, {})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Losing the state costs one full download, not correctness: every landed file stays.
            log(f"warning: ignoring unreadable fetch state {path}: {exc}")
            return cls(path, {}, {})
        return cls(path, entries, sets)

    def last_good(self, key: str, role_dir: Path) -> dict | None:
        entry = self.entries.get(key)
        good = entry.get("last_good") if isinstance(entry, dict) else None
        if not isinstance(good, dict):
            return None
        try:
            landed = role_dir / Path(good["file"]).name
            if landed.stat().st_size != good["bytes"]:
                return None
            return good if isinstance(good.get("sha256"), str) else None
        except (OSError, KeyError, TypeError):
            return None

    def save(self) -> None:
        if len(self.entries) > _STATE_ENTRIES_KEPT:
            recent = sorted(self.entries, key=lambda k: str(self.entries[k].get("used_at", "")), reverse=True)
            self.entries = {k: self.entries[k] for k in recent[:_STATE_ENTRIES_KEPT]}
            self.sets = {k: v for k, v in self.sets.items() if all(m in self.entries for m in v)}
        text = jsonlib.dumps({"format": 1, "entries": self.entries, "sets": self.sets}, indent=1, sort_keys=True)
        # Readable by its owner only, like the landed files beside it.
        atomic.write_text(self.path, text, prefix=".state-", suffix=".tmp", mode=0o600)


def _snapshot_from(
    source_name: str,
    role: str,
    url: str,
    good: dict,
    role_dir: Path,
    etag: str | None,
    last_modified: str | None,
    checked_at: str,
    *,
    unchanged: bool = False,
    stale: bool = False,
    stale_reason: str | None = None,
) -> Snapshot:
    return Snapshot(
        source_name=source_name,
        role=role,
        # The URL travels into logs, asset metadata, the warehouse and the manifest: never with a secret in it.
        url=_display_url(url),
        sha256=good["sha256"],
        bytes=good["bytes"],
        fetched_at=good["fetched_at"],
        path=str(role_dir / Path(good["file"]).name),
        unchanged=unchanged,
        stale=stale,
        stale_reason=stale_reason,
        etag=etag,
        last_modified=last_modified,
        checked_at=checked_at,
    )


# -- URLs, local paths ------------------------------------------------------------------------------


def _local_target(url: str, base_dir: Path, where: str, options: FetchOptions) -> Path | None:
    """None for an http(s) URL that may be fetched; the local path for file:// URLs and paths."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        _check_remote_url(url, where, options)
        return None
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            shown = _display_url(url)
            raise FetchError(
                f"{where}: file:// URLs must name a local file, not one on {urlsplit(shown).netloc!r}: {shown}"
            )
        path = Path(unquote(parts.path))
    # One letter is a Windows drive (C:\...), not a scheme.
    elif scheme and len(scheme) > 1:
        raise FetchError(
            f"{where}: unsupported URL scheme {scheme!r} in {_display_url(url)}: use http(s), file:// or a path"
        )
    else:
        path = Path(url).expanduser()
        path = path if path.is_absolute() else base_dir / path
    if "\x00" in str(path):
        raise FetchError(f"{where}: the path {str(path)!r} holds a NUL character")
    _check_within_roots(path, base_dir, options, where)
    return path


def _check_within_roots(path: Path, base_dir: Path, options: FetchOptions, where: str) -> None:
    """Refuse a local path that resolves (links and '..' followed) outside every folder sources may read.

    Those folders: the sources file's own, the bundled demo, and ``options.local_roots``. A sources file
    cannot widen them, so a hostile one cannot pull ~/.ssh or /etc into the landing folder or the rejects.
    """
    resolved = os.path.realpath(path)
    for root in (base_dir, DEMO_DIR, *options.local_roots):
        real_root = os.path.realpath(root)
        if resolved == real_root or resolved.startswith(real_root.rstrip(os.sep) + os.sep):
            return
    raise FetchError(
        f"{where}: refusing to read {path}: it resolves to {resolved}, outside the folders sources may read "
        f"(the sources file's folder {base_dir}, the bundled demo, and $TANKERWATCH_ALLOWED_ROOTS)"
    )


def _check_remote_url(url: str, where: str, options: FetchOptions, *, redirected_from: str | None = None) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    how = f"{_display_url(redirected_from)} redirected to {_display_url(url)}" if redirected_from else _display_url(url)
    if scheme not in ("http", "https"):
        raise FetchError(f"{where}: unsupported URL scheme {scheme!r} in {how}: use http(s)")
    try:
        host = parts.hostname
    except ValueError:
        host = None
    if not host:
        raise FetchError(f"{where}: no host in {how}")
    if scheme == "http" and not options.allow_insecure_http and not _is_loopback(host):
        raise FetchError(
            f"{where}: refusing plain http:// to {host} ({how}): use https, or set allow_insecure_http for this source"
        )


def _is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _addresses(host: str, port: int | None) -> list[str]:
    """Every address ``host`` resolves to (a literal address is its own); an OSError when it does not resolve."""
    infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def _host_addresses(host: str, port: int | None) -> list[str]:
    host = host.rstrip(".")
    if host.lower() == "localhost":
        return ["127.0.0.1"]
    try:
        return [str(ipaddress.ip_address(host.split("%", 1)[0]))]
    except ValueError:
        return _addresses(host, port)


def _is_internal_address(text: str) -> bool:
    """Loopback, private, link-local (cloud metadata), shared, multicast, reserved or unspecified: not the internet."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return True  # not an address we can judge: treat as internal, the safe side
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or any(
        (address.is_loopback, address.is_link_local, address.is_multicast, address.is_reserved, address.is_unspecified)
    )


class _RedirectPolicy:
    """Where redirects from one source URL may lead: never from https to http, and never to a loopback,
    private or link-local address unless the source URL itself names such a host (a feed on the intranet)."""

    def __init__(self, origin: str, where: str, options: FetchOptions) -> None:
        self.origin = origin
        self.where = where
        self.options = options
        self._origin_internal: bool | None = None

    def origin_internal(self) -> bool:
        if self._origin_internal is None:
            parts = urlsplit(self.origin)
            host = (parts.hostname or "").rstrip(".")
            if _is_loopback(host):
                self._origin_internal = True
            else:
                try:
                    self._origin_internal = any(
                        _is_internal_address(a) for a in _host_addresses(host, parts.port)
                    )
                except (OSError, UnicodeError, ValueError):
                    self._origin_internal = False
        return self._origin_internal

    def check(self, source: str, target: str) -> None:
        where = self.where
        how = f"{_display_url(source)} redirected to {_display_url(target)}"
        _check_remote_url(target, where, self.options, redirected_from=source)
        if urlsplit(source).scheme.lower() == "https" and urlsplit(target).scheme.lower() != "https":
            raise FetchError(f"{where}: refusing a redirect from https to plain http ({how})")
        if self.origin_internal():
            return
        parts = urlsplit(target)
        host = (parts.hostname or "").rstrip(".")
        try:
            addresses = _host_addresses(host, parts.port)
        except (OSError, UnicodeError, ValueError) as exc:
            raise FetchError(f"{where}: cannot resolve the host of a redirect ({how}): {exc}", transient=True) from None
        internal = [a for a in addresses if _is_internal_address(a)]
        if internal:
            raise FetchError(
                f"{where}: refusing a redirect to an internal address ({how}: {host} is {', '.join(internal)}); "
                "only a source whose own URL names an internal host may be redirected to one"
            )


def _redirect_guard(policy: _RedirectPolicy) -> Callable[..., requests.Response]:
    # A response hook runs before requests follows a redirect, so a redirect that is refused is stopped
    # before any connection to the new target.
    def guard(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.is_redirect:
            target = urljoin(response.url, response.headers.get("Location", ""))
            try:
                policy.check(response.url, target)
            except FetchError:
                response.close()
                raise
        return response

    return guard


# -- the total deadline ------------------------------------------------------------------------------

_active = threading.local()


class _Deadline:
    """The total time one download may take. At expiry the sockets it watches are shut down, which ends a
    read blocked in any layer (headers or body, plain or TLS) from outside; re-armed until stopped, so a
    connection opened just after expiry is cut as well."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._stopped = False

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def __enter__(self) -> _Deadline:
        self._previous = getattr(_active, "deadline", None)
        _active.deadline = self
        self._arm(max(0.0, self.remaining()))
        return self

    def __exit__(self, *exc_info: object) -> None:
        _active.deadline = self._previous
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
            self._connections.clear()

    def _arm(self, delay: float) -> None:
        with self._lock:
            if self._stopped:
                return
            self._timer = threading.Timer(delay, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            connections = list(self._connections)
        for connection in connections:
            _cut(connection)
        self._arm(0.5)

    def watch(self, connection: Any) -> None:
        if connection is None:
            return
        with self._lock:
            if connection not in self._connections:
                self._connections.append(connection)
            expired = self.expired
        if expired:
            _cut(connection)


def _cut(connection: Any) -> None:
    sock = connection if isinstance(connection, socket.socket) else getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass


def _watch_connection(connection: Any) -> None:
    deadline = getattr(_active, "deadline", None)
    if deadline is not None:
        deadline.watch(connection)


class _WatchedHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch_connection(conn)
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch_connection(conn)
        return super()._make_request(conn, *args, **kwargs)


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with every connection it uses known to the download's deadline from before the
    request is sent: a server that drips its status line and headers is cut off too, not only its body."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool,
        }


def _watch_session(session: requests.Session) -> None:
    # Only requests' own adapters are replaced: a caller's custom adapter keeps working, and its body
    # reads are still cut at the deadline (the connection is watched once the answer arrives).
    adapters = getattr(session, "adapters", None)
    if not isinstance(adapters, dict) or not hasattr(session, "mount"):
        return
    for prefix in ("https://", "http://"):
        if type(adapters.get(prefix)) is requests.adapters.HTTPAdapter:
            session.mount(prefix, _DeadlineAdapter())


class _TailCheck:
    """Wraps the socket file of an answer with a Content-Length. http.client stops reading at that length and
    closes the file: just before, this looks for bytes beyond it, already buffered or arriving within a short
    grace. A publisher whose Content-Length is shorter than its body would otherwise have the body cut to it."""

    def __init__(self, inner: Any, sock: socket.socket, grace_s: float, owner: Any) -> None:
        self._inner = inner
        self._sock = sock
        self._grace_s = grace_s
        self._owner = owner  # the http.client response: its length is 0 once the whole declared body is read
        self.extra: bytes | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def close(self) -> None:
        try:
            # Closed early (an error answer, the size cap) the rest of the body is no tail: nothing to look at.
            if getattr(self._owner, "length", None) == 0:
                self.extra = self._look()
        finally:
            self._inner.close()

    def _look(self) -> bytes:
        sock, inner = self._sock, self._inner
        try:
            previous = sock.gettimeout()
        except OSError:
            return b""
        try:
            sock.setblocking(False)
            extra = self._peek()
            if extra or inner.closed:
                return extra
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                return self._peek()
            readable, _, _ = select.select([sock], [], [], self._grace_s)
            return self._peek() if readable else b""
        except (OSError, ValueError):
            return b""
        finally:
            try:
                sock.settimeout(previous)
            except OSError:
                pass

    def _peek(self) -> bytes:
        try:
            return bytes(self._inner.peek(1) or b"")
        except (ssl.SSLWantReadError, BlockingIOError):
            return b""
        except (OSError, ValueError):
            return b""


def _body_socket(response: requests.Response) -> socket.socket | None:
    """The socket ``response``'s body is read from. Once an answer says the connection will close, http.client
    lets go of it on the connection object: only the body's own file still holds it."""
    fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        return sock
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _install_tail_check(response: requests.Response) -> _TailCheck | None:
    """Put a _TailCheck under ``response``'s body when it has a Content-Length (and is plain requests/urllib3)."""
    inner_response = getattr(response.raw, "_fp", None)
    fp = getattr(inner_response, "fp", None)
    sock = _body_socket(response)
    if (
        fp is None or sock is None or not hasattr(fp, "peek")
        or getattr(inner_response, "length", None) is None or getattr(inner_response, "chunked", False)
    ):
        return None
    # A server that will close the connection sends its EOF at once; on a kept-alive one only what has
    # already arrived (or arrives at once) can be seen without delaying every download.
    grace = 0.25 if getattr(inner_response, "will_close", False) else 0.05
    tail = _TailCheck(fp, sock, grace, inner_response)
    inner_response.fp = tail
    return tail


def _expand(url: str, path: Path, base_dir: Path, where: str) -> list[tuple[str, Path]]:
    """The files a local url names, sorted by name, each with the url it is shown under."""
    as_uri = urlsplit(url).scheme.lower() == "file"
    relative = not as_uri and not Path(url).expanduser().is_absolute()

    def shown(member: Path) -> str:
        if as_uri:
            return member.as_uri() if member.is_absolute() else str(member)
        if relative:
            return Path(os.path.relpath(member, base_dir)).as_posix()
        return str(member)

    if path.is_file():
        return [(url, path)]
    if path.is_dir():
        members = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not members:
            raise FetchError(f"{where}: the folder {path} holds no files")
        return [(shown(m), m) for m in members]
    if not re.search(r"[*?\[]", str(path)):
        raise FetchError(f"{where}: file not found: {path}")
    if relative:
        # root_dir keeps glob characters in base_dir itself from being read as a pattern.
        found = [base_dir / p for p in glob.glob(Path(url).expanduser().as_posix(), root_dir=base_dir, recursive=True)]
    else:
        found = [Path(p) for p in glob.glob(str(path), recursive=True)]
    members = sorted((p for p in found if p.is_file()), key=lambda p: p.as_posix())
    if not members:
        raise FetchError(f"{where}: no file matches {url} (under {base_dir})")
    return [(shown(m), m) for m in members]


def _suffix(name: str) -> str:
    base = Path(name).name
    suffix = "".join(Path(base).suffixes[-2:]).lower()
    return suffix if _SUFFIX.fullmatch(suffix) else ".bin"


def _display_url(url: str | None) -> str:
    """The URL as it may be shown or stored: its user info (``TOKEN@``, ``user:pass@``) and the values of query
    and fragment parameters named like a credential become ***; everything else stays as written."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, _mask_params(parts.query), _mask_params(parts.fragment)))
    except ValueError:
        return "<an unparseable URL>"


def _is_secret_name(name: str) -> bool:
    return bool(_SECRET_PARAM.search(unquote(name.replace("+", " "))))


def _mask_params(text: str) -> str:
    """``a=1&api_key=XYZ`` as ``a=1&api_key=***``, keeping every other byte (its encoding, its order) as it was."""
    if not text or "=" not in text:
        return text
    pieces = re.split(r"([&;])", text)
    for i, piece in enumerate(pieces):
        name, eq, _ = piece.partition("=")
        if eq and _is_secret_name(name):
            pieces[i] = f"{name}=***"
    return "".join(pieces)


def _secrets(url: str, headers: dict[str, str] | None = None, params: Any = None) -> list[str]:
    """Strings no message may carry: Authorization values (and their token part), the URL's user info,
    the values of credential-named parameters, each as written and decoded."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        if "@" in parts.netloc:
            userinfo = parts.netloc.rpartition("@")[0]
            found += [userinfo, unquote(userinfo)]
            for piece in userinfo.split(":", 1):
                found += [piece, unquote(piece)]
        for text in (parts.query, parts.fragment):
            for piece in re.split(r"[&;]", text):
                name, eq, value = piece.partition("=")
                if eq and _is_secret_name(name):
                    found += [value, unquote(value), unquote(value.replace("+", " "))]
    except ValueError:
        pass
    for name, value in (headers or {}).items():
        if str(name).lower() in _SECRET_HEADERS and value:
            value = str(value)
            found += [value, value.strip()]
            scheme_and_token = value.strip().split(None, 1)
            if len(scheme_and_token) == 2:
                found.append(scheme_and_token[1].strip())
    if isinstance(params, dict):
        for k, v in params.items():
            if _SECRET_PARAM.search(str(k)) and v is not None:
                found += [str(v), quote(str(v), safe=""), quote_plus(str(v), safe="")]
    # Very short values would blank out ordinary words; no real credential is that short.
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def _scrub(text: str, secrets: Collection[str] = ()) -> str:
    """``text`` with every known secret and, in any URL it quotes, user info and credential-named values masked."""
    for secret in secrets:
        text = text.replace(secret, "***")
    text = _TEXT_USERINFO.sub(r"\1***@", text)
    return _TEXT_PARAM.sub(
        lambda m: f"{m.group(1)}{m.group(2)}=***" if m.group(3) and _is_secret_name(m.group(2)) else m.group(0), text
    )


class _ScrubFilter(logging.Filter):
    """Masks URLs in what urllib3 and requests log (at DEBUG they log every request line, query string included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is left to logging to report
            return True
        scrubbed = _scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


for _name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.response", "urllib3.util.retry",
              "urllib3.poolmanager", "requests"):
    logging.getLogger(_name).addFilter(_ScrubFilter())


# -- retries ----------------------------------------------------------------------------------------


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.SSLError):
        # A certificate that does not verify will not verify on the next attempt either.
        return "certificate verify failed" not in str(exc).lower()
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader)):
        return False
    return isinstance(
        exc,
        (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.ReadTimeoutError,
        ),
    )


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if len(text) > _MESSAGE_DETAIL_CHARS:
        text = text[:_MESSAGE_DETAIL_CHARS] + "..."
    inner = exc.args[0] if isinstance(exc, requests.RequestException) and exc.args else None
    if isinstance(exc, (requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError)) or isinstance(
        inner, urllib3.exceptions.ReadTimeoutError
    ):
        return f"timed out: {text}"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError)):
        return f"body truncated, the connection broke off mid-body: {text}"
    return f"{exc.__class__.__name__}: {text}"


def _backoff(options: FetchOptions, retry: int) -> float:
    base = options.backoff_s * 2 ** min(retry, 62)
    # Up to 10% jitter, so a fleet of nightly runs does not retry against a publisher in lockstep.
    return min(base + random.uniform(0, base * 0.1), options.max_backoff_s)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_detail(response: requests.Response) -> str:
    """The first words of an error body (APIs explain themselves there); read with a small cap."""
    body = bytearray()
    try:
        for chunk in response.iter_content(1024):
            body += chunk
            if len(body) >= 2048:
                break
    except (requests.RequestException, urllib3.exceptions.HTTPError):
        pass
    text = " ".join(body.decode("utf-8", errors="replace").split())
    if not text:
        return ""
    return ": " + (text[:200] + "..." if len(text) > 200 else text)


def _where(source_name: str, role: str) -> str:
    return f"source '{source_name}' ({role})"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
