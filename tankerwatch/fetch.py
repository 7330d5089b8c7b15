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
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit, urlunsplit

import requests
import urllib3

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
_SECRET_PARAM = re.compile(r"(key|token|secret|password|passwd|signature|sig|auth)", re.IGNORECASE)
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
    max_bytes: int = 2 * 1024**3
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
        for name in ("connect_timeout_s", "read_timeout_s"):
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
            _check_complete(response, declared)
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
                finish=lambda: _check_complete(response, declared),
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
        """Send until ``handle`` accepts an answer: retries on connection errors, timeouts, 429 and 5xx."""
        shown = _display_url(url)
        attempts = options.retries + 1
        request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        guard = _redirect_guard(where, options)
        problem = "no attempt made"
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
                if not _transient(exc):
                    fatal = problem
            else:
                try:
                    with response:
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
                            return handle(response, attempt)
                except _Retryable as exc:
                    problem = str(exc)
                except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                    problem = _describe(exc)
                    if not _transient(exc):
                        fatal = problem
            if fatal is not None:
                raise FetchError(_scrub(f"{where}: {method} {shown} failed on attempt {attempt}: {fatal}", secrets))
            if attempt < attempts:
                delay = retry_after if retry_after is not None else _backoff(options, attempt - 1)
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
                    os.replace(part.path, final)
                    _fsync_dir(role_dir)
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
        role_dir.mkdir(parents=True, exist_ok=True)
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
    fd, tmp_name = tempfile.mkstemp(prefix=".landing-", suffix=".part", dir=role_dir)
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


def _check_complete(response: requests.Response, declared: int | None) -> None:
    # urllib3 2 already raises IncompleteRead on a short body; counting the wire bytes (tell(), before any
    # Content-Encoding is undone) against Content-Length also catches a pool or adapter that does not.
    received = getattr(response.raw, "tell", lambda: None)()
    if declared is not None and isinstance(received, int) and received != declared:
        raise _Retryable(f"body truncated: {received:,} of the {declared:,} bytes announced arrived")


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


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder entry is; not every platform lets a folder be opened.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
        fd, tmp_name = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as sink:
                sink.write(text)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)


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
            raise FetchError(f"{where}: file:// URLs must name a local file, not one on {parts.netloc!r}: {url}")
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


def _redirect_guard(where: str, options: FetchOptions) -> Callable[..., requests.Response]:
    # A response hook runs before requests follows a redirect, so an https URL that redirects to plain
    # http (or to anything else refused) is stopped before any connection to the new target.
    def guard(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.is_redirect:
            target = urljoin(response.url, response.headers.get("Location", ""))
            try:
                _check_remote_url(target, where, options, redirected_from=response.url)
            except FetchError:
                response.close()
                raise
        return response

    return guard


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
    """The URL for messages: a password in it, and query values that look like keys or tokens, become ***."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
        query = parts.query
        if query and _SECRET_PARAM.search(query):
            query = "&".join(
                f"{name}=***" if _SECRET_PARAM.search(name) else f"{name}={value}"
                for name, value in parse_qsl(query, keep_blank_values=True)
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<an unparseable URL>"


def _secrets(url: str, headers: dict[str, str] | None = None, params: Any = None) -> list[str]:
    """Strings no message may carry: Authorization values (and their token part), URL passwords, key-like params."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        if parts.password:
            found += [parts.password, unquote(parts.password)]
        found += [value for name, value in parse_qsl(parts.query) if _SECRET_PARAM.search(name)]
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
        found += [str(v) for k, v in params.items() if _SECRET_PARAM.search(str(k)) and v is not None]
    # Very short values would blank out ordinary words; no real credential is that short.
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def _scrub(text: str, secrets: Collection[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


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
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


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
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
