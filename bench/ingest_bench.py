"""Ingest benchmarks: AIS NMEA throughput and OFAC / OpenSanctions parse time, each with peak memory.

Run with `make bench` (or `python bench/ingest_bench.py --scale 2`). Each case runs in its own
process so its peak RSS is its own; inputs are synthetic copies of real-format lines.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import tempfile
import time
from pathlib import Path

from pyais.encode import encode_dict

REPO = Path(__file__).resolve().parent.parent


def nmea_checksum(text: str) -> str:
    value = 0
    for char in text:
        value ^= ord(char)
    return f"{value:02X}"


def write_nmea(path: Path, messages: int, seed: int = 1) -> None:
    """Class A positions with tag blocks, a two-part type 5 every 50 messages."""
    rng = random.Random(seed)
    start = 1_704_067_200
    with path.open("w", encoding="ascii") as out:
        for n in range(messages):
            stamp = start + n
            tag = f"c:{stamp}"
            if n % 50 == 0:
                sentences = encode_dict(
                    {"type": 5, "mmsi": 445_000_000 + n % 40, "imo": 8604917, "shipname": "YU JONG 2",
                     "callsign": "HMZA", "ship_type": 80, "draught": 4.2, "destination": "VOSTOCHNY"},
                    talker_id="AI", sentence_type="VDM", radio_channel="A", seq_id=n % 10,
                )
            else:
                sentences = encode_dict(
                    {"type": 1, "mmsi": 445_000_000 + n % 40, "lat": 42.7 + rng.random() / 10,
                     "lon": 133.0 + rng.random() / 10, "speed": rng.random() * 12, "course": 90.0},
                    talker_id="AI", sentence_type="VDM",
                )
            for sentence in sentences:
                out.write(f"\\{tag}*{nmea_checksum(tag)}\\{sentence}\n")


def write_opensanctions(path: Path, lines: int, seed: int = 2) -> None:
    """A third each Vessel, Sanction and Person entities, in the export's one-object-a-line form."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for n in range(lines):
            kind = n % 3
            if kind == 0:
                entity = {"id": f"v{n}", "schema": "Vessel", "caption": f"TANKER {n}", "properties": {
                    "name": [f"TANKER {n}"], "alias": [f"ALIAS {n}"],
                    "imoNumber": [f"IMO{rng.randrange(10**6, 10**7)}"],
                    "flag": ["kp"], "deadweightTonnage": [str(rng.randrange(1000, 9000))]}, "datasets": ["sanctions"]}
            elif kind == 1:
                entity = {"id": f"s{n}", "schema": "Sanction", "caption": "Sanction", "properties": {
                    "entity": [f"v{n - 1}"], "authority": ["US Treasury"], "listingDate": ["2018-02-23"]},
                    "datasets": ["sanctions"]}
            else:
                entity = {
                    "id": f"p{n}", "schema": "Person", "caption": f"PERSON {n}", "properties": {"name": [f"PERSON {n}"]}
                }
            out.write(json.dumps(entity, separators=(",", ":")) + "\n")


def write_ofac(path: Path, copies: int) -> None:
    """The real 2024 OFAC excerpt's records repeated, with fresh entry numbers."""
    source = (REPO / "demo" / "sanctions" / "ofac_sdn_dprk_20240503.csv").read_bytes().split(b"\r\n")
    records = [line for line in source if line and line != b"\x1a"]
    with path.open("wb") as out:
        for copy in range(copies):
            for number, record in enumerate(records):
                _, rest = record.split(b",", 1)
                out.write(str(copy * 100_000 + number + 1).encode() + b"," + rest + b"\r\n")
        out.write(b"\x1a")


def _parse_case(name: str, path: str, queue) -> None:
    from tankerwatch.parsers.ais_nmea import parse_ais_nmea
    from tankerwatch.parsers.ofac import parse_sdn_csv
    from tankerwatch.parsers.opensanctions import parse_opensanctions_ftm
    from tankerwatch.parsers.sink import TableSink

    parsers = {"ais_nmea": parse_ais_nmea, "ofac_sdn_csv": parse_sdn_csv, "opensanctions_ftm": parse_opensanctions_ftm}
    parser = parsers[name]
    with tempfile.TemporaryDirectory() as spill:
        sink = TableSink(spill_dir=Path(spill))
        started = time.perf_counter()
        parser(Path(path), sink)
        sink.close()
        seconds = time.perf_counter() - started
        rows = sum(sink.rows(table) for table in sink.tables())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"case": name, "seconds": seconds, "rows": rows, "rejects": len(sink.rejects), "peak_rss_mb": peak_mb})


def measure(name: str, path: Path) -> dict:
    queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(target=_parse_case, args=(name, str(path), queue))
    process.start()
    result = queue.get(timeout=3600)
    process.join()
    result["mb_in"] = path.stat().st_size / 1024**2
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every input size (1 = 300k AIS messages)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        inputs = {
            "ais_nmea": (work_dir / "ais.nmea", lambda p: write_nmea(p, int(300_000 * args.scale))),
            "ofac_sdn_csv": (work_dir / "sdn.csv", lambda p: write_ofac(p, int(200 * args.scale))),
            "opensanctions_ftm": (
                work_dir / "entities.ftm.json", lambda p: write_opensanctions(p, int(200_000 * args.scale))
            ),
        }
        print(f"{'case':<20}{'input MB':>10}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'peak RSS MB':>13}")
        for name, (path, make) in inputs.items():
            make(path)
            r = measure(name, path)
            print(
                f"{name:<20}{r['mb_in']:>10.1f}{r['rows']:>12,}{r['seconds']:>10.2f}"
                f"{r['rows'] / r['seconds']:>12,.0f}{r['peak_rss_mb']:>13.0f}"
            )


if __name__ == "__main__":
    main()
