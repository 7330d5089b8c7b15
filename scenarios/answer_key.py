"""The answer key of a bundle laid out as demo/ is: reference.derive on its files, as truth/ CSV and JSON.

    python -m scenarios.answer_key demo --seed 2024     # rewrites demo/truth/ from demo's inputs

The voyages come only from scenarios.reference (DOMAIN §3 on the bytes of the registry,
imagery and AIS files and the bundled sanctions excerpts); this module only lays them
out. Evidence is named as the bundle's own files name it: an imagery row by its
``sighting_id``, an AIS position as ``AIS-<mmsi>-<unix seconds>``, so that a reader can
find each cited sighting with grep.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from scenarios import reference
from scenarios.geo import load_ports

REGISTRY = Path("registry") / "tankers.csv"
IMAGERY = Path("sightings") / "imagery_2024.csv"
NMEA = Path("sightings") / "ais_2024.nmea"
VOYAGES_CSV = Path("truth") / "voyages.csv"
SUMMARY_JSON = Path("truth") / "summary.json"

TRUTH_HEADER = ["voyage_no", "imo", "vessel_name", "load_port", "load_arrival_at", "load_departure_at",
                "discharge_port", "destination_status", "capacity_bbl", "load_fraction", "volume_bbl",
                "counts_toward_cap", "capacity_source", "load_fraction_source",
                "load_call_sightings", "discharge_call_sightings", "laden_sightings"]


def evidence_id(s: reference.Sighting) -> str:
    if s.kind == "ais":
        return f"AIS-{s.mmsi}-{s.t}"
    return s.sid.split(":", 1)[1]


def _ids(sightings: list[reference.Sighting]) -> str:
    return ";".join(evidence_id(s) for s in sightings)


def derive_bundle(bundle: Path) -> reference.Reference:
    return reference.derive(bundle / REGISTRY, bundle / IMAGERY, bundle / NMEA, load_ports(),
                            reference.SanctionsExcerpt.load())


def truth_rows(ref: reference.Reference) -> list[dict[str, str]]:
    rows = []
    for no, v in enumerate(ref.voyages, 1):
        reg = ref.registry[v.imo][-1]
        rows.append({
            "voyage_no": str(no), "imo": str(v.imo), "vessel_name": reg.name,
            "load_port": v.load_call.port, "load_arrival_at": reference.iso_z(v.load_call.arrival),
            "load_departure_at": reference.iso_z(v.load_call.departure),
            "discharge_port": v.destination.port if v.destination else "",
            "destination_status": v.status, "capacity_bbl": str(reference.whole_barrels(v.capacity_bbl)),
            "load_fraction": f"{v.load_fraction:.4f}", "volume_bbl": str(v.volume_bbl),
            "counts_toward_cap": "true" if v.counts_toward_cap else "false",
            "capacity_source": "cargo_capacity_m3" if reg.cargo_m3 else "dwt",
            "load_fraction_source": "imagery_median" if v.fraction_evidence else "default",
            "load_call_sightings": _ids(v.load_call.sightings),
            "discharge_call_sightings": _ids(v.destination.sightings) if v.destination else "",
            "laden_sightings": _ids(v.fraction_evidence),
        })
    return rows


def summary(ref: reference.Reference, bundle: Path, seed: int) -> dict:
    """The figures a demo run must publish, and the sizes of the inputs they come from."""
    counted = [v for v in ref.voyages if v.counts_toward_cap]
    breach = reference.breach_dates([(v.load_call.departure, v.volume_bbl) for v in counted])
    first_year = reference.utc_date(ref.voyages[0].load_call.departure).year
    statuses: dict[str, int] = {}
    for v in ref.voyages:
        statuses[v.status] = statuses.get(v.status, 0) + 1
    with (bundle / IMAGERY).open(newline="", encoding="utf-8") as handle:
        imagery_rows = sum(1 for _ in csv.DictReader(handle))
    return {
        "seed": seed,
        "voyages": len(ref.voyages),
        "tankers": len({v.imo for v in ref.voyages}),
        "first_load_departure": reference.utc_date(ref.voyages[0].load_call.departure).isoformat(),
        "last_load_departure": reference.utc_date(ref.voyages[-1].load_call.departure).isoformat(),
        "total_bbl": sum(v.volume_bbl for v in counted),
        "cap_bbl": reference.CAP_BBL,
        "breach_date": breach[first_year].isoformat() if breach.get(first_year) else None,
        "imagery_rows": imagery_rows,
        "ais_lines": len((bundle / NMEA).read_text(encoding="ascii").splitlines()),
        "rejected_expected": ref.usable["imagery"] - ref.resolved["imagery"],
        "destination_status": dict(sorted(statuses.items())),
        "load_fraction_default_voyages": sum(not v.fraction_evidence for v in ref.voyages),
    }


def csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def answer_key(bundle: Path, seed: int) -> tuple[str, str, dict]:
    """(truth/voyages.csv text, truth/summary.json text, the summary) of the bundle's inputs."""
    ref = derive_bundle(bundle)
    facts = summary(ref, bundle, seed)
    return csv_text(TRUTH_HEADER, truth_rows(ref)), json.dumps(facts, indent=2) + "\n", facts


def write_answer_key(bundle: Path, seed: int) -> dict:
    voyages, summary_text, facts = answer_key(bundle, seed)
    for rel, text in ((VOYAGES_CSV, voyages), (SUMMARY_JSON, summary_text)):
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_bytes(text.encode("utf-8"))
    return facts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundle", type=Path, help="directory holding registry/ and sightings/")
    ap.add_argument("--seed", type=int, required=True, help="the seed the bundle's inputs were made with")
    args = ap.parse_args(argv)
    print(json.dumps(write_answer_key(args.bundle, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
