"""The docs server: gate pages and published files, read-only, from 127.0.0.1, nothing outside them."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time

import pytest

from tankerwatch import docs_server, gate_docs, gates


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / "data"
    result = gates.GateResult(suite_name="voyages", table="voyages", success=False, evaluated=2, passed=1)
    gate_docs.write_gate_docs(result, root, "run-1", asset="voyages")
    version = root / "published" / "versions" / "v1"
    version.mkdir(parents=True)
    (version / "report.html").write_text("<html><body>43 voyages</body></html>", encoding="utf-8")
    (version / "manifest.json").write_text('{"run_id": "run-1"}', encoding="utf-8")
    os.symlink("versions/v1", root / "published" / "current")
    (root / "warehouse.duckdb").write_bytes(b"not for the web")
    (tmp_path / "secret.txt").write_text("outside the data directory", encoding="utf-8")
    # A link inside a served folder that points out of it.
    os.symlink(tmp_path / "secret.txt", root / "gate_docs" / "run-1" / "escape.html")
    return root


@pytest.fixture
def server(data_root):
    httpd = docs_server.make_server(data_root, port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def request(server, path, method="GET"):
    """A raw request: http.client sends the path as given, `..` and all, as an attacker would."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), response.msg
    finally:
        conn.close()


def test_binds_to_loopback_only(server):
    assert server.server_address[0] == "127.0.0.1"


def test_serves_a_gate_page_and_the_run_index(server):
    status, body, headers = request(server, "/gate_docs/run-1/voyages.html")
    assert status == 200 and "FAILED" in body and "voyages" in body
    assert headers["Content-Type"].startswith("text/html")
    status, body, _ = request(server, "/gate_docs/run-1/index.html")
    assert status == 200 and 'href="voyages.html"' in body


def test_serves_the_report_of_a_version_and_of_current(server, data_root):
    (data_root / "published" / "versions" / "v1" / "odd name#1.html").write_text("odd", encoding="utf-8")
    assert request(server, "/published/versions/v1/odd%20name%231.html")[:2] == (200, "odd")
    for path in ("/published/versions/v1/report.html", "/published/current/report.html"):
        status, body, _ = request(server, path)
        assert (status, body) == (200, "<html><body>43 voyages</body></html>"), path


@pytest.mark.parametrize(
    "path",
    [
        "/gate_docs/../warehouse.duckdb",
        "/gate_docs/%2e%2e/warehouse.duckdb",
        "/published/../../secret.txt",
        "/gate_docs/run-1/%2E%2E/%2E%2E/warehouse.duckdb",
        "/gate_docs/./run-1/voyages.html",
        "/gate_docs/run-1/..%2f..%2fwarehouse.duckdb",
        "/gate_docs\\..\\warehouse.duckdb",
        "/gate_docs/%00/x",
    ],
)
def test_refuses_dot_dot_escapes(server, path):
    status, body, _ = request(server, path)
    assert status == 403 and "not for the web" not in body and "outside the data directory" not in body


@pytest.mark.parametrize(
    "path", ["/warehouse.duckdb", "/landing/", "/gate_docs_x/voyages.html", "/gate_docs/run-1/escape.html"]
)
def test_refuses_paths_outside_the_served_folders(server, path):
    status, body, _ = request(server, path)
    assert status == 404 and "not for the web" not in body and "outside the data directory" not in body


def test_is_read_only(server):
    for method in ("PUT", "POST", "DELETE"):
        status, _, _ = request(server, "/gate_docs/run-1/voyages.html", method=method)
        assert status == 501, method
    assert (server.RequestHandlerClass.keywords["data_root"] / "gate_docs" / "run-1" / "voyages.html").is_file()


def test_root_lists_only_the_served_folders(server):
    status, body, _ = request(server, "/")
    assert status == 200 and 'href="gate_docs/"' in body and 'href="published/"' in body
    assert "warehouse" not in body


def test_links_use_the_base_url_read_at_call_time(data_root, monkeypatch):
    page = data_root / "gate_docs" / "run-1" / "voyages.html"
    monkeypatch.delenv(docs_server.BASE_URL_ENV, raising=False)
    monkeypatch.delenv(docs_server.PORT_ENV, raising=False)
    assert docs_server.docs_url(data_root, page) == "http://127.0.0.1:3001/gate_docs/run-1/voyages.html"
    monkeypatch.setenv(docs_server.BASE_URL_ENV, "https://tankerwatch.example.org/docs/")
    report = data_root / "published" / "versions" / "v1" / "report.html"
    assert docs_server.docs_url(data_root, report) == (
        "https://tankerwatch.example.org/docs/published/versions/v1/report.html"
    )
    odd = data_root / "published" / "versions" / "v1" / "odd name#1.html"
    assert docs_server.docs_url(data_root, odd) == (
        "https://tankerwatch.example.org/docs/published/versions/v1/odd%20name%231.html"
    )
    # What the server would refuse gets no link.
    assert docs_server.docs_url(data_root, data_root / "warehouse.duckdb") is None
    assert docs_server.docs_url(data_root, data_root.parent / "secret.txt") is None


def test_bad_port_setting_is_named(monkeypatch):
    monkeypatch.setenv(docs_server.PORT_ENV, "http")
    with pytest.raises(ValueError, match="TANKERWATCH_DOCS_PORT='http'"):
        docs_server.docs_port()


def test_module_entry_point_serves_a_data_dir(data_root, tmp_path):
    with socket_port() as port:
        pass
    proc = subprocess.Popen(
        [sys.executable, "-m", "tankerwatch.docs_server", "--data-dir", str(data_root), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/published/current/report.html")
                response = conn.getresponse()
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status == 200 and b"43 voyages" in response.read()
        conn.close()
    finally:
        proc.terminate()
        proc.wait(10)


class socket_port:
    """A free loopback port (released on exit, for a child process to bind)."""

    def __enter__(self):
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()
