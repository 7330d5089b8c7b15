"""Local HTTP servers on 127.0.0.1 for tests of the fetch path: a folder server, and a scriptable fault server."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        if self.path.startswith("/fault/empty"):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/fault/truncated"):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only a little")
            return
        super().do_GET()


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on an ephemeral port of 127.0.0.1; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Reply:
    """One scripted answer of the fault server."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Content-Length: "auto" is the true length; None sends none (the body ends when the connection
    # closes); a number larger than what is sent makes a body cut mid-way.
    length: int | str | None = "auto"
    filler: int = 0  # this many b"x" streamed after body: a large body never built in memory
    delay_s: float = 0.0  # wait before the status line: a server that hangs
    stall_s: float = 0.0  # wait after the first half of the body: a body that hangs mid-way
    drip_s: float = 0.0  # send the body one byte at a time, this long apart: a server that never times out
    drip_headers_s: float = 0.0  # the same for the status line and headers
    keep_alive: bool = False  # answer HTTP/1.1 and keep the connection open after the body
    location: str | None = None  # a Location header; "{base}" is replaced by the server's base URL


@dataclass(frozen=True)
class Seen:
    """One request as the fault server received it, with the status it answered."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int = 0


class FaultServer:
    """What each path answers, set by the test; records every request it saw."""

    def __init__(self) -> None:
        self.base_url = ""
        self.seen: list[Seen] = []
        self.release = threading.Event()  # set at shutdown: wakes handlers that hang
        self._routes: dict[str, list[Reply] | Callable[[Seen], Reply]] = {}
        self._lock = threading.Lock()

    def script(self, path: str, *replies: Reply) -> None:
        """Answer ``path`` with these replies in turn; the last one repeats forever."""
        self._routes[path] = list(replies)

    def route(self, path: str, answer: Callable[[Seen], Reply]) -> None:
        """Answer ``path`` with whatever ``answer`` makes of each request."""
        self._routes[path] = answer

    def url(self, path: str) -> str:
        return self.base_url + path

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if urlsplit(s.path).path == path]

    def _answer(self, request: Seen) -> Reply:
        with self._lock:
            route = self._routes.get(urlsplit(request.path).path)
            if route is None:
                reply = Reply(404, b"no such path\n")
            elif callable(route):
                reply = route(request)
            else:
                reply = route.pop(0) if len(route) > 1 else route[0]
            self.seen.append(replace(request, status=reply.status))
        return reply


class _ScriptedHandler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _serve(self):
        fault: FaultServer = self.server.fault  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = fault._answer(Seen(self.command, self.path, headers, body))
        if reply.delay_s and fault.release.wait(reply.delay_s):
            return
        if reply.keep_alive:
            self.protocol_version = "HTTP/1.1"
        try:
            if reply.drip_headers_s:
                # Buffer the head, then let it out byte by byte.
                self.wfile, real = _Collect(), self.wfile
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.location is not None:
                self.send_header("Location", reply.location.replace("{base}", fault.base_url))
            if reply.length == "auto":
                self.send_header("Content-Length", str(len(reply.body) + reply.filler))
            elif reply.length is not None:
                self.send_header("Content-Length", str(reply.length))
            self.end_headers()
            if reply.drip_headers_s:
                head, self.wfile = bytes(self.wfile.data), real
                for i in range(len(head)):
                    self.wfile.write(head[i:i + 1])
                    self.wfile.flush()
                    if fault.release.wait(reply.drip_headers_s):
                        return
            self.close_connection = not reply.keep_alive
            if self.command == "HEAD":
                return
            if reply.drip_s:
                for i in range(len(reply.body)):
                    self.wfile.write(reply.body[i:i + 1])
                    self.wfile.flush()
                    if fault.release.wait(reply.drip_s):
                        return
                return
            half = len(reply.body) // 2 if reply.stall_s else len(reply.body)
            self.wfile.write(reply.body[:half])
            if reply.stall_s and fault.release.wait(reply.stall_s):
                return
            self.wfile.write(reply.body[half:])
            left = reply.filler
            while left > 0:
                step = min(left, 64 * 1024)
                self.wfile.write(b"x" * step)
                left -= step
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (a timeout, a size cap): that is the point of the test

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class _Collect:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def flush(self) -> None:
        pass


@contextmanager
def serve_script(tls: tuple[Path, Path] | None = None) -> Iterator[FaultServer]:
    """A scriptable fault server on an ephemeral port of 127.0.0.1; yields it with ``base_url`` set.
    With ``tls`` (a certificate and its key, PEM) it speaks https."""
    fault = FaultServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedHandler)
    server.fault = fault  # type: ignore[attr-defined]
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    fault.base_url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fault
    finally:
        fault.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
