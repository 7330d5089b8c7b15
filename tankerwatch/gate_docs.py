"""Static, self-contained HTML validation docs for gate results: one page per suite result
and one index page per run, under <data dir>/gate_docs/<run_id>/.

Rendered from GateResult alone (plus the suite file, to list the expectations that passed),
so both engines (GX on pandas and DuckDB SQL) get the same pages and nothing is re-validated.
Every value is HTML-escaped and the pages carry a Content-Security-Policy that forbids
scripts and any network fetch. Files are written to a temp file and renamed into place.

Pages live as long as the published versions they explain (`prune_gate_docs`, called where
versions are pruned): a run's folder stays while a kept version names that run in its manifest
(the run that wrote it, or a run whose gate result it rests on), and any other run's folder stays
while it is newer than the oldest kept version. So a failed run's pages are readable until every
version published before it has been pruned, and nothing of a run in progress is removed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import html
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tankerwatch import atomic
from tankerwatch.gates import ExpectationFailure, GateResult, to_jsonable
from tankerwatch.publish import MANIFEST_NAME, VERSIONS_NAME, list_versions

__all__ = [
    "GATE_DOCS_DIRNAME",
    "INDEX_FILE",
    "gate_docs_dir",
    "prune_gate_docs",
    "render_index",
    "render_result_page",
    "write_gate_docs",
    "write_gate_docs_safely",
]

GATE_DOCS_DIRNAME = "gate_docs"
INDEX_FILE = "index.html"
_SIDECAR_SUFFIX = ".result.json"
_VALUE_LIMIT = 2000  # characters of one rendered value; samples are already capped at 10

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border:1px solid #ccc;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
code{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
.pass{color:#116329;font-weight:bold}.fail{color:#b42318;font-weight:bold}.unknown{color:#8a6d00;font-weight:bold}
tr.failed{background:#fff4f2}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dt{font-weight:bold}dd{margin:0}
"""
# No scripts, no fonts, no images, no fetches: only the inline style above.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def gate_docs_dir(data_root: str | os.PathLike[str], run_id: str) -> Path:
    """The folder holding one run's pages."""
    return Path(data_root) / GATE_DOCS_DIRNAME / _slug(run_id)


