"""Client for the Global Fishing Watch API v3: vessel identity search and port-visit events, landed as JSONL."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlencode, urljoin, urlparse

from tankerwatch.errors import FetchError
from tankerwatch.fetch import Fetcher, FetchOptions, Snapshot

DEFAULT_BASE_URL = "https://gateway.api.globalfishingwatch.org/v3/"
DEFAULT_TOKEN_ENV = "GFW_API_ACCESS_TOKEN"
VESSEL_IDENTITY_DATASET = "public-global-vessel-identity:latest"
PORT_VISITS_DATASET = "public-global-port-visits-events:latest"
DEFAULT_MAX_PAGES = 1000
# gfwr (GFW's R client) pages vessels/search 50 at a time; the API's default is 20.
VESSEL_SEARCH_PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 1000
LANDED_SUFFIX = ".jsonl"

Log = Callable[[str], None]

_logger = logging.getLogger(__name__)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# GFW tokens are JWTs; anything with whitespace or control characters would make
# requests raise an InvalidHeader error that quotes the header value, token included.
_TOKEN_SHAPE = re.compile(r"[\x21-\x7e]+")


def fetch_vessels(
    fetcher: Fetcher,
    source_name: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    token: str | None,
    queries: Sequence[str],
    datasets: Sequence[str] = (VESSEL_IDENTITY_DATASET,),
    options: FetchOptions = FetchOptions(),
    token_env: str = DEFAULT_TOKEN_ENV,
    page_size: int = VESSEL_SEARCH_PAGE_SIZE,
    max_pages: int = DEFAULT_MAX_PAGES,
    role: str = "url",
    log: Log | None = None,
) -> Snapshot:
    """Search each IMO or MMSI in ``queries`` and land every vessel entry as ``{"query": q, "entry": {...}}`` lines.

    vessels/search pages with an opaque ``since`` cursor: each answer carries the
    cursor for the next page, null on the last one.
    """
    where = f"source '{source_name}' (GFW vessels)"
    headers = _auth_headers(token, token_env, where)
    endpoint = _endpoint(base_url, "vessels/search", options, where)
    queries = [str(q).strip() for q in queries]
    if not queries or any(not q for q in queries):
        raise FetchError(f"{where}: give at least one IMO or MMSI to search for, and no empty ones")
    if not datasets:
        raise FetchError(f"{where}: give at least one vessel identity dataset")
    _check_page_settings(page_size, max_pages, where)
    say = log or _logger.info

    def lines() -> Iterator[bytes]:
        for query in queries:
            base_params = {"query": query, **{f"datasets[{i}]": d for i, d in enumerate(datasets)}, "limit": page_size}
            since: str | None = None
            seen_cursors: set[str] = set()
            for page in range(1, max_pages + 1):
                params = dict(base_params) if since is None else {**base_params, "since": since}
                page_where = f"{where}: search {query!r} page {page}"
                body = _json_call(
                    fetcher, "GET", endpoint, page_where, options, headers, token, token_env, params=params
                )
                entries = _entries(body, page_where)
                say(f"{page_where}: {len(entries)} vessel entries")
                for entry in entries:
                    yield _jsonl({"query": query, "entry": entry})
                since = body.get("since")
                if not since or not entries:
                    break
                if since in seen_cursors:
                    raise FetchError(f"{page_where}: the API handed back a 'since' cursor it had already given")
                seen_cursors.add(since)
            else:
                raise FetchError(f"{where}: search {query!r} still had more pages after {max_pages}; raise max_pages")

    # The snapshot's URL says what was asked (and keys the fetch layer's last-good state), without paging.
    asked = "&".join([*(f"datasets[{i}]={d}" for i, d in enumerate(datasets)), "query=" + ",".join(queries)])
    return _land(fetcher, source_name, role, lines(), f"{endpoint}?{asked}", token, options)


def fetch_port_visits(
    fetcher: Fetcher,
    source_name: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    token: str | None,
    start_date: date | str,
    end_date: date | str,
    vessel_ids: Sequence[str] | None = None,
    region: Mapping[str, Any] | None = None,
    confidences: Sequence[str] = ("2", "3", "4"),
    dataset: str = PORT_VISITS_DATASET,
    page_size: int = EVENTS_PAGE_SIZE,
    max_pages: int = DEFAULT_MAX_PAGES,
    options: FetchOptions = FetchOptions(),
    token_env: str = DEFAULT_TOKEN_ENV,
    role: str = "url",
    log: Log | None = None,
) -> Snapshot:
    """List port-visit events from ``start_date`` (inclusive) to ``end_date`` (exclusive); land one event a line.

    The events list pages by offset: each answer carries ``nextOffset``, null on
    the last page. Events are de-duplicated by id, since offset paging over data
    that changes between requests can serve an event twice.
    """
    where = f"source '{source_name}' (GFW port visits)"
    headers = _auth_headers(token, token_env, where)
    endpoint = _endpoint(base_url, "events", options, where)
    _check_page_settings(page_size, max_pages, where)
    body = _port_visits_body(start_date, end_date, vessel_ids, region, confidences, dataset, where)
    say = log or _logger.info

    def lines() -> Iterator[bytes]:
        offset = 0
        seen_ids: set[str] = set()
        for page in range(1, max_pages + 1):
            page_where = f"{where}: events page {page} (offset {offset})"
            # A fixed sort keeps offset pages from shuffling between requests.
            params = {"limit": page_size, "offset": offset, "sort": "+start"}
            answer = _json_call(
                fetcher, "POST", endpoint, page_where, options, headers, token, token_env, params=params, payload=body
            )
            entries = _entries(answer, page_where)
            fresh = 0
            for event in entries:
                event_id = event.get("id") if isinstance(event, dict) else None
                if isinstance(event_id, str):
                    if event_id in seen_ids:
                        continue
                    seen_ids.add(event_id)
                fresh += 1
                yield _jsonl(event)
            say(f"{page_where}: {len(entries)} events, {len(entries) - fresh} already landed")
            next_offset = answer.get("nextOffset")
            total = answer.get("total")
            if next_offset is None or not entries:
                return
            if not isinstance(next_offset, int) or isinstance(next_offset, bool) or next_offset <= offset:
                raise FetchError(f"{page_where}: nextOffset {next_offset!r} does not move forward")
            # Older API answers ended with nextOffset == total instead of null.
            if isinstance(total, int) and next_offset >= total:
                return
            offset = next_offset
        raise FetchError(f"{where}: still had more pages after {max_pages}; raise max_pages or narrow the dates")

    # A POST body is no part of a URL: the fragment names the request (dates, and a digest of the whole body).
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    asked = urlencode({"startDate": body["startDate"], "endDate": body["endDate"], "body-sha256": digest})
    return _land(fetcher, source_name, role, lines(), f"{endpoint}#{asked}", token, options)


def _port_visits_body(
    start_date: date | str,
    end_date: date | str,
    vessel_ids: Sequence[str] | None,
    region: Mapping[str, Any] | None,
    confidences: Sequence[str],
    dataset: str,
    where: str,
) -> dict[str, Any]:
    start, end = _iso_date(start_date, "start_date", where), _iso_date(end_date, "end_date", where)
    if end <= start:
        raise FetchError(f"{where}: end_date {end} must be after start_date {start} (the API treats it as exclusive)")
    body: dict[str, Any] = {
        "datasets": [dataset],
        "types": ["PORT_VISIT"],
        "startDate": start,
        "endDate": end,
        # The API wants confidences as strings; 1 is never published.
        "confidences": [str(c) for c in confidences],
    }
    if vessel_ids:
        body["vessels"] = [str(v) for v in vessel_ids]
    if region is not None:
        if not {"dataset", "id"} <= set(region):
            raise FetchError(f"{where}: region needs 'dataset' and 'id' (e.g. public-eez-areas and an EEZ id)")
        body["region"] = dict(region)
    return body


def _auth_headers(token: str | None, token_env: str, where: str) -> dict[str, str]:
    value = (token or "").strip()
    if not value:
        raise FetchError(f"{where}: no GFW API token: set the environment variable {token_env}")
    if not _TOKEN_SHAPE.fullmatch(value):
        raise FetchError(f"{where}: the GFW API token in {token_env} has spaces or control characters inside it")
    return {"Authorization": f"Bearer {value}", "Accept": "application/json"}


def _endpoint(base_url: str, path: str, options: FetchOptions, where: str) -> str:
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise FetchError(f"{where}: base URL {base_url!r} is not an http(s) URL")
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise FetchError(f"{where}: base URL must not carry a query, fragment or credentials")
    # Checked here as well as in the fetch layer so a bad setting fails before any page, and is never
    # mistaken for a failed download (on_fetch_error: reuse_last_good). Loopback is allowed as it is there.
    if parsed.scheme == "http" and not options.allow_insecure_http and not _is_loopback(parsed.hostname or ""):
        raise FetchError(f"{where}: refusing to send the API token over plain http to {parsed.hostname}")
    return urljoin(base_url if base_url.endswith("/") else base_url + "/", path)


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_page_settings(page_size: int, max_pages: int, where: str) -> None:
    if page_size < 1 or max_pages < 1:
        raise FetchError(f"{where}: page_size and max_pages must be at least 1")


def _iso_date(value: date | str, name: str, where: str) -> str:
    text = value.isoformat() if isinstance(value, date) else str(value)
    if not _ISO_DATE.fullmatch(text):
        raise FetchError(f"{where}: {name} {text!r} is not a YYYY-MM-DD date")
    try:
        date.fromisoformat(text)
    except ValueError as exc:
        raise FetchError(f"{where}: {name} {text!r} is not a calendar date") from exc
    return text


def _json_call(
    fetcher: Fetcher,
    method: str,
    url: str,
    where: str,
    options: FetchOptions,
    headers: dict[str, str],
    token: str | None,
    token_env: str,
    *,
    params: dict[str, Any],
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One API call through the fetch layer (which raises FetchError on anything but 2xx); the answer's JSON object."""
    try:
        response = fetcher.send(method, url, where=where, options=options, params=params, json=payload, headers=headers)
    except FetchError as exc:
        message, transient = _scrub(str(exc), token), exc.transient
        if re.search(r"HTTP 40[13]\b", message):
            message += f" (check the GFW API token in {token_env})"
    else:
        try:
            body = response.json()
        except ValueError as exc:
            raise FetchError(f"{where}: {method} {url} did not answer JSON: {exc}") from None
        if not isinstance(body, dict):
            raise FetchError(f"{where}: {method} {url} answered a JSON {type(body).__name__}, not an object")
        return body
    # Raised outside the handler so the unscrubbed original does not ride along as __context__. A publisher
    # that kept answering 429/5xx stays transient, so the ingest step asks Dagster for a later retry.
    raise FetchError(message, transient=transient)


def _entries(body: dict[str, Any], where: str) -> list[Any]:
    entries = body.get("entries")
    if not isinstance(entries, list):
        raise FetchError(f"{where}: the answer has no 'entries' list (keys: {sorted(body)[:10]})")
    return entries


def _jsonl(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _land(
    fetcher: Fetcher,
    source_name: str,
    role: str,
    chunks: Iterable[bytes],
    url: str,
    token: str | None,
    options: FetchOptions,
) -> Snapshot:
    """Land the pages as they arrive; a page that fails mid-way is handled by ``options.on_fetch_error``."""
    try:
        return fetcher.land_bytes(source_name, role, chunks, url=url, suffix=LANDED_SUFFIX, options=options)
    except FetchError as exc:
        message, transient = _scrub(str(exc), token), exc.transient
    raise FetchError(message, transient=transient)


def _scrub(text: str, token: str | None) -> str:
    """Belt and braces: whatever a server or library echoed, the token never leaves in a message."""
    value = (token or "").strip()
    return text.replace(value, "***") if value else text
