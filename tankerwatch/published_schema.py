"""The published schema: what each published parquet file holds, kept in the repository as schemas/published.json.

Consumers code against the columns and types of the published tables, so they may change
only on purpose. `schemas/published.json` lists, per table, every column in order with its
Arrow type as read back from the parquet file (`str(pyarrow type)`, so a list of evidence ids
is `list<element: string>` and a struct spells out every field and its type). The blocking
check `published_schema_unchanged` on publish_candidate compares the candidate's files with
it: a missing or extra table, or a missing, extra, renamed, reordered or retyped column
stops the run before `current` moves.

The file is generated from the model contracts (sql/marts/<table>.yml, tankerwatch/contracts.py),
which also give each column its description. Changing a published table on purpose: change its
SQL and its contract, regenerate, and commit the generated files with the change:

    python -m tankerwatch.contracts                         # rewrites schemas/published.json and the rest
    python -m tankerwatch.published_schema --check [DIR]    # compare a version directory, exit 1 if it differs
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from tankerwatch import atomic
from tankerwatch.settings import REPO_ROOT

__all__ = [
    "CHECK_NAME",
    "FORMAT_VERSION",
    "SCHEMA_FILE",
    "compare",
    "load_schema",
    "read_version_schema",
    "schema_frame",
    "write_schema",
]

CHECK_NAME = "published_schema_unchanged"
FORMAT_VERSION = 1
SCHEMA_FILE = REPO_ROOT / "schemas" / "published.json"

TableSchema = list[tuple[str, str]]  # (column, arrow type) in file order


def read_version_schema(version_dir: Path) -> dict[str, TableSchema]:
    """{table: [(column, arrow type), ...]} of every parquet file in a version directory."""
    return {
        path.stem: [(field.name, str(field.type)) for field in pq.read_schema(path)]
        for path in sorted(Path(version_dir).glob("*.parquet"))
    }


def load_schema(path: Path | None = None) -> dict[str, TableSchema]:
    """The committed schema file as {table: [(column, arrow type), ...]}; a malformed file raises ValueError."""
    path = Path(path or SCHEMA_FILE)
    doc = json.loads(path.read_text(encoding="utf-8"))
    tables_given = isinstance(doc, dict) and isinstance(doc.get("tables"), dict)
    if not tables_given or doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: expected {{'format_version': {FORMAT_VERSION}, 'tables': {{...}}}}")
    tables: dict[str, TableSchema] = {}
    for table, columns in doc["tables"].items():
        if not isinstance(columns, list) or not all(
            isinstance(c, dict)
            and {"column", "type"} <= set(c) <= {"column", "type", "description", "key"}
            and all(isinstance(c[k], str) for k in ("column", "type", "description") if k in c)
            and c.get("key", True) is True
            for c in columns
        ):
            raise ValueError(f"{path}: table {table!r} must be a list of {{'column': ..., 'type': ...}}")
        tables[table] = [(c["column"], c["type"]) for c in columns]
    return tables


def write_schema(tables: Mapping[str, Sequence[tuple[str, str]]], path: Path | None = None) -> Path:
    """Write the schema file (tables sorted by name, columns in file order) atomically."""
    path = Path(path or SCHEMA_FILE)
    doc = {
        "format_version": FORMAT_VERSION,
        "tables": {
            table: [{"column": column, "type": type_} for column, type_ in tables[table]] for table in sorted(tables)
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(doc, indent=2) + "\n")
    return path


def compare(expected: Mapping[str, TableSchema], found: Mapping[str, TableSchema]) -> list[tuple]:
    """One row per expected or found column (or missing/extra table): both sides and the problem if any.

    Rows are (table, position, expected column, expected type, found column, found type,
    problem); `problem` is "" when the column matches and otherwise a sentence naming the
    table, the column and both types, so the gate's failing samples read as the reason. A
    dropped column is one problem, not a shift of every column after it.
    """
    rows: list[tuple] = []
    for table in sorted(set(expected) | set(found)):
        if table not in found:
            rows.append((table, None, None, None, None, None,
                         f"table {table}: missing (expected {table}.parquet with {len(expected[table])} columns)"))
        elif table not in expected:
            rows.append((table, None, None, None, None, None,
                         f"table {table}: not in the published schema ({len(found[table])} columns); "
                         "regenerate schemas/published.json if it is meant to be published"))
        else:
            rows += _compare_table(table, expected[table], found[table])
    return rows


def _compare_table(table: str, want: TableSchema, got: TableSchema) -> list[tuple]:
    got_at = {name: (i, type_) for i, (name, type_) in enumerate(got)}
    want_names = {name for name, _ in want}
    extra = {i for i, (name, _) in enumerate(got) if name not in want_names}
    # Columns both sides have must keep their relative order.
    common_want = [name for name, _ in want if name in got_at]
    common_got = [name for name, _ in got if name in want_names]
    moved = {a for a, b in zip(common_want, common_got, strict=True) if a != b}
    rows = []
    for i, (name, type_) in enumerate(want):
        where = f"table {table}, column {name}"
        if name in got_at:
            j, found_type = got_at[name]
            if found_type != type_:
                problem = f"{where}: type changed: expected {type_}, found {found_type}"
            elif name in moved:
                problem = (
                    f"{where}: moved: expected {type_} at position {i + 1}, found {found_type} at position {j + 1}"
                )
            else:
                problem = ""
            rows.append((table, i + 1, name, type_, name, found_type, problem))
        elif i in extra:  # another column in its place: most likely a rename
            extra.discard(i)
            other, other_type = got[i]
            rows.append((table, i + 1, name, type_, other, other_type,
                         f"{where}: renamed or replaced: expected {name} {type_} at position {i + 1}, "
                         f"found {other} {other_type}"))
        else:
            rows.append((table, i + 1, name, type_, None, None, f"{where}: missing: expected {type_}, found no column"))
    for j in sorted(extra):
        name, type_ = got[j]
        rows.append((table, j + 1, None, None, name, type_,
                     f"table {table}, column {name}: not in the published schema: expected no column, "
                     f"found {type_} at position {j + 1}"))
    return rows


def schema_frame(version_dir: Path, schema_path: Path | None = None) -> pl.DataFrame:
    """compare() of a version directory with the schema file, as the frame the publish_schema suite checks."""
    rows = compare(load_schema(schema_path), read_version_schema(version_dir))
    return pl.DataFrame(
        rows,
        schema={"table_name": pl.String, "position": pl.Int64, "expected_column": pl.String,
                "expected_type": pl.String, "found_column": pl.String, "found_type": pl.String,
                "problem": pl.String},
        orient="row",
    )


def _default_version_dir() -> Path:
    from tankerwatch.publish import VERSIONS_NAME, list_versions
    from tankerwatch.settings import resolve_data_paths

    published = resolve_data_paths().published
    versions = list_versions(published)
    if not versions:
        raise SystemExit(f"no version under {published / VERSIONS_NAME}: run `tankerwatch run` first or pass DIR")
    return published / VERSIONS_NAME / versions[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tankerwatch.published_schema", description=__doc__.split("\n\n")[0]
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write a schema file other than the generated one from DIR")
    mode.add_argument("--check", action="store_true", help="compare DIR with the schema file; exit 1 on a difference")
    parser.add_argument("dir", nargs="?", type=Path,
                        help="a version directory (default: the newest under $TANKERWATCH_DATA_DIR/published/versions)")
    args = parser.parse_args(argv)
    if args.write and Path(SCHEMA_FILE).resolve() == (REPO_ROOT / "schemas" / "published.json").resolve():
        print("schemas/published.json is generated from the model contracts: run python -m tankerwatch.contracts",
              file=sys.stderr)
        return 2
    version_dir = args.dir or _default_version_dir()
    found = read_version_schema(version_dir)
    if not found:
        print(f"no parquet files in {version_dir}", file=sys.stderr)
        return 1
    if args.write:
        path = write_schema(found)
        print(f"wrote {path} from {version_dir} ({len(found)} tables)")
        return 0
    problems = [row[-1] for row in compare(load_schema(), found) if row[-1]]
    for problem in problems:
        print(problem)
    print(f"{version_dir}: {'differs from' if problems else 'matches'} {SCHEMA_FILE}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