def write_gate_docs(
    result: GateResult,
    data_root: str | os.PathLike[str],
    run_id: str,
    *,
    asset: str | None = None,
    suite_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the page for `result` and rebuild the run's index; return the page's path.

    Raises on any I/O problem; callers that must not fail use write_gate_docs_safely.
    """
    folder = gate_docs_dir(data_root, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _slug(f"{asset}__{result.suite_name}" if asset and asset != result.suite_name else result.suite_name)
    page = folder / f"{stem}.html"
    _write_atomic(page, render_result_page(result, suite_path=suite_path, run_id=run_id, asset=asset))
    entry = {
        "page": page.name,
        "asset": asset,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "result": result.to_dict(),
    }
    _write_atomic(folder / f"{stem}{_SIDECAR_SUFFIX}", json.dumps(entry, sort_keys=True))
    # Checks of one run may finish at the same time: rebuild the index under a lock so the
    # last writer has seen every sidecar written before it.
    with _locked(folder / ".index.lock"):
        entries = []
        for path in sorted(folder.glob(f"*{_SIDECAR_SUFFIX}")):
            try:
                entries.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # a page lost to a crash must not take the index down with it
        _write_atomic(folder / INDEX_FILE, render_index(entries, run_id))
    return page


def write_gate_docs_safely(
    result: GateResult,
    data_root: str | os.PathLike[str],
    run_id: str,
    *,
    asset: str | None = None,
    suite_path: str | os.PathLike[str] | None = None,
    log: Any = None,
) -> Path | None:
    """write_gate_docs that never raises: a warning is logged and None returned instead.

    The gate's verdict, not its docs, decides the run.
    """
    try:
        return write_gate_docs(result, data_root, run_id, asset=asset, suite_path=suite_path)
    except Exception as exc:  # noqa: BLE001 - docs are a convenience; the verdict stands
        (log or logging.getLogger(__name__)).warning(
            f"could not write gate docs for suite {result.suite_name!r}: {type(exc).__name__}: {exc}"
        )
        return None


def prune_gate_docs(
    data_root: str | os.PathLike[str], published_dir: str | os.PathLike[str] | None = None
) -> list[str]:
    """Delete the gate pages of runs no kept version rests on and older than the oldest kept version;
    return the run folders removed, sorted.

    Kept versions are the complete ones in `published_dir` (default <data_root>/published); the runs a
    version rests on are its manifest's run_id and the run of every check it lists. A run folder's age is
    its newest file's. With nothing published nothing is removed: there is no version to measure against.
    Never raises: a folder it cannot remove is left, and logged.
    """
    root = Path(data_root)
    folder = root / GATE_DOCS_DIRNAME
    published = Path(published_dir) if published_dir is not None else root / "published"
    try:
        return _prune(root, folder, published)
    except OSError as exc:
        # Pages are a convenience: a publish that happened is not undone because old ones stay.
        logging.getLogger(__name__).warning(f"could not prune gate docs in {folder}: {exc}")
        return []


def _prune(root: Path, folder: Path, published: Path) -> list[str]:
    if not folder.is_dir():
        return []
    kept_runs: set[str] = set()
    oldest: float | None = None
    for version in list_versions(published):
        manifest_path = published / VERSIONS_NAME / version / MANIFEST_NAME
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            created = _created_at(manifest, manifest_path)
        except (OSError, ValueError):
            # An unreadable manifest cannot say which runs it rests on: keep every page.
            return []
        runs = [manifest.get("run_id")] + [c.get("run_id") for c in manifest.get("checks") or [] if isinstance(c, dict)]
        kept_runs.update(gate_docs_dir(root, r).name for r in runs if isinstance(r, str) and r)
        oldest = created if oldest is None else min(oldest, created)
    if oldest is None:
        return []
    removed = []
    for run_folder in sorted(folder.iterdir()):
        if run_folder.name in kept_runs or run_folder.is_symlink() or not run_folder.is_dir():
            continue
        if _newest_mtime(run_folder) >= oldest:
            continue
        try:
            shutil.rmtree(run_folder)
        except OSError as exc:
            logging.getLogger(__name__).warning(f"could not prune gate docs {run_folder}: {exc}")
            continue
        removed.append(run_folder.name)
    return removed


def _created_at(manifest: dict[str, Any], path: Path) -> float:
    value = manifest.get("created_at")
    if isinstance(value, str):
        stamp = dt.datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return stamp.timestamp()
    return path.stat().st_mtime


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            newest = max(newest, path.lstat().st_mtime)
    return newest


# --- rendering ---------------------------------------------------------------------------


def render_result_page(
    result: GateResult,
    *,
    suite_path: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    asset: str | None = None,
) -> str:
    """One suite result as a self-contained HTML page (every value escaped)."""
    rows, note = _expectation_rows(result, suite_path)
    status = _status_span(result.success)
    facts = [
        ("Status", status),
        ("Suite", _e(result.suite_name)),
        ("Table", _e(result.table)),
        ("Asset", _e(asset) if asset else "—"),
        ("Stage", _e(result.stage) if result.stage else "—"),
        ("Engine", _e(result.engine)),
        ("Rows validated", _e("—" if result.rows is None else result.rows)),
        ("Scope", _e(result.scope)),
        ("Expectations", _e(f"{result.passed} of {result.evaluated} passed")),
        ("Run", _e(run_id) if run_id else "—"),
    ]
    body = [
        f"<h1>{status} {_e(result.suite_name)}</h1>",
        '<p><a href="index.html">All gates of this run</a></p>' if run_id else "",
        "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>",
        f"<p>{_e(note)}</p>" if note else "",
        "<table><thead><tr><th>#</th><th>Expectation</th><th>Column</th><th>Status</th>"
        "<th>Kwargs</th><th>Observed</th><th>Unexpected</th><th>Sample unexpected values / error</th>"
        "</tr></thead><tbody>",
        *rows,
        "</tbody></table>",
        *_failing_rows_sections(result),
    ]
    return _document(f"{'PASSED' if result.success else 'FAILED'} {result.suite_name}", body)


def _failing_rows_sections(result: GateResult) -> list[str]:
    """Per failed expectation, the rows of the table that violate it: their keys and lineage, then the
    values refused."""
    sections = []
    for f in result.failures:
        if not f.failing_rows:
            continue
        names = list(dict.fromkeys(name for row in f.failing_rows for name in row))
        head = "".join(f"<th>{_e(n)}</th>" for n in names)
        body = "".join(
            "<tr>" + "".join(f"<td>{_code(row.get(n))}</td>" for n in names) + "</tr>" for row in f.failing_rows
        )
        more = ""
        if f.unexpected_count is not None and f.unexpected_count > len(f.failing_rows):
            more = f" (the first {len(f.failing_rows)} of {f.unexpected_count})"
        sections.append(
            f"<h2>Failing rows: {_code_text(f.expectation_type)} {_e(_column_of(f.kwargs, f.column))}{_e(more)}</h2>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
    return sections


def render_index(entries: list[dict[str, Any]], run_id: str) -> str:
    """The run's index: every suite written so far, failing ones first."""
    entries = sorted(
        entries, key=lambda e: (bool(e["result"]["success"]), str(e.get("asset")), e["result"]["suite_name"])
    )
    failing = sum(1 for e in entries if not e["result"]["success"])
    rows = []
    for e in entries:
        r = e["result"]
        rows.append(
            f'<tr class="{"" if r["success"] else "failed"}">'
            f"<td>{_status_span(bool(r['success']))}</td>"
            f'<td><a href="{_e(e["page"])}">{_e(r["suite_name"])}</a></td>'
            f"<td>{_e(e.get('asset') or '—')}</td><td>{_e(r['table'])}</td><td>{_e(r.get('engine'))}</td>"
            f"<td>{_e('—' if r.get('rows') is None else r['rows'])}</td>"
            f"<td>{_e(r['passed'])} / {_e(r['evaluated'])}</td><td>{_e(e.get('written_at') or '')}</td></tr>"
        )
    body = [
        f"<h1>Gates of run {_e(run_id)}</h1>",
        f"<p>{_e(len(entries))} suite result(s), {_e(failing)} failing.</p>",
        "<table><thead><tr><th>Status</th><th>Suite</th><th>Asset</th><th>Table</th><th>Engine</th>"
        "<th>Rows</th><th>Passed</th><th>Written</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]
    return _document(f"Gates of run {run_id}", body)


def _expectation_rows(result: GateResult, suite_path: Any) -> tuple[list[str], str]:
    """Table rows for every expectation of the suite, failures matched to their entries."""
    entries = _suite_entries(suite_path)
    leftover = list(result.failures)
    rows: list[str] = []
    if entries is None:
        for i, f in enumerate(leftover, 1):
            rows.append(_failure_row(i, f))
        others = result.evaluated - len(result.failures)
        note = f"Suite file not available: the {max(others, 0)} other expectation(s) passed and are not listed."
        return rows, note
    matched: list[ExpectationFailure | None] = []
    for etype, kwargs in entries:
        hit = next((f for f in leftover if _matches(f, etype, kwargs)), None)
        if hit is not None:
            leftover.remove(hit)
        matched.append(hit)
    # A failure we cannot place (e.g. "GX evaluated 3 of 4 expectations") means the
    # unmatched entries cannot be called passed.
    unsure = bool(leftover)
    for i, ((etype, kwargs), hit) in enumerate(zip(entries, matched, strict=True), 1):
        if hit is not None:
            rows.append(_failure_row(i, hit))
        else:
            rows.append(_passed_row(i, etype, kwargs, unsure))
    for i, f in enumerate(leftover, len(entries) + 1):
        rows.append(_failure_row(i, f))
    note = "Observed values are recorded for failing expectations only." if entries else ""
    if unsure:
        note += " Some failures could not be matched to a suite entry; the other entries are marked as not confirmed."
    return rows, note.strip()


def _suite_entries(suite_path: Any) -> list[tuple[str, dict[str, Any]]] | None:
    if suite_path is None:
        return None
    try:
        spec = json.loads(Path(suite_path).read_text(encoding="utf-8"))
        entries = [(str(e["type"]), dict(e.get("kwargs") or {})) for e in spec["expectations"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return entries


def _matches(f: ExpectationFailure, etype: str, kwargs: dict[str, Any]) -> bool:
    if f.expectation_type != etype:
        return False
    return all(to_jsonable(v) == f.kwargs.get(k) for k, v in kwargs.items())


def _column_of(kwargs: dict[str, Any], column: str | None = None) -> str:
    if column:
        return column
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs and "column_B" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    if isinstance(kwargs.get("column_list"), list):
        return ", ".join(str(c) for c in kwargs["column_list"])
    return ""


def _failure_row(i: int, f: ExpectationFailure) -> str:
    if f.unexpected_count is None:
        unexpected = "—"
    elif f.unexpected_percent is None:
        unexpected = _e(f.unexpected_count)
    else:
        unexpected = _e(f"{f.unexpected_count} ({f.unexpected_percent:.3g}%)")
    if f.exception:
        detail = "error: " + _code(f.exception)
    elif f.sample_values:
        detail = "<ul>" + "".join(f"<li>{_code(v)}</li>" for v in f.sample_values) + "</ul>"
    else:
        detail = "—"
    observed = "—" if f.observed_value is None else _code(f.observed_value)
    return (
        f'<tr class="failed"><td>{i}</td><td>{_code_text(f.expectation_type)}</td>'
        f"<td>{_e(_column_of(f.kwargs, f.column))}</td><td>{_status_span(False)}</td>"
        f"<td>{_code(f.kwargs)}</td><td>{observed}</td><td>{unexpected}</td><td>{detail}</td></tr>"
    )


def _passed_row(i: int, etype: str, kwargs: dict[str, Any], unsure: bool) -> str:
    status = '<span class="unknown">NOT CONFIRMED</span>' if unsure else _status_span(True)
    return (
        f"<tr><td>{i}</td><td>{_code_text(etype)}</td><td>{_e(_column_of(kwargs))}</td><td>{status}</td>"
        f"<td>{_code(kwargs)}</td><td>—</td><td>{'—' if unsure else '0'}</td><td>—</td></tr>"
    )


def _status_span(success: bool) -> str:
    return '<span class="pass">PASSED</span>' if success else '<span class="fail">FAILED</span>'


def _document(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _code_text(text: str) -> str:
    return f"<code>{_e(text)}</code>"


def _code(value: Any) -> str:
    text = json.dumps(to_jsonable(value), ensure_ascii=False, default=str)
    if len(text) > _VALUE_LIMIT:
        text = text[: _VALUE_LIMIT - 1] + "…"
    return _code_text(text)


# --- files -------------------------------------------------------------------------------


def _slug(text: str) -> str:
    """A file-name-safe form of `text`; a hash suffix keeps altered names apart."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:120].lstrip(".") or "_"
    if safe != text:
        safe += "-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return safe


def _write_atomic(path: Path, text: str) -> None:
    # Gate documents are rewritten by the next run, so they skip the flushes to disk.
    atomic.write_text(path, text, mode=0o644, durable=False)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
