"""Ingest assets: one per source kind, each filling that kind's raw DuckDB tables."""


import dagster as dg

from orchestration.resources import TankerwatchResource
from tankerwatch.ingest import KIND_TABLES, fetch_and_parse, load_parsed

OWNERS = ["team:tankerwatch-data"]

RAW_TABLE_DESCRIPTIONS = {
    "raw_ofac_sdn": "One row per line of OFAC's SDN.CSV, as published, for every ofac_sdn_csv source.",
    "raw_ofac_alt": "One row per OFAC alternate name (ALT.CSV) of every ofac_sdn_csv source.",
    "raw_ofac_sdn_comments": "One row per OFAC remarks-overflow line (SDN_COMMENTS.CSV) of every ofac_sdn_csv source.",
    "raw_un_designations": "One row per individual or entity of the UN Security Council Consolidated List XML.",
    "raw_registry_vessels": "One row per vessel-particulars row of every registry_csv source.",
    "raw_imagery_sightings": "One row per analyst satellite-imagery sighting of every imagery_sightings_csv source.",
    "raw_ais_positions": "One row per AIS position report (types 1-3, 18, 19) decoded from every ais_nmea feed.",
    "raw_ais_static": "One row per AIS static and voyage report (types 5, 19, 24) decoded from every ais_nmea feed.",
}


def build_ingest_asset(kind: str) -> dg.AssetsDefinition:
    tables = KIND_TABLES[kind]

    @dg.multi_asset(
        name=f"ingest_{kind}",
        specs=[
            dg.AssetSpec(
                table,
                group_name="ingest",
                description=RAW_TABLE_DESCRIPTIONS[table],
                kinds={"python", "duckdb"},
                owners=OWNERS,
            )
            for table in tables
        ],
        pool="duckdb",
        retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    )
    def ingest(context: dg.AssetExecutionContext, tankerwatch: TankerwatchResource):
        sources = tankerwatch.sources()
        parsed = fetch_and_parse(kind, sources, tankerwatch.paths().landing)
        with tankerwatch.warehouse() as con:
            report = load_parsed(con, parsed)
        if not parsed.snapshots:
            context.log.info(f"no source of kind {kind} in the sources file: its raw tables are empty")
        snapshots = [s.to_dict() for s in report.snapshots]
        for table in tables:
            yield dg.MaterializeResult(
                asset_key=table,
                metadata={
                    "dagster/row_count": report.row_counts[table],
                    "parse_rejects": report.rejects,
                    "snapshots": dg.MetadataValue.json(snapshots),
                },
            )

    return ingest


ingest_assets = [build_ingest_asset(kind) for kind in KIND_TABLES]
