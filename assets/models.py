"""One asset per SQL model in sql/: staging, intermediate and marts."""


import dagster as dg

from assets.resources import TankerwatchResource
from tankerwatch.ingest import KIND_TABLES
from tankerwatch.models import Model, build_model, discover_models
from tankerwatch.warehouse import fetch_all, identifier, table_schema

OWNERS = ["team:tankerwatch-data"]

# Tables every ingest asset writes a share of: a model reading them depends on all ingest assets.
_SHARED_INGEST_TABLES = {"raw_parse_rejects", "raw_source_snapshots"}
_ALL_RAW_TABLES = sorted(table for tables in KIND_TABLES.values() for table in tables)


def _asset_deps(model: Model) -> list[str]:
    deps = {dep for dep in model.deps if dep not in _SHARED_INGEST_TABLES}
    if _SHARED_INGEST_TABLES & set(model.deps):
        deps.update(_ALL_RAW_TABLES)
    return sorted(deps)


# Figures an engineer watches on particular models, computed after each build (aggregates over the model).
MODEL_FIGURES = {
    "int_sighting_identities": {
        "resolution_rate": "coalesce(avg(case when imo is not null then 1.0 else 0.0 end), 0)",
        "resolved_by_name": "count(*) filter (where resolved_by = 'name')",
        "resolved_by_mmsi": "count(*) filter (where resolved_by = 'mmsi')",
    },
    "voyages": {
        "counted_toward_cap": "count(*) filter (where counts_toward_cap)",
        "destination_unconfirmed": "count(*) filter (where destination_status = 'unconfirmed')",
    },
}


def _metadata(con, model: Model) -> dict:
    """Row count, schema, rejects and figures, read in one scan: a view's rows are computed once more here."""
    schema = table_schema(con, model.name)
    figures = {"dagster/row_count": "count(*)"}
    if any(name == "reject_reason" for name, _ in schema):
        figures["rejects"] = "count(reject_reason)"
    figures.update(MODEL_FIGURES.get(model.name, {}))
    values = fetch_all(con, f"select {', '.join(figures.values())} from {identifier(model.name)}")[0]
    metadata = {
        figure: float(value) if figure.endswith("_rate") else int(value)
        for figure, value in zip(figures, values, strict=True)
    }
    metadata["materialized"] = model.materialized
    if model.materialized == "incremental":
        metadata.update(_incremental_build(con, model.name))
    metadata["dagster/column_schema"] = dg.TableSchema(
        columns=[dg.TableColumn(name, dtype, description=model.columns.get(name)) for name, dtype in schema]
    )
    metadata["preview"] = dg.MetadataValue.md(preview_markdown(con, model.name, [name for name, _ in schema]))
    return metadata


def _incremental_build(con, name: str) -> dict:
    """How the last build went: whole, from a window, or nothing new to compute."""
    [(mode, window_from)] = fetch_all(con, "select mode, window_from from incremental_builds where model = ?", [name])
    built = {"build_mode": mode}
    if window_from is not None:
        built["build_window_from"] = dg.MetadataValue.timestamp(window_from)
    return built


PREVIEW_ROWS = 5
PREVIEW_COLUMNS = 6
PREVIEW_CHARS = 24


def preview_markdown(con, relation: str, columns: list[str]) -> str:
    """The first PREVIEW_ROWS rows of ``relation`` as a markdown table of its first PREVIEW_COLUMNS columns,
    each value cut to PREVIEW_CHARS characters. A plain LIMIT with no ORDER BY and only those columns: DuckDB
    stops reading (or, for a view, computing) once it has the rows, so this stays cheap at any size."""
    shown = columns[:PREVIEW_COLUMNS]
    if not shown:
        return "_no columns_"
    # Cut in SQL as well, so a long text value is never carried into Python whole.
    cells = ", ".join(f"left(cast({identifier(c)} as varchar), {PREVIEW_CHARS + 1})" for c in shown)
    rows = fetch_all(con, f"select {cells} from {identifier(relation)} limit {PREVIEW_ROWS}")
    lines = [
        "| " + " | ".join(_cell(c) for c in shown) + " |",
        "|" + "---|" * len(shown),
        *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows),
    ]
    if len(columns) > len(shown):
        lines.append(f"\n_first {len(shown)} of {len(columns)} columns_")
    if not rows:
        lines.append("\n_no rows_")
    return "\n".join(lines)


def _cell(value: object) -> str:
    text = "" if value is None else " ".join(str(value).split())
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|")


def contract_column_schema(model: Model) -> dg.TableSchema:
    """The columns a model's contract promises (sql/<layer>/<model>.yml): name, DuckDB type, description."""
    columns = model.contract.columns if model.contract else ()
    return dg.TableSchema(
        columns=[dg.TableColumn(column.name, column.type, description=column.description) for column in columns]
    )


def build_model_asset(model: Model) -> dg.AssetsDefinition:
    @dg.asset(
        name=model.name,
        deps=_asset_deps(model),
        group_name=model.layer,
        description=f"{model.description} Grain: {model.grain}.",
        kinds={"sql", "duckdb"},
        owners=OWNERS,
        pool="duckdb",
        metadata={
            "sql_file": str(model.path.relative_to(model.path.parents[2])),
            "grain": model.grain,
            # the contract's columns, so the catalogue shows them before the first build
            "dagster/column_schema": contract_column_schema(model),
        },
    )
    def materialise(tankerwatch: TankerwatchResource) -> dg.MaterializeResult:
        with tankerwatch.warehouse() as con:
            build_model(con, model)
            metadata = _metadata(con, model)
        return dg.MaterializeResult(metadata=metadata)

    return materialise


model_assets = [build_model_asset(model) for model in discover_models().values()]
