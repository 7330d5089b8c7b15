"""Reference-table assets seeded from the repository's seeds/ folder."""


import dagster as dg

from assets.resources import TankerwatchResource
from tankerwatch.reference import load_countries, load_ports, load_volume_assumptions

OWNERS = ["team:tankerwatch-data"]
REFERENCE = dict(group_name="reference", kinds={"csv", "duckdb"}, owners=OWNERS, pool="duckdb")


@dg.asset(**REFERENCE)
def ref_ports(tankerwatch: TankerwatchResource) -> dg.MaterializeResult:
    """One row per reference port (seeds/ports.csv): role (load terminal, DPRK discharge port, other), point and radius."""
    with tankerwatch.warehouse() as con:
        count = load_ports(con)
    return dg.MaterializeResult(metadata={"dagster/row_count": count})


@dg.asset(**REFERENCE)
def ref_countries(tankerwatch: TankerwatchResource) -> dg.MaterializeResult:
    """One row per country name or spelling (seeds/countries.csv) with its ISO 3166 alpha-2 code, for flag states."""
    with tankerwatch.warehouse() as con:
        count = load_countries(con)
    return dg.MaterializeResult(metadata={"dagster/row_count": count})


@dg.asset(**REFERENCE)
def ref_volume_assumptions(tankerwatch: TankerwatchResource) -> dg.MaterializeResult:
    """One row of volume assumptions (seeds/volume_assumptions.csv, conversion_factors.csv): product, barrels per tonne, cap, load fractions."""
    with tankerwatch.warehouse() as con:
        row = load_volume_assumptions(con, tankerwatch.product or None)
    return dg.MaterializeResult(metadata={"dagster/row_count": 1, **{k: v for k, v in row.items()}})


reference_assets = [ref_ports, ref_countries, ref_volume_assumptions]
