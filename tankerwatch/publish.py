"""Publish validated DuckDB tables as immutable parquet versions and switch `current` atomically.

Layout under `published_dir` ($TANKERWATCH_DATA_DIR/published):

    versions/<version_id>/<table>.parquet, manifest.json   immutable once renamed into place
    versions/.tmp-<version_id>-<random>/                   being written; never read
    current -> versions/<version_id>                       relative symlink, replaced atomically

A consumer must resolve `current` once (os.path.realpath, or `resolve_current`) and read
every file from the resolved directory. Globbing `current/*.parquet` and opening the files
one by one through the link could mix two versions if a switch lands in between.

Retention (`prune_versions`, after a successful switch) keeps the newest N versions and
always the current and the previous one, so a directory a consumer resolved stays whole
until the next-but-one publish: open every file you need before then (an open file stays
readable after its directory is deleted). Versions are removed by renaming them to a hidden
`.pruning-*` name first, so a half-deleted version is never listed or resolved.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from tankerwatch import atomic
from tankerwatch.faults import fault_point

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "MANIFEST_NAME",
    "current_version",
    "list_versions",
    "keep_versions_setting",
    "prune_versions",
    "remove_interrupted",
    "resolve_current",
    "switch_current",
    "write_manifest",
    "write_version",
]

MANIFEST_NAME = "manifest.json"
CURRENT_NAME = "current"
VERSIONS_NAME = "versions"
TMP_PREFIX = ".tmp-"
PRUNING_PREFIX = ".pruning-"
KEEP_VERSIONS_ENV = "TANKERWATCH_KEEP_VERSIONS"
DEFAULT_KEEP_VERSIONS = 10
MIN_KEEP_VERSIONS = 2  # current and the one a consumer may have resolved just before the switch

_VERSION_ID = re.compile(r"[A-Za-z0-9_.-]+")
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")


def write_version(
    con: duckdb.DuckDBPyConnection,
    published_dir: Path,
    version_id: str,
    tables: Sequence[str],
    manifest: Mapping[str, Any] | None = None,
) -> Path:
    """Export `tables` to parquet as `published_dir/versions/<version_id>/` and return that path.

    Tables are written into a hidden temporary directory that is renamed into place only
    when every file (and the manifest, when given) is written and fsynced, so a failure or
    crash never leaves a partial version under its final name. `tables` may be
    schema-qualified (`marts.voyages`); the file is named after the last part
    (`voyages.parquet`). All tables are read in one DuckDB transaction, so they come from
    one snapshot even if another connection writes meanwhile.
    """
    _check_version_id(version_id)
    files = _file_names(tables)
    versions = Path(os.path.abspath(published_dir)) / VERSIONS_NAME
    final = versions / version_id
    if final.exists() or final.is_symlink():
        raise FileExistsError(f"version {version_id!r} already exists at {final}; versions are immutable")
    versions.mkdir(parents=True, exist_ok=True)
    tmp = versions / f"{TMP_PREFIX}{version_id}-{secrets.token_hex(6)}"
    tmp.mkdir()
    try:
        run_id = (manifest or {}).get("run_id")
        with _snapshot(con):
            for table, file_name in zip(tables, files, strict=True):
                _write_table(con, table, tmp / file_name, version_id, run_id)
        for file_name in files:
            atomic.fsync_path(tmp / file_name)
        if manifest is not None:
            write_manifest(tmp, dict(manifest))
        atomic.fsync_path(tmp)
        fault_point("publish.write")
        # rename() of a directory onto an existing non-empty one fails, which is the
        # behaviour we want if a concurrent writer got there first.
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic.fsync_path(versions)
    return final


ROWS_PER_BATCH = 122_880  # DuckDB's own row group size: memory stays bounded at any table size


def _write_table(
    con: duckdb.DuckDBPyConnection, table: str, target: Path, version_id: str, run_id: str | None
) -> None:
    """Write `table` as the parquet file `target` in one pass, the file describing itself to a consumer.

    The schema metadata names the dataset, the version, the run and the published schema's version, with the
    table's description and grain; each column carries its description in its field metadata; the key columns
    are declared not null (required). DuckDB's COPY writes none of that but key-value pairs, and rewriting its
    file to add them read and wrote every row twice, so the rows stream from DuckDB as Arrow batches straight
    into pyarrow's writer. The Arrow types are those DuckDB's COPY gives (schemas/published.json holds them).
    """
    from tankerwatch.contracts import model_contract

    name = table.rsplit(".", 1)[-1]
    contract = model_contract(name)
    # con.sql streams the result; con.execute's DB-API result would copy every row first
    reader = con.sql(f"select * from {_quote_identifier(table)}").to_arrow_reader(ROWS_PER_BATCH)
    try:
        _write_batches(reader, target, name, contract, version_id, run_id)
    finally:
        reader.close()  # an unread result would hold the connection (and the snapshot's rollback) open


def _write_batches(
    reader: pa.RecordBatchReader, target: Path, name: str, contract: Any, version_id: str, run_id: str | None
) -> None:
    from tankerwatch.contracts import PUBLISHED_SCHEMA_VERSION

    descriptions = {c.name: c.description for c in contract.columns} if contract else {}
    keys = set(contract.key_columns) if contract else set()
    fields = []
    for field in reader.schema:
        field = pa.field(field.name, _as_written_by_copy(field.type), nullable=field.name not in keys)
        if field.name in descriptions:
            field = field.with_metadata({b"description": descriptions[field.name].encode()})
        fields.append(field)
    metadata = {
        b"dataset": name.encode(),
        b"version_id": version_id.encode(),
        b"run_id": (run_id or "").encode(),
        b"schema_version": str(PUBLISHED_SCHEMA_VERSION).encode(),
    }
    if contract:
        metadata |= {
            b"description": contract.description.encode(),
            b"grain": contract.grain.encode(),
            b"key_columns": ",".join(contract.key_columns).encode(),
        }
    schema = pa.schema(fields, metadata=metadata)
    with pq.ParquetWriter(target, schema, compression="snappy") as writer:
        for batch in reader:
            for key in keys:
                if batch.column(key).null_count:
                    raise ValueError(f"{name}.parquet: key column {key} holds nulls; a published key is never null")
            writer.write_batch(batch.cast(schema))


def _as_written_by_copy(kind: pa.DataType) -> pa.DataType:
    """The Arrow type a column of DuckDB's Arrow export has when DuckDB's COPY writes it to parquet: UTC
    timestamps, lists whose item is named `element`, plain strings."""
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        return pa.timestamp(kind.unit, tz="UTC")
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
        return pa.list_(pa.field("element", _as_written_by_copy(kind.value_type)))
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _as_written_by_copy(f.type), f.nullable) for f in kind])
    return kind


def write_manifest(version_dir: Path, manifest: Mapping[str, Any]) -> Path:
    """Write `manifest.json` in `version_dir` atomically, completing it from the parquet files.

    Added when absent: `version` (the directory name), `row_counts` {table: rows},
    `schema` {table: {column: arrow type}}, `files` {table: {file, bytes, sha256}}, all read
    back from the parquet files actually written. Row counts the caller supplied are
    checked against the files and a mismatch raises ValueError.
    """
    version_dir = Path(version_dir)
    if not version_dir.is_dir():
        raise FileNotFoundError(f"no version directory at {version_dir}")
    out = dict(manifest)
    parquet = sorted(version_dir.glob("*.parquet"))
    counts = {p.stem: pq.read_metadata(p).num_rows for p in parquet}
    version_id = version_dir.name
    if version_id.startswith(TMP_PREFIX):
        # Written before the rename: name it after the version, not the temporary directory.
        version_id = version_id[len(TMP_PREFIX) :].rsplit("-", 1)[0]
    out.setdefault("version", version_id)
    if "row_counts" in out:
        given = dict(out["row_counts"])
        wrong = {t: (given[t], counts.get(t)) for t in given if given[t] != counts.get(t)}
        if wrong:
            raise ValueError(f"{version_dir}: manifest row counts disagree with the parquet files (given, actual): {wrong}")
    else:
        out["row_counts"] = counts
    out.setdefault("schema", {p.stem: _parquet_schema(p) for p in parquet})
    out.setdefault(
        "files",
        {p.stem: {"file": p.name, "bytes": p.stat().st_size, "sha256": _sha256(p)} for p in parquet},
    )
    text = json.dumps(out, indent=2, sort_keys=True, allow_nan=False, default=_json_default) + "\n"
    target = version_dir / MANIFEST_NAME
    atomic.write_text(target, text, prefix=f".{MANIFEST_NAME}.", suffix=".tmp")
    return target


def switch_current(published_dir: Path, version_dir: Path) -> str | None:
    """Point `published_dir/current` at `version_dir` atomically; return the previous version id.

    Only a complete version (a directory directly under `versions/` holding manifest.json
    and every parquet file the manifest lists) may become current.
    """
    published_dir = Path(os.path.abspath(published_dir))
    version_dir = Path(os.path.abspath(version_dir))
    version_id = version_dir.name
    if version_dir.parent != published_dir / VERSIONS_NAME:
        raise ValueError(f"{version_dir} is not a version under {published_dir / VERSIONS_NAME}")
    _check_version_id(version_id)
    _check_complete(version_dir)
    link = published_dir / CURRENT_NAME
    if link.exists() and not link.is_symlink():
        raise RuntimeError(f"{link} exists and is not a symlink; refusing to replace it")
    previous = current_version(published_dir)
    tmp = published_dir / f".{CURRENT_NAME}.{secrets.token_hex(6)}.tmp"
    os.symlink(f"{VERSIONS_NAME}/{version_id}", tmp)
    try:
        fault_point("publish.switch")
        # rename(2) replaces the old link in one step: a reader sees the old or the new target.
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    atomic.fsync_path(published_dir)
    return previous


def current_version(published_dir: Path) -> str | None:
    """The version id `current` points at, or None when nothing is published yet."""
    try:
        target = os.readlink(Path(published_dir) / CURRENT_NAME)
    except OSError:  # missing, or not a symlink
        return None
    return Path(target).name


def resolve_current(published_dir: Path) -> Path | None:
    """The absolute version directory `current` points at, resolved once for a consistent read."""
    version = current_version(published_dir)
    if version is None:
        return None
    return Path(os.path.abspath(published_dir)) / VERSIONS_NAME / version


def list_versions(published_dir: Path) -> list[str]:
    """Ids of complete versions (with a manifest), sorted by id; temporary directories excluded.

    Sorted by id, so ids should sort chronologically (e.g. a UTC timestamp prefix).
    """
    versions = Path(published_dir) / VERSIONS_NAME
    if not versions.is_dir():
        return []
    return sorted(
        p.name
        for p in versions.iterdir()
        if not p.name.startswith(".") and p.is_dir() and (p / MANIFEST_NAME).is_file()
    )


def keep_versions_setting(configured: int | None = None) -> int:
    """How many versions to keep: explicit setting, else $TANKERWATCH_KEEP_VERSIONS, else 10; at least 2."""
    value: object = configured or os.environ.get(KEEP_VERSIONS_ENV) or DEFAULT_KEEP_VERSIONS
    try:
        keep = int(str(value).strip())
    except ValueError:
        raise ValueError(f"${KEEP_VERSIONS_ENV} must be a whole number, not {value!r}") from None
    if keep < MIN_KEEP_VERSIONS:
        raise ValueError(
            f"keep at least {MIN_KEEP_VERSIONS} versions (current and previous), not {keep}: "
            "a consumer that resolved `current` just before a switch still reads the previous one"
        )
    return keep


def prune_versions(published_dir: Path, keep: int, previous: str | None = None) -> list[str]:
    """Delete complete versions beyond the newest `keep`; return the ids removed, oldest first.

    Never removed: the version `current` points at and `previous` (the one it pointed at
    before the last switch, as `switch_current` returned it), whatever their age; they count
    toward `keep`. Hidden directories (`.tmp-*` being written, `.pruning-*`) are not versions
    and are left alone. Call only after a successful switch, from the run that made it.
    """
    if keep < MIN_KEEP_VERSIONS:
        raise ValueError(f"keep must be at least {MIN_KEEP_VERSIONS} (current and previous), not {keep}")
    published_dir = Path(os.path.abspath(published_dir))
    current = current_version(published_dir)
    if current is None:
        raise RuntimeError(f"nothing is published in {published_dir}; refusing to prune without a current version")
    protected = [v for v in (current, previous) if v]
    versions = list_versions(published_dir)
    room = max(keep - len(set(protected)), 0)
    others = [v for v in versions if v not in protected]
    doomed = others[: max(len(others) - room, 0)]
    removed = []
    for version_id in doomed:
        # Re-read the link each time: never delete what `current` points at, even if it moved.
        if version_id == current_version(published_dir):
            continue
        source = published_dir / VERSIONS_NAME / version_id
        hidden = source.with_name(f"{PRUNING_PREFIX}{version_id}-{secrets.token_hex(6)}")
        os.rename(source, hidden)  # atomic: the version disappears whole from listings
        shutil.rmtree(hidden)
        removed.append(version_id)
    if removed:
        atomic.fsync_path(published_dir / VERSIONS_NAME)
    return removed


def remove_interrupted(published_dir: Path) -> list[str]:
    """Delete what a run killed mid-publish leaves behind; return the names removed.

    That is: hidden `.tmp-*` version folders, `.pruning-*` folders a prune was deleting,
    `.current.*.tmp` links and half-written manifest temporaries. None of them is ever read, so this is tidiness, not repair. Only call it while no
    other run can be publishing into `published_dir` (the CLI holds the data directory's run lock).
    """
    published_dir = Path(published_dir)
    removed = []
    versions = published_dir / VERSIONS_NAME
    leftovers = list(published_dir.glob(f".{CURRENT_NAME}.*.tmp"))
    if versions.is_dir():
        leftovers += [p for p in versions.iterdir() if p.name.startswith((TMP_PREFIX, PRUNING_PREFIX))]
        leftovers += list(versions.glob(f"*/.{MANIFEST_NAME}.*.tmp"))
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(str(path.relative_to(published_dir)))
    return sorted(removed)


def _check_version_id(version_id: str) -> None:
    # A leading dot is refused too: ".", ".." and hidden names match the character class
    # but would escape versions/ or collide with the temporary directories.
    if not isinstance(version_id, str) or not _VERSION_ID.fullmatch(version_id) or version_id.startswith("."):
        raise ValueError(f"invalid version id {version_id!r}: use [A-Za-z0-9_.-]+, not starting with '.'")


def _file_names(tables: Sequence[str]) -> list[str]:
    if isinstance(tables, str) or not tables:
        raise ValueError("tables must be a non-empty sequence of table names")
    names = []
    for table in tables:
        # Table names become file names and SQL identifiers, so only plain names are accepted.
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"invalid table name {table!r}")
        names.append(table.rsplit(".", 1)[-1] + ".parquet")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"two tables would write the same file: {dupes}")
    return names


def _check_complete(version_dir: Path) -> None:
    manifest_path = version_dir / MANIFEST_NAME
    if not version_dir.is_dir() or version_dir.is_symlink():
        raise FileNotFoundError(f"no version directory at {version_dir}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"{version_dir} has no {MANIFEST_NAME}; refusing to publish an incomplete version") from exc
    files = manifest.get("files") or {t: {"file": f"{t}.parquet"} for t in manifest.get("row_counts", {})}
    missing = [f["file"] for f in files.values() if not (version_dir / f["file"]).is_file()]
    if missing:
        raise ValueError(f"{version_dir} lacks files its manifest lists: {missing}")


@contextlib.contextmanager
def _snapshot(con: duckdb.DuckDBPyConnection):
    # A failed BEGIN inside an open transaction aborts the caller's transaction, so detect
    # one first: in autocommit mode every statement gets a fresh transaction id.
    first = con.execute("select txid_current()").fetchall()
    second = con.execute("select txid_current()").fetchall()
    if first == second:
        # The caller already holds a transaction: its snapshot is the one to export.
        yield
        return
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        yield
    finally:
        # Nothing was written to the database, so rolling back is the cheapest way out.
        con.execute("ROLLBACK").fetchall()


def _quote_identifier(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _parquet_schema(path: Path) -> dict[str, str]:
    schema = pq.read_schema(path)
    return {f.name: str(f.type) for f in schema}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):  # e.g. a gates.GateResult in "checks"
        return value.to_dict()
    raise TypeError(f"manifest value of type {type(value).__name__} is not JSON-able")
