"""The DuckDB warehouse: short-lived connections with tankerwatch's SQL functions loaded."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from tankerwatch.settings import SQL_DIR

MACROS_FILE = SQL_DIR / "macros.sql"
MEMORY_LIMIT_ENV = "TANKERWATCH_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "3GB"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

PARSE_REJECTS_DDL = """
create table if not exists raw_parse_rejects (
    kind varchar not null,
    source_name varchar not null,
    snapshot_id varchar not null,
    source_row bigint,
    raw varchar,
    reason varchar not null
)
"""

SOURCE_SNAPSHOTS_DDL = """
create table if not exists raw_source_snapshots (
    kind varchar not null,
    source_name varchar not null,
    role varchar not null,
    url varchar not null,
    sha256 varchar not null,
    snapshot_id varchar not null,
    bytes bigint not null,
    fetched_at timestamptz not null,
    landed_path varchar not null,
    partition_day date
)
"""


# What each incrementally built model was last built from (tankerwatch/incremental.py).
INCREMENTAL_BUILDS_DDL = """
create table if not exists incremental_builds (
    model varchar not null,
    mode varchar not null,
    inputs_fingerprint varchar not null,
    window_from timestamptz,
    built_at timestamptz not null,
    -- the earliest row any build since the model's last passing gate rewrote: null when
    -- every row has passed, '-infinity' after a full build (tankerwatch/gate_windows.py)
    unvalidated_from timestamptz
)
"""

INCREMENTAL_SNAPSHOTS_DDL = """
create table if not exists incremental_snapshots (
    model varchar not null,
    snapshot_id varchar not null,
    first_at timestamptz
)
"""

# What the last passing gate of each windowed model saw (tankerwatch/gate_windows.py).
GATE_WINDOWS_DDL = """
create table if not exists gate_windows (
    table_name varchar primary key,
    inputs_fingerprint varchar not null,
    validated_snapshots varchar[] not null,
    validated_at timestamptz not null
)
"""

GATE_RESULTS_DDL = """
create table if not exists gate_results (
    run_id varchar not null,
    asset varchar not null,
    suite varchar not null,
    success boolean not null,
    evaluated integer not null,
    passed integer not null,
    result_json varchar not null,
    checked_at timestamptz not null
)
"""


def identifier(name: str) -> str:
    """A table name we generated ourselves, checked before it goes into SQL text."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


@contextmanager
def connect(path: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for one short unit of work; DuckDB allows one writer per file."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("set TimeZone = 'UTC'")
        # DuckDB spills to disk beyond this, so a run at regional AIS scale stays within the machine.
        con.execute("set memory_limit = ?", [os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)])
        if not read_only:
            bootstrap(con)
        yield con
    finally:
        con.close()


def bootstrap(con: duckdb.DuckDBPyConnection) -> None:
    """Create the shared functions and bookkeeping tables the models rely on."""
    con.execute(MACROS_FILE.read_text(encoding="utf-8"))
    con.execute(PARSE_REJECTS_DDL)
    con.execute(SOURCE_SNAPSHOTS_DDL)
    # Warehouses made before daily feeds: their snapshots are whole sources (no day).
    con.execute("alter table raw_source_snapshots add column if not exists partition_day date")
    con.execute(GATE_RESULTS_DDL)
    con.execute(INCREMENTAL_BUILDS_DDL)
    con.execute(INCREMENTAL_SNAPSHOTS_DDL)
    con.execute("alter table incremental_builds add column if not exists unvalidated_from timestamptz")
    con.execute(GATE_WINDOWS_DDL)


def fetch_all(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
    """Run a query and fetch every row (DuckDB 2 blocks a connection on an unfinished result)."""
    return con.execute(sql, list(params or [])).fetchall()


def fetch_frame(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
    return con.sql(sql, params=list(params) if params else None).pl()


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return fetch_all(con, f"select count(*) from {identifier(table)}")[0][0]


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Replace ``table`` with the rows of ``frame`` in one transaction."""
    name = identifier(table)
    view = f"_incoming_{name}"
    con.register(view, frame)
    try:
        con.execute("begin transaction")
        con.execute(f"create or replace table {name} as select * from {view}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister(view)


def table_schema(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(column, type) pairs of a table, in order."""
    return [
        (name, dtype)
        for name, dtype in fetch_all(
            con,
            "select column_name, data_type from information_schema.columns "
            "where table_name = ? order by ordinal_position",
            [table],
        )
    ]
