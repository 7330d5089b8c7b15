"""Large synthetic AIS tables (raw_ais_positions, raw_ais_static, raw_registry_vessels) built with numpy.

For benchmarks of the port-call and voyage models at 1M-10M positions: every vessel
cycles through a stay at a load terminal (Vostochny, Kozmino, Nakhodka), a transit to a
DPRK port, a stay there and the transit back, with a fix every few minutes. Type 5
reports carry the IMO and flip the draught from empty to laden during each terminal
stay and back during each DPRK stay, so states, loads and voyages exist.

The three functions agree for the same (n_positions, n_vessels, seed, year). Nothing
loops over rows in Python; vessels are processed in chunks to bound memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from scenarios.geo import DISCHARGE_WEIGHTS, KM_PER_DEG_LAT, lane, load_ports

TERMINALS = ("vostochny", "kozmino", "nakhodka")
TERMINAL_P = (0.8, 0.1, 0.1)
DISCHARGE = tuple(DISCHARGE_WEIGHTS)
DISCHARGE_P = tuple(w / sum(DISCHARGE_WEIGHTS.values()) for w in DISCHARGE_WEIGHTS.values())
BERTH_KM = 1.0  # berths lie this close to the port point: well inside every radius
STAY_DAYS = (1.5, 4.0)
FIX_INTERVAL_S = (150, 330)  # a vessel's mean interval between fixes ("every few minutes")
FIX_JITTER_S = 30
LOADED_AT = 0.75  # share of a terminal stay after which the draught reads laden
DISCHARGED_AT = 0.5  # share of a DPRK stay after which it reads empty again
CHUNK_ROWS = 2_000_000
DAY = 86400

POSITION_SCHEMA = {
    "source_name": pl.String, "snapshot_id": pl.String, "source_row": pl.Int64,
    "received_at": pl.Datetime("us", "UTC"), "msg_type": pl.Int64, "mmsi": pl.String,
    "latitude": pl.Float64, "longitude": pl.Float64, "speed_knots": pl.Float64, "course": pl.Float64,
    "heading": pl.Int64, "nav_status": pl.Int64,
}
STATIC_SCHEMA = {
    "source_name": pl.String, "snapshot_id": pl.String, "source_row": pl.Int64,
    "received_at": pl.Datetime("us", "UTC"), "msg_type": pl.Int64, "mmsi": pl.String, "imo": pl.String,
    "call_sign": pl.String, "ship_name": pl.String, "ship_type": pl.Int64, "draught_m": pl.Float64,
    "destination": pl.String,
}
REGISTRY_SCHEMA = {
    "source_name": pl.String, "snapshot_id": pl.String, "source_row": pl.Int64,
    **{c: pl.String for c in ("imo", "name", "former_names", "mmsi", "call_sign", "flag", "vessel_type", "dwt",
                              "gross_tonnage", "cargo_capacity_m3", "summer_draught_m", "build_year", "owner",
                              "updated_at")},
}


def _imo(base6: np.ndarray) -> np.ndarray:
    digits = np.stack([(base6 // 10 ** (5 - i)) % 10 for i in range(6)], axis=1)
    check = (digits * np.arange(7, 1, -1)).sum(axis=1) % 10
    return base6 * 10 + check


@dataclass
class _Fleet:
    """Per-vessel constants and per-cycle durations, all in seconds from the vessel's start."""

    n: int
    rows: np.ndarray  # fixes per vessel
    start: np.ndarray  # unix seconds of the first fix
    interval: np.ndarray  # mean seconds between fixes
    mmsi: np.ndarray
    imo: np.ndarray
    dwt: np.ndarray
    summer_draught: np.ndarray
    route: np.ndarray  # index into routes
    speed_kmh: np.ndarray
    berth: np.ndarray  # (n, 2) at the terminal
    port_berth: np.ndarray  # (n, 2) at the DPRK port
    transit: np.ndarray  # seconds, one way
    cycle_start: np.ndarray  # (n, K) seconds from start
    stay1: np.ndarray  # (n, K) terminal stay
    stay2: np.ndarray  # (n, K) DPRK stay
    routes: list


