"""Incremental models: recompute only what the days loaded or removed since the last build can change.

A model with `-- materialized: incremental` has a companion file sql/incremental/<model>.sql of
named statements (`-- name: ...`):

- snapshot_times: per snapshot id in $snapshot_ids, the earliest time its rows can affect (null for a
                  snapshot that cannot affect the model);
- inputs:         a fingerprint of every other input; when it changes, the model is rebuilt whole;
- delete:         deletes the stored rows that will be computed again;
- resume_table:   (optional) declares the temp table <model>__resume, which the model's select reads to
                  know where to resume (empty on a full build); its `resume_at` column is where each
                  resumed part starts;
- resume:         (optional) fills the resume table from $window_from.

A statement whose body is `-- same as <model>` is that model's statement of the same name.

The resume and delete statements and the model's select may read $changed_snapshots, the snapshots
loaded or removed since the last build: a model whose rows each come from one snapshot replaces just
those snapshots' rows and needs no resume table. The select also takes $rebuild_all and $recompute_from
(the earliest time it must read). Which snapshots a build saw, and with which fingerprint, is kept in
`incremental_snapshots` and `incremental_builds`, so a re-run with nothing new costs no more than a few
small queries. Each build also widens `unvalidated_from`, the earliest row rewritten since the model's
last passing gate, which is what that gate validates (tankerwatch/gate_windows.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from tankerwatch.settings import SQL_DIR
from tankerwatch.warehouse import MACROS_FILE, fetch_all, identifier

INCREMENTAL_DIR = SQL_DIR / "incremental"
STATEMENTS = ("snapshot_times", "inputs", "delete")
OPTIONAL_STATEMENTS = ("resume_table", "resume")
FULL_BUILD = "-infinity"

_NAME_LINE = re.compile(r"^-- name: ([a-z_]+)\s*$", re.MULTILINE)
_SAME_AS = re.compile(r"^-- same as ([a-z_]+)$")
_PARAMETER = re.compile(r"\$([a-z_]+)")
_COMMENT_LINE = re.compile(r"^\s*--.*$", re.MULTILINE)


@dataclass(frozen=True)
class IncrementalBuild:
    mode: str  # "full", "incremental" or "unchanged"
    window_from: datetime | None = None


def companion_path(model_name: str) -> Path:
    return INCREMENTAL_DIR / f"{model_name}.sql"


def read_statements(model_name: str) -> dict[str, str]:
    """The named statements of the model's companion file: every one of STATEMENTS, and either both or
    neither of OPTIONAL_STATEMENTS."""
    path = companion_path(model_name)
    if not path.exists():
        raise ValueError(f"{model_name} is materialized incrementally but {path} does not exist")
    text = path.read_text(encoding="utf-8")
    parts = _NAME_LINE.split(text)
    statements = {name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    for name, body in statements.items():
        # `-- same as <model>`: the statement of that name in the other model's companion
        if (same := _SAME_AS.match(body)) and same.group(1) != model_name:
            statements[name] = read_statements(same.group(1))[name]
    missing = [name for name in STATEMENTS if name not in statements]
    if len([name for name in OPTIONAL_STATEMENTS if name in statements]) == 1:
        missing += [name for name in OPTIONAL_STATEMENTS if name not in statements]
    if missing:
        raise ValueError(f"{path}: missing statements {missing} (each begins with a '-- name: <statement>' line)")
    return statements


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[tuple]:
    """Run one statement with the named parameters it uses (DuckDB refuses unused ones); a header
    comment may name others (the model's gate window)."""
    used = {name: params[name] for name in set(_PARAMETER.findall(_COMMENT_LINE.sub("", sql)))}
    return con.execute(sql, used).fetchall()


def build_incremental(
    con: duckdb.DuckDBPyConnection, name: str, select: str, reads: Sequence[str]
) -> IncrementalBuild:
    """Bring table `name` up to date from its select, inside the caller's transaction."""
    statements = read_statements(name)
    table = identifier(name)
    resumes = "resume_table" in statements
    if resumes:
        _execute(con, statements["resume_table"], {})
    fingerprint = _fingerprint(con, select, statements, reads)
    loaded = fetch_all(con, "select distinct snapshot_id from raw_source_snapshots")
    snapshots = {snapshot_id for (snapshot_id,) in loaded}
    stored = fetch_all(
        con, "select inputs_fingerprint, unvalidated_from::varchar from incremental_builds where model = ?", [name]
    )
    exists = fetch_all(
        con, "select count(*) from information_schema.tables where table_name = ? and table_type = 'BASE TABLE'", [name]
    )[0][0]
    if not exists or not stored or stored[0][0] != fingerprint:
        _execute(
            con,
            f"create or replace table {table} as\n{select}",
            {"rebuild_all": True, "recompute_from": FULL_BUILD, "changed_snapshots": []},
        )
        build = IncrementalBuild("full")
        times = _snapshot_times(con, statements, snapshots)
        _record(con, name, build, fingerprint, times, replace=True, unvalidated_from=FULL_BUILD)
        return build

    recorded = dict(fetch_all(con, "select snapshot_id, first_at from incremental_snapshots where model = ?", [name]))
    added = _snapshot_times(con, statements, snapshots - recorded.keys())
    removed = recorded.keys() - snapshots
    times = [at for at in [*added.values(), *(recorded[snapshot_id] for snapshot_id in removed)] if at is not None]
    unvalidated_from = stored[0][1]
    if not times:
        build = IncrementalBuild("unchanged")
        _forget(con, name, removed)
        _record(con, name, build, fingerprint, added, replace=False, unvalidated_from=unvalidated_from)
        return build

    window_from = min(times)
    changed = {"window_from": window_from, "changed_snapshots": sorted(added.keys() | removed)}
    recompute_from = fetch_all(con, "select ?::timestamptz::varchar", [window_from])[0][0]
    if resumes:
        _execute(con, statements["resume"], changed)
        recompute_from = fetch_all(
            con, f"select coalesce(min(resume_at), ?)::varchar from {table}__resume", [window_from]
        )[0][0]
    _execute(con, statements["delete"], changed)
    _execute(
        con,
        f"insert into {table}\n{select}",
        {"rebuild_all": False, "recompute_from": recompute_from, "changed_snapshots": changed["changed_snapshots"]},
    )
    build = IncrementalBuild("incremental", window_from)
    unvalidated_from = fetch_all(
        con,
        "select least(coalesce(?::timestamptz, 'infinity'), ?::timestamptz)::varchar",
        [unvalidated_from, recompute_from],
    )[0][0]
    _forget(con, name, removed)
    _record(con, name, build, fingerprint, added, replace=False, unvalidated_from=unvalidated_from)
    return build


def _fingerprint(
    con: duckdb.DuckDBPyConnection, select: str, statements: dict[str, str], reads: Sequence[str]
) -> str:
    """The model's SQL, its companion's statements, the shared macros, the fingerprint of its other inputs, and
    the DuckDB version: its functions decide rows too (`hash()` orders a vessel's sightings at one instant), so
    an upgrade rebuilds whole rather than mixing two versions' rows."""
    inputs = _execute(con, statements["inputs"], {})[0][0]
    digest = hashlib.sha256()
    companion = [f"{name}\n{body}" for name, body in sorted(statements.items())]
    for part in (select, *companion, *reads, MACROS_FILE.read_text(encoding="utf-8"), str(inputs), duckdb.__version__):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _snapshot_times(con, statements: dict[str, str], snapshot_ids: set[str]) -> dict[str, datetime | None]:
    """Each snapshot's earliest relevant time; None for a snapshot with no such rows (another kind of source)."""
    if not snapshot_ids:
        return {}
    found = dict(_execute(con, statements["snapshot_times"], {"snapshot_ids": sorted(snapshot_ids)}))
    return {snapshot_id: found.get(snapshot_id) for snapshot_id in snapshot_ids}


def _forget(con, name: str, snapshot_ids: set[str]) -> None:
    if snapshot_ids:
        con.execute(
            "delete from incremental_snapshots where model = ? and list_contains(?, snapshot_id)",
            [name, sorted(snapshot_ids)],
        )


def _record(
    con,
    name: str,
    build: IncrementalBuild,
    fingerprint: str,
    times: dict[str, datetime | None],
    replace: bool,
    unvalidated_from: str | None,
) -> None:
    if replace:
        con.execute("delete from incremental_snapshots where model = ?", [name])
    if times:
        con.executemany(
            "insert into incremental_snapshots values (?, ?, ?)",
            [[name, snapshot_id, at] for snapshot_id, at in sorted(times.items())],
        )
    con.execute("delete from incremental_builds where model = ?", [name])
    con.execute(
        "insert into incremental_builds values (?, ?, ?, ?, now(), ?::timestamptz)",
        [name, build.mode, fingerprint, build.window_from, unvalidated_from],
    )
