"""Small hand-made scenarios: write registry and imagery files, build the warehouse, query it."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from tankerwatch.pipeline import build_warehouse
from tankerwatch.settings import REPO_ROOT
from tankerwatch.sources import load_sources
from tankerwatch.warehouse import connect, fetch_frame

REGISTRY_HEADER = [
    "imo", "name", "former_names", "mmsi", "call_sign", "flag", "vessel_type", "dwt", "gross_tonnage",
    "cargo_capacity_m3", "summer_draught_m", "build_year", "owner", "updated_at",
]
IMAGERY_HEADER = [
    "sighting_id", "observed_at", "source", "image_id", "latitude", "longitude", "vessel_name", "imo", "mmsi",
    "laden_state", "load_fraction", "confidence", "notes",
]
DEMO_SANCTIONS = REPO_ROOT / "demo" / "sanctions"

# Points well inside the reference ports' radii (seeds/ports.csv).
VOSTOCHNY = (42.7510, 133.0800)
KOZMINO = (42.7170, 133.0180)
RAJIN = (42.2340, 130.3010)
CHONGJIN = (41.7670, 129.8170)
VLADIVOSTOK = (43.1170, 131.9010)
AT_SEA = (41.5000, 131.5000)


@dataclass
class Scenario:
    """A registry and an imagery log for one test; `build()` runs ingest and every SQL model."""

    root: Path
    vessels: list[dict] = field(default_factory=list)
    sightings: list[dict] = field(default_factory=list)
    with_sanctions: bool = True
    un_xml: str | None = None
    extra_sources: dict[str, dict] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def vessel(self, imo: str, name: str, **values) -> Scenario:
        self.vessels.append(
            {"imo": imo, "name": name, "flag": "KP", "dwt": "3000", "summer_draught_m": "6.0", **values}
        )
        return self

    def sighting(self, observed_at: str, where: tuple[float, float], state: str, **values) -> Scenario:
        number = len(self.sightings) + 1
        self.sightings.append(
            {
                "sighting_id": values.pop("sighting_id", f"S{number:03d}"),
                "observed_at": observed_at,
                "source": "Maxar",
                "image_id": f"img-{number}",
                "latitude": str(where[0]),
                "longitude": str(where[1]),
                "laden_state": state,
                **values,
            }
        )
        return self

    def source(
        self, name: str, kind: str, filename: str | None = None, content: str | bytes = b"", **settings
    ) -> Scenario:
        """Another source of any kind; with ``filename`` its content is written beside the sources file."""
        entry = {"kind": kind, **settings}
        if filename is not None:
            self.files[filename] = content.encode("utf-8") if isinstance(content, str) else content
            entry.setdefault("url", filename)
        self.extra_sources[name] = entry
        return self

    def build(self, secrets=lambda name: None) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        _write_csv(self.root / "registry.csv", REGISTRY_HEADER, self.vessels)
        _write_csv(self.root / "imagery.csv", IMAGERY_HEADER, self.sightings)
        lines = ["sources:", "  registry:", "    kind: registry_csv", "    url: registry.csv",
                 "  imagery:", "    kind: imagery_sightings_csv", "    url: imagery.csv"]
        if self.with_sanctions:
            lines += ["  ofac:", "    kind: ofac_sdn_csv", f"    url: {DEMO_SANCTIONS / 'ofac_sdn_dprk_20240503.csv'}",
                      f"    alt_url: {DEMO_SANCTIONS / 'ofac_alt_dprk_2025.csv'}"]
        if self.un_xml is not None:
            (self.root / "un.xml").write_text(self.un_xml, encoding="utf-8")
            lines += ["  un:", "    kind: un_consolidated_xml", "    url: un.xml"]
        for filename, content in self.files.items():
            (self.root / filename).write_bytes(content)
        document = yaml.safe_load("\n".join(lines))
        document["sources"].update(self.extra_sources)
        (self.root / "sources.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        warehouse = self.root / "warehouse.duckdb"
        build_warehouse(warehouse, load_sources(self.root / "sources.yaml"), self.root / "landing", secrets=secrets)
        return warehouse

    def query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        with connect(self.root / "warehouse.duckdb") as con:
            return fetch_frame(con, sql, params)


def _write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in header})
