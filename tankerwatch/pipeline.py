"""The whole warehouse build without Dagster: ingest every kind, seed references, build every model.

Dagster runs the same steps as separate assets with gates between them; this
path serves tests and tools that need the tables, not the orchestration.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tankerwatch.ingest import KIND_TABLES, SecretLookup, fetch_and_parse, load_parsed
from tankerwatch.models import build_all
from tankerwatch.reference import load_countries, load_ports, load_volume_assumptions
from tankerwatch.sources import Source
from tankerwatch.warehouse import connect


def load_references(con, product: str | None = None) -> None:
    load_ports(con)
    load_countries(con)
    load_volume_assumptions(con, product)


def build_warehouse(
    warehouse: Path | str,
    sources: list[Source],
    landing_dir: Path,
    product: str | None = None,
    secrets: SecretLookup = lambda name: None,
    days: Sequence[str] = (),
) -> dict[str, int]:
    """Ingest ``sources`` (daily feeds: their ``days``) into ``warehouse`` and build every SQL model; returns
    model row counts."""
    parsed = [fetch_and_parse(kind, sources, landing_dir, secrets, days) for kind in KIND_TABLES]
    with connect(warehouse) as con:
        for kind in parsed:
            load_parsed(con, kind)
        load_references(con, product)
        return build_all(con)
