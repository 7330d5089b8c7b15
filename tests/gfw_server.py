"""A fake Global Fishing Watch API v3 on 127.0.0.1: checks the Bearer token, pages as the real one does, records requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, Any, dict[str, str]]  # status, JSON payload, extra headers


@dataclass
class Recorded:
    method: str
    path: str
    target: str  # path and query string, as the client sent them
    params: dict[str, str]
    authorization: str | None
    content_type: str | None
    body: Any


@dataclass
class FakeGfw:
    """What the fake answers.

    ``vessel_pages`` maps a search query to its pages of entries; page N>1 is
    reached with the ``since`` cursor page N-1 handed out. ``events`` is served
    by ``offset``/``limit`` with ``nextOffset`` null on the last page.
    ``endless_events`` makes the events list never end, as a broken server might;
    ``fail_once_at_offset`` answers 503 with Retry-After 7 the first time that page is asked for.
    """

    token: str
    vessel_pages: dict[str, list[list[dict]]] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    endless_events: bool = False
    fail_once_at_offset: int | None = None
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, target: str, headers, body: bytes) -> Answer:
        parts = urlsplit(target)
        params = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        decoded = json.loads(body) if body else None
        with self.lock:
            self.requests.append(
                Recorded(
                    method, parts.path, target, params, headers.get("Authorization"), headers.get("Content-Type"), decoded
                )
            )
        if headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "Unauthorized", "Invalid token")
        if method == "GET" and parts.path == "/v3/vessels/search":
            return self._search(params)
        if method == "POST" and parts.path == "/v3/events":
            return self._events(params, decoded)
        return _error(404, "Not Found", parts.path)

    def _search(self, params: dict[str, str]) -> Answer:
        query = params.get("query", "")
        pages = self.vessel_pages.get(query, [[]])
        since = params.get("since")
        index = int(since.rsplit("-", 1)[1]) if since else 0
        entries = pages[index]
        next_since = f"cursor-{query}-{index + 1}" if index + 1 < len(pages) else None
        total = sum(len(page) for page in pages)
        return 200, {
            "total": total,
            "limit": int(params.get("limit", 20)),
            "since": next_since,
            "metadata": {"query": query, "normalizedQuery": query, "didYouMean": {}},
            "entries": entries,
        }, {}

    def _events(self, params: dict[str, str], body: Any) -> Answer:
        if not isinstance(body, dict) or "startDate" not in body:
            return _error(422, "Unprocessable Entity", "startDate is required")
        limit, offset = int(params["limit"]), int(params["offset"])
        if offset == self.fail_once_at_offset:
            self.fail_once_at_offset = None
            return _error(503, "Service Unavailable", "try again", {"Retry-After": "7"})
        if self.endless_events:
            entries = [dict(self.events[0], id=f"endless-{offset + i}") for i in range(limit)]
            return 200, {
                "metadata": {}, "entries": entries, "limit": limit, "offset": offset, "nextOffset": offset + limit, "total": None
            }, {}
        entries = self.events[offset : offset + limit]
        more = offset + limit < len(self.events)
        return 200, {
            "metadata": {},
            "entries": entries,
            "limit": limit,
            "offset": offset,
            "nextOffset": offset + limit if more else None,
            "total": len(self.events),
        }, {}


def _error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> Answer:
    """The gateway's error shape: status, error and a list of messages."""
    return status, {"statusCode": status, "error": error, "messages": [{"title": error, "detail": detail}]}, headers or {}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGfw

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        status, payload, headers = self.fake.answer(method, self.path, self.headers, self.rfile.read(length) if length else b"")
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")


@contextmanager
def serve_gfw(fake: FakeGfw) -> Iterator[str]:
    """Serve ``fake`` on an ephemeral port of 127.0.0.1; yields the base URL, ending in ``/v3/``."""
    handler = type("GfwHandler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll keeps shutdown (once per test) from costing half a second.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v3/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
