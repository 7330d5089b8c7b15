"""A read-only HTTP server for the gate pages and the published versions of one data directory, so the
links in the Dagster UI (a failed check's `data_docs`, the publish step's report) open in the browser.

It serves <data dir>/gate_docs and <data dir>/published and nothing else: any other path, a `..` or
`.` segment, and a file that resolves (through a link) outside those two folders are refused. It binds
to 127.0.0.1 only; in production a reverse proxy in front of it serves the same paths under the URL
that TANKERWATCH_DOCS_BASE_URL names, and the links are built from that setting.

    python -m tankerwatch.docs_server [--data-dir DIR] [--port PORT]
"""

from __future__ import annotations

import argparse
import html
import http.server
import os
import urllib.parse
from functools import partial
from pathlib import Path

from tankerwatch.settings import resolve_data_paths

__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_PORT",
    "HOST",
    "PORT_ENV",
    "SERVED_DIRS",
    "docs_base_url",
    "docs_url",
    "make_server",
    "main",
]

HOST = "127.0.0.1"
DEFAULT_PORT = 3001  # beside dagster dev's 3000
PORT_ENV = "TANKERWATCH_DOCS_PORT"
BASE_URL_ENV = "TANKERWATCH_DOCS_BASE_URL"
SERVED_DIRS = ("gate_docs", "published")


def docs_port() -> int:
    """The port the server listens on: $TANKERWATCH_DOCS_PORT, else DEFAULT_PORT."""
    value = os.environ.get(PORT_ENV, "").strip()
    if not value:
        return DEFAULT_PORT
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise ValueError(f"{PORT_ENV}={value!r} is not a port number (1-65535)")
    return port


def docs_base_url() -> str:
    """Where the served folders are reachable: $TANKERWATCH_DOCS_BASE_URL, else this machine's server.

    Read on every call, not at import: Dagster's code server imports the definitions once, and the
    setting of the process that writes the links is the one that counts."""
    value = os.environ.get(BASE_URL_ENV, "").strip()
    if value:
        return value.rstrip("/")
    return f"http://{HOST}:{docs_port()}"


def docs_url(data_root: str | os.PathLike[str], path: str | os.PathLike[str]) -> str | None:
    """The URL of `path`, a file or folder under one of the served folders of `data_root`; None for any
    other path, which the server would refuse."""
    # Lexically, as the server reads a URL: a served folder may itself be a link to another disk.
    root = Path(os.path.abspath(data_root))
    try:
        relative = Path(os.path.abspath(path)).relative_to(root)
    except ValueError:
        return None
    if not relative.parts or relative.parts[0] not in SERVED_DIRS:
        return None
    return docs_base_url() + "/" + urllib.parse.quote(relative.as_posix())


class DocsHandler(http.server.SimpleHTTPRequestHandler):
    """GET and HEAD of files and folder listings under the served folders; nothing else."""

    server_version = "tankerwatch-docs"
    sys_version = ""

    def __init__(self, *args, data_root: Path, **kwargs) -> None:
        self.data_root = data_root
        super().__init__(*args, directory=str(data_root), **kwargs)

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        if self._refused():
            return
        if self._is_root():
            self._send_root(body=True)
            return
        super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802
        if self._refused():
            return
        if self._is_root():
            self._send_root(body=False)
            return
        super().do_HEAD()

    def end_headers(self) -> None:
        # Gate pages of a run are rewritten as its checks finish; a cached copy would hide a failure.
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        # Quiet by default: `make ui` runs it beside dagster dev, whose output matters more.
        if os.environ.get("TANKERWATCH_DOCS_LOG"):
            super().log_message(format, *args)

    def translate_path(self, path: str) -> str:
        resolved = self._resolve(path)
        if resolved is None:
            # do_GET and do_HEAD refuse such a path first; a name that cannot exist is the safe fallback.
            return str(self.data_root / "\x00refused")
        # SimpleHTTPRequestHandler redirects a folder without its final slash and lists one with it.
        return str(resolved) + ("/" if urllib.parse.urlsplit(path).path.endswith("/") else "")

    # --- the one rule of what may be served -------------------------------------------------

    def _segments(self, path: str) -> list[str] | None:
        raw = urllib.parse.urlsplit(path).path
        text = urllib.parse.unquote(raw, errors="strict") if "%" in raw else raw
        if "\x00" in text or "\\" in text:
            return None
        segments = [s for s in text.split("/") if s]
        if any(s in (".", "..") for s in segments):
            return None
        return segments

    def _resolve(self, path: str) -> Path | None:
        try:
            segments = self._segments(path)
        except UnicodeDecodeError:
            return None
        if not segments or segments[0] not in SERVED_DIRS:
            return None
        base = (self.data_root / segments[0]).resolve()
        target = self.data_root.joinpath(*segments).resolve()
        if target != base and base not in target.parents:
            return None  # a link inside a served folder that points elsewhere
        return target

    def _is_root(self) -> bool:
        return urllib.parse.urlsplit(self.path).path in ("", "/")

    def _refused(self) -> bool:
        if self._is_root():
            return False
        try:
            segments = self._segments(self.path)
        except UnicodeDecodeError:
            segments = None
        if segments is None:
            self.send_error(403, "path outside the served folders")
            return True
        if self._resolve(self.path) is None:
            self.send_error(404, "not a gate page or a published file")
            return True
        return False

    def _send_root(self, body: bool) -> None:
        links = "".join(f'<li><a href="{html.escape(name)}/">{html.escape(name)}/</a></li>' for name in SERVED_DIRS)
        page = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>tankerwatch</title></head>'
            f"<body><h1>tankerwatch</h1><ul>{links}</ul></body></html>\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        if body:
            self.wfile.write(page)


def make_server(data_root: str | os.PathLike[str], port: int | None = None) -> http.server.ThreadingHTTPServer:
    """A server for `data_root` bound to 127.0.0.1 (port 0 picks a free one); serve_forever() runs it."""
    root = Path(data_root).resolve()
    handler = partial(DocsHandler, data_root=root)
    return http.server.ThreadingHTTPServer((HOST, docs_port() if port is None else port), handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tankerwatch.docs_server",
        description="Serve <data dir>/gate_docs and <data dir>/published read-only on 127.0.0.1.",
    )
    parser.add_argument("--data-dir", help="data directory (default: $TANKERWATCH_DATA_DIR, else ./data)")
    parser.add_argument("--port", type=int, help=f"port (default: ${PORT_ENV}, else {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    root = resolve_data_paths(args.data_dir).root
    server = make_server(root, args.port)
    host, port = server.server_address[:2]
    print(f"tankerwatch docs: serving {root}/{{{','.join(SERVED_DIRS)}}} at http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
