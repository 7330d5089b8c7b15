"""Reference tables seeded from seeds/: ports with roles and radii, country names, volume assumptions."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from tankerwatch.errors import TankerwatchError
from tankerwatch.settings import SEEDS_DIR
from tankerwatch.warehouse import replace_table

PORT_ROLES = ("load_terminal", "discharge_port", "other")

_PRODUCT_FACTORS = {
    "crude": "crude_tonnes_to_barrels",
    "gasoline": "gasoline_tonnes_to_barrels_bp2021",
    "kerosene": "kerosene_tonnes_to_barrels_bp2021",
    "gasoil_diesel": "gasoil_diesel_tonnes_to_barrels_bp2021",
    "residual_fuel_oil": "residual_fuel_oil_tonnes_to_barrels_bp2021",
    "lpg": "lpg_tonnes_to_barrels",
    "product_basket": "product_basket_tonnes_to_barrels_bp2021",
}


def load_ports(con: duckdb.DuckDBPyConnection, seeds_dir: Path = SEEDS_DIR) -> int:
    frame = pl.read_csv(
        seeds_dir / "ports.csv",
        schema_overrides={"latitude": pl.Float64, "longitude": pl.Float64, "radius_km": pl.Float64},
    )
    bad_roles = sorted(set(frame["role"]) - set(PORT_ROLES))
    if bad_roles:
        raise TankerwatchError(f"seeds/ports.csv: unknown port roles {bad_roles}; allowed {PORT_ROLES}")
    replace_table(con, "ref_ports", frame)
    return frame.height


def load_countries(con: duckdb.DuckDBPyConnection, seeds_dir: Path = SEEDS_DIR) -> int:
    frame = pl.read_csv(seeds_dir / "countries.csv", infer_schema=False)
    replace_table(con, "ref_countries", frame)
    return frame.height


def volume_assumptions(product: str | None = None, seeds_dir: Path = SEEDS_DIR) -> dict[str, float | str]:
    """The one row of assumptions the volume and cap models use, with an optional product override."""
    params = dict(pl.read_csv(seeds_dir / "volume_assumptions.csv", infer_schema=False).select("parameter", "value").iter_rows())
    factors = dict(pl.read_csv(seeds_dir / "conversion_factors.csv", infer_schema=False).select("quantity", "value").iter_rows())
    chosen = product or params.pop("product")
    params.pop("product", None)
    if chosen not in _PRODUCT_FACTORS:
        raise TankerwatchError(f"unknown product {chosen!r}; choose one of {sorted(_PRODUCT_FACTORS)}")
    cap_key = "unscr2397_crude_cap" if chosen == "crude" else "unscr2397_refined_cap"
    return {
        "product": chosen,
        "barrels_per_tonne": float(factors[_PRODUCT_FACTORS[chosen]]),
        "barrels_per_m3": float(factors["kilolitre_to_barrels"]),
        "cap_bbl": float(factors[cap_key]),
        **{name: float(value) for name, value in params.items()},
    }


def load_volume_assumptions(con: duckdb.DuckDBPyConnection, product: str | None = None) -> dict[str, float | str]:
    row = volume_assumptions(product)
    replace_table(con, "ref_volume_assumptions", pl.DataFrame([row]))
    return row