def _fleet(n_positions: int, n_vessels: int, seed: int, year: int) -> _Fleet:
    if n_vessels < 1 or n_positions < n_vessels:
        raise ValueError("need at least one vessel and one position per vessel")
    rng = np.random.default_rng([seed, 1])
    ports = load_ports()
    rows = np.full(n_vessels, n_positions // n_vessels, dtype=np.int64)
    rows[: n_positions % n_vessels] += 1
    t0 = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    start = t0 + rng.integers(0, DAY, n_vessels)
    interval = rng.integers(*FIX_INTERVAL_S, n_vessels)
    base = 800_000 + np.arange(n_vessels) % 200_000
    imo = _imo(base)
    mmsi = 445_000_000 + np.arange(n_vessels) % 1_000_000
    dwt = rng.integers(150, 600, n_vessels) * 10
    summer = np.round(np.clip(4.5 + 2.0 * (dwt - 1500) / 4500, 4.5, 6.5), 1)
    term = rng.choice(len(TERMINALS), n_vessels, p=TERMINAL_P)
    port = rng.choice(len(DISCHARGE), n_vessels, p=DISCHARGE_P)

    def berths(names, idx):
        lat0 = np.array([ports[p].lat for p in names])[idx]
        lon0 = np.array([ports[p].lon for p in names])[idx]
        r = BERTH_KM * np.sqrt(rng.random(len(idx)))
        a = rng.random(len(idx)) * 2 * np.pi
        lat = lat0 + r * np.cos(a) / KM_PER_DEG_LAT
        return np.stack([lat, lon0 + r * np.sin(a) / (KM_PER_DEG_LAT * np.cos(np.radians(lat0)))], axis=1)

    berth = berths(TERMINALS, term)
    port_berth = berths(DISCHARGE, port)
    # one lane per terminal/port pair, between the port points: a vessel's berth is
    # within a kilometre of them, so the step into and out of a transit is small
    routes = []
    for t in TERMINALS:
        for p in DISCHARGE:
            routes.append(lane((ports[t].lat, ports[t].lon), t, p, (ports[p].lat, ports[p].lon)))
    route = term * len(DISCHARGE) + port
    speed = rng.uniform(9.0, 11.0, n_vessels) * 1.852
    lengths = np.array([r.length_km for r in routes])[route]
    transit = (lengths / speed * 3600).astype(np.int64)
    span = rows * (interval + FIX_JITTER_S)
    min_cycle = 2 * STAY_DAYS[0] * DAY + 2 * transit
    k = int(np.ceil((span / min_cycle).max())) + 2
    stay1 = (rng.uniform(*STAY_DAYS, (n_vessels, k)) * DAY).astype(np.int64)
    stay2 = (rng.uniform(*STAY_DAYS, (n_vessels, k)) * DAY).astype(np.int64)
    # each vessel enters the cycle at a random point, so terminal stays do not all start on 1 January
    length = stay1 + stay2 + 2 * transit[:, None]
    cycle_start = np.cumsum(length, axis=1) - length - (rng.random(n_vessels) * length[:, 0]).astype(np.int64)[:, None]
    return _Fleet(n_vessels, rows, start, interval, mmsi, imo, dwt, summer, route, speed, berth, port_berth, transit,
                  cycle_start, stay1, stay2, routes)


def _phase(f: _Fleet, v: np.ndarray, t_rel: np.ndarray):
    """Cycle index and the phase boundaries for fixes of vessels v at t_rel seconds."""
    k = f.cycle_start.shape[1]
    big = np.int64(1) << 36
    keys = (np.arange(f.n, dtype=np.int64)[:, None] * big + (f.cycle_start + big // 2)).ravel()
    idx = np.searchsorted(keys, v * big + t_rel + big // 2, side="right") - 1
    c = idx - v * k
    u = t_rel - f.cycle_start[v, c]
    p1 = f.stay1[v, c]
    p2 = p1 + f.transit[v]
    p3 = p2 + f.stay2[v, c]
    return c, u, p1, p2, p3


def _positions_chunk(f: _Fleet, lo: int, hi: int, rng: np.random.Generator, row0: int,
                     source_name: str, snapshot_id: str) -> pl.DataFrame:
    counts = f.rows[lo:hi]
    n = int(counts.sum())
    v = np.repeat(np.arange(lo, hi, dtype=np.int64), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    j = np.arange(n, dtype=np.int64) - first  # fix number within the vessel
    t_rel = j * f.interval[v] + rng.integers(-FIX_JITTER_S, FIX_JITTER_S + 1, n) * (j > 0)
    del first, j
    c, u, p1, p2, p3 = _phase(f, v, t_rel)
    del c
    out = u >= p1
    out &= u < p2
    back = u >= p3
    at_port = (u >= p2) & ~back
    lat = np.where(at_port, f.port_berth[v, 0], f.berth[v, 0])
    lon = np.where(at_port, f.port_berth[v, 1], f.berth[v, 1])
    course = rng.uniform(0, 360, n).round(1)
    speed = rng.uniform(0, 0.2, n).round(1)
    status = np.full(n, 5, dtype=np.int64)  # moored
    transit = out | back
    frac = np.where(out, (u - p1), (f.transit[v] - (u - p3))) / f.transit[v]
    for r in np.unique(f.route[v[transit]]):
        sel = np.flatnonzero(transit & (f.route[v] == r))
        ln = f.routes[r]
        rlat, rlon, rcourse = ln.at(frac[sel] * ln.length_km)
        lat[sel], lon[sel] = rlat, rlon
        course[sel] = np.where(out[sel], rcourse, (rcourse + 180.0) % 360.0).round(1)
    del frac
    speed[transit] = (f.speed_kmh[v[transit]] / 1.852 + rng.uniform(-0.4, 0.4, int(transit.sum()))).round(1)
    status[transit] = 0
    # a few tens of metres of swing at the berth, and GPS noise underway
    lat += rng.normal(0, 0.0002, n)
    lon += rng.normal(0, 0.0003, n)
    received = (f.start[v] + t_rel) * 1_000_000
    mmsi = pl.Series("mmsi", [f"{m:09d}" for m in f.mmsi[lo:hi]], pl.String).gather(v - lo)
    return pl.DataFrame({
        "source_name": pl.repeat(source_name, n, dtype=pl.String, eager=True),
        "snapshot_id": pl.repeat(snapshot_id, n, dtype=pl.String, eager=True),
        "source_row": np.arange(row0 + 1, row0 + n + 1, dtype=np.int64),
        "received_at": pl.Series(received).cast(pl.Datetime("us", "UTC")),
        "msg_type": np.ones(n, dtype=np.int64),
        "mmsi": mmsi,
        "latitude": lat.round(6), "longitude": lon.round(6),
        "speed_knots": speed, "course": course,
        "heading": course.astype(np.int64) % 360,
        "nav_status": status.astype(np.int64),
    }, schema=POSITION_SCHEMA)


def generate_positions(n_positions: int, n_vessels: int, seed: int, *, year: int = 2024,
                       source_name: str = "ais", snapshot_id: str | None = None) -> pl.DataFrame:
    """``raw_ais_positions`` rows, lineage columns first, sorted by vessel then time.

    Each vessel sends n_positions / n_vessels class A fixes, one every 150-330 s
    (its own mean) with +-30 s jitter, cycling terminal stay (1.5-4 days), transit
    (~10 kn), DPRK port stay (1.5-4 days), transit back.
    """
    f = _fleet(n_positions, n_vessels, seed, year)
    rng = np.random.default_rng([seed, 2])
    snapshot_id = snapshot_id or f"synthetic{seed:08d}"
    frames = []
    lo = 0
    row0 = 0
    while lo < f.n:
        hi = lo + 1
        while hi < f.n and f.rows[lo:hi + 1].sum() <= CHUNK_ROWS:
            hi += 1
        frames.append(_positions_chunk(f, lo, hi, rng, row0, source_name, snapshot_id))
        row0 += frames[-1].height
        lo = hi
    return pl.concat(frames, rechunk=False)


def generate_static(n_positions: int, n_vessels: int, seed: int, *, year: int = 2024, every_hours: float = 6.0,
                    source_name: str = "ais", snapshot_id: str | None = None) -> pl.DataFrame:
    """``raw_ais_static`` type 5 rows matching ``generate_positions``: a report every
    ``every_hours`` from just before each vessel's first fix to after its last, plus one a
    minute after every draught change (laden at 75% of a terminal stay, empty at half of a
    DPRK stay). Draught 0.45 (empty) or 0.95 (laden) of the summer draught."""
    f = _fleet(n_positions, n_vessels, seed, year)
    snapshot_id = snapshot_id or f"synthetic{seed:08d}"
    step = int(every_hours * 3600)
    span = f.rows * (f.interval + FIX_JITTER_S)
    n_grid = span // step + 2
    v = np.repeat(np.arange(f.n, dtype=np.int64), n_grid)
    j = np.arange(int(n_grid.sum()), dtype=np.int64) - np.repeat(np.cumsum(n_grid) - n_grid, n_grid)
    t_grid = j * step - 300
    k = f.cycle_start.shape[1]
    load_flip = f.cycle_start + (f.stay1 * LOADED_AT).astype(np.int64)
    unload_flip = f.cycle_start + f.stay1 + f.transit[:, None] + (f.stay2 * DISCHARGED_AT).astype(np.int64)
    flips = np.concatenate([load_flip, unload_flip], axis=1) + 60
    fv = np.repeat(np.arange(f.n, dtype=np.int64), 2 * k)
    ft = flips.ravel()
    keep = (ft >= 0) & (ft <= span[fv])
    v = np.concatenate([v, fv[keep]])
    t_rel = np.concatenate([t_grid, ft[keep]])
    order = np.lexsort((t_rel, v))
    v, t_rel = v[order], t_rel[order]
    c, u, p1, p2, p3 = _phase(f, v, np.maximum(t_rel, f.cycle_start[v, 0]))
    loaded = u >= (f.stay1[v, c] * LOADED_AT).astype(np.int64)
    laden = loaded & (u < p2 + (f.stay2[v, c] * DISCHARGED_AT).astype(np.int64))
    draught = np.round(f.summer_draught[v] * np.where(laden, 0.95, 0.45), 1)
    n = len(v)
    names = pl.Series([f"BENCH TANKER {i + 1}" for i in range(f.n)], dtype=pl.String)
    idx = pl.Series(v)
    return pl.DataFrame({
        "source_name": pl.repeat(source_name, n, dtype=pl.String, eager=True),
        "snapshot_id": pl.repeat(snapshot_id, n, dtype=pl.String, eager=True),
        "source_row": np.arange(1, n + 1, dtype=np.int64),
        "received_at": pl.Series((f.start[v] + t_rel) * 1_000_000).cast(pl.Datetime("us", "UTC")),
        "msg_type": np.full(n, 5, dtype=np.int64),
        "mmsi": pl.Series([f"{m:09d}" for m in f.mmsi], dtype=pl.String).gather(idx),
        "imo": pl.Series([str(i) for i in f.imo], dtype=pl.String).gather(idx),
        "call_sign": pl.Series([f"HM{i:04d}" for i in range(f.n)], dtype=pl.String).gather(idx),
        "ship_name": names.gather(idx),
        "ship_type": np.full(n, 80, dtype=np.int64),
        "draught_m": draught,
        "destination": pl.Series(np.where(laden, "FOR ORDERS", "VOSTOCHNY")),
    }, schema=STATIC_SCHEMA)


def generate_fleet_registry(n_vessels: int, seed: int, *, n_positions: int | None = None, year: int = 2024,
                            source_name: str = "registry", snapshot_id: str | None = None) -> pl.DataFrame:
    """``raw_registry_vessels`` rows for the same fleet: IMO, MMSI, DWT and the summer
    draught the AIS draught states are measured against."""
    f = _fleet(n_positions or n_vessels, n_vessels, seed, year)
    n = f.n
    return pl.DataFrame({
        "source_name": [source_name] * n,
        "snapshot_id": [snapshot_id or f"synthetic{seed:08d}"] * n,
        "source_row": np.arange(2, n + 2, dtype=np.int64),
        "imo": [str(i) for i in f.imo],
        "name": [f"BENCH TANKER {i + 1}" for i in range(n)],
        "former_names": [""] * n,
        "mmsi": [f"{m:09d}" for m in f.mmsi],
        "call_sign": [f"HM{i:04d}" for i in range(n)],
        "flag": ["KP"] * n,
        "vessel_type": ["tanker"] * n,
        "dwt": [str(d) for d in f.dwt],
        "gross_tonnage": [""] * n,
        "cargo_capacity_m3": [""] * n,
        "summer_draught_m": [f"{d:.1f}" for d in f.summer_draught],
        "build_year": [""] * n,
        "owner": [""] * n,
        "updated_at": [f"{year}-12-01"] * n,
    }, schema=REGISTRY_SCHEMA)
