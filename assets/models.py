"""One asset per SQL model in sql/: staging, intermediate and marts."""


import dagster as dg

from orchestration.resources import TankerwatchResource
from tankerwatch.ingest import KIND_TABLES
from tankerwatch.models import Model, build_model, discover_models
from tankerwatch.warehouse import fetch_all, table_schema

OWNERS = ["team:tankerwatch-data"]

# Tables every ingest asset writes a share of: a model reading them depends on all ingest assets.
_SHARED_INGEST_TABLES = {"raw_parse_rejects", "raw_source_snapshots"}
_ALL_RAW_TABLES = sorted(table for tables in KIND_TABLES.values() for table in tables)


def _asset_deps(model: Model) -> list[str]:
    deps = {dep for dep in model.deps if dep not in _SHARED_INGEST_TABLES}
    if _SHARED_INGEST_TABLES & set(model.deps):
        deps.update(_ALL_RAW_TABLES)
    return sorted(deps)


# Figures an engineer watches on particular models, computed after each build.
MODEL_FIGURES = {
    "int_sighting_identities": {
        "resolution_rate": "select coalesce(avg(case when imo is not null then 1.0 else 0.0 end), 0) from int_sighting_identities",
        "resolved_by_name": "select count(*) from int_sighting_identities where resolved_by = 'name'",
        "resolved_by_mmsi": "select count(*) from int_sighting_identities where resolved_by = 'mmsi'",
    },
    "voyages": {
        "counted_toward_cap": "select count(*) from voyages where counts_toward_cap",
        "destination_unconfirmed": "select count(*) from voyages where destination_status = 'unconfirmed'",
    },
}


def _metadata(con, model: Model, rows: int) -> dict:
    schema = table_schema(con, model.name)
    metadata = {
        "dagster/row_count": rows,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, dtype, description=model.columns.get(name)) for name, dtype in schema]
        ),
    }
    if any(name == "reject_reason" for name, _ in schema):
        metadata["rejects"] = fetch_all(con, f"select count(*) from {model.name} where reject_reason is not null")[0][0]
    for figure, sql in MODEL_FIGURES.get(model.name, {}).items():
        value = fetch_all(con, sql)[0][0]
        metadata[figure] = float(value) if figure.endswith("_rate") else int(value)
    return metadata


def build_model_asset(model: Model) -> dg.AssetsDefinition:
    @dg.asset(
        name=model.name,
        deps=_asset_deps(model),
        group_name=model.layer,
        description=f"{model.description} Grain: {model.grain}.",
        kinds={"sql", "duckdb"},
        owners=OWNERS,
        pool="duckdb",
        metadata={"sql_file": str(model.path.relative_to(model.path.parents[2])), "grain": model.grain},
    )
    def materialise(tankerwatch: TankerwatchResource) -> dg.MaterializeResult:
        with tankerwatch.warehouse() as con:
            rows = build_model(con, model)
            metadata = _metadata(con, model, rows)
        return dg.MaterializeResult(metadata=metadata)

    return materialise


model_assets = [build_model_asset(model) for model in discover_models().values()]
