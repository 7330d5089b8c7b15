"""A calibrated case: a named fleet's loads at one terminal over one season, written as a bundle.

The random scenarios of scenarios.generator draw their fleets; a case is handed its fleet and
its shape (how many voyages, the first and last load departure and who makes them, how many
destinations go unseen, which tanker no source identifies) by a Calibration, and writes the
bundle's registry and sighting logs (registry/tankers.csv, sightings/imagery_2024.csv,
sightings/ais_2024.nmea) and their answer key (truth/), as demo/generate.py does for the demo.

Pipeline:  plan_voyages -> plan_timeline -> emit_imagery -> emit_ais -> write ->
           scenarios.answer_key (scenarios.reference's DOMAIN rules on the written
           bytes: the one answer engine) -> check against the calibration -> write truth/.

Determinism: every random draw comes from one random.Random(seed), in a fixed
order; nothing reads the clock or iterates a set. Same calibration and seed, same bytes.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

from pyais.encode import encode_dict
from stdnum import imo as stdnum_imo

from scenarios import answer_key, reference
from scenarios.answer_key import csv_text
from scenarios.generator import (
    IMAGERY_HEADER,
    REGISTRY_HEADER,
    _jitter,
    _move_some,
    _stay_times,
    daylight,
    loose_name,
    midnight,
    near,
    spaced_days,
    tag_block,
)
from scenarios.geo import (
    DISCHARGE_WEIGHTS,
    TERMINAL_APPROACH,
    Lane,
    Port,
    clear_of_ports,
    dist_to_dprk_coast_km,
    haversine_km,
    lane,
    load_ports,
    port_at,
)
from scenarios.reference import utc_date

# --- geometry conventions of the synthetic data -----------------------------------
IN_PORT_MAX_KM = 1.5  # sightings "at" a port lie this close to the port point
BERTH_MAX_KM = 1.2  # berth/anchorage points are drawn inside this disc; jitter stays under 1.5 km
DARK_KM = 60.0  # AIS transmitters go dark this close to the DPRK coast
LOAD_PORT = "vostochny"  # the lanes of scenarios.geo and the Kozmino check assume this terminal

DAY = 86400
HOUR = 3600


# ============================================================================ tankers
@dataclass(frozen=True)
class Tanker:
    name: str
    imo: int
    flag: str  # both spellings the registry_csv kind allows
    vessel_type: str
    owner: str  # OFAC "Linked To" (real)
    dwt: int
    voyages: int  # how many of the case's voyages this tanker makes
    real: tuple[str, ...]  # "field: value (source)" lines for ESTIMATES.md
    dwt_note: str  # how the DWT was obtained
    cargo_m3: int | None = None
    cargo_note: str = ""
    gross_tonnage: int | None = None
    build_year: int | None = None
    former_names: str = ""
    mmsi: int | None = None  # synthetic DPRK MID 445 numbers (4459000NN: obviously invented)
    call_sign: str = ""  # synthetic, DPRK prefix HM
    ais: bool = False  # transmits AIS in the case

    @property
    def summer_draught(self) -> float:
        # Small product tankers: about 4.5 m at 1,500 t to 6.5 m at 6,000 t. Linear in
        # DWT is crude but transparent; it only feeds the AIS draught ratios.
        t = 4.5 + 2.0 * (self.dwt - 1500) / 4500
        return round(min(6.5, max(4.5, t)), 1)


@dataclass(frozen=True)
class Calibration:
    """The shape of a case: its fleet and the public facts its answer must reproduce."""

    tankers: tuple[Tanker, ...]
    voyages: int  # the tankers' voyages add up to this
    first_departure: date  # the first load departure, made by first_tanker
    last_departure: date  # the last, made by last_tanker
    first_tanker: str
    last_tanker: str
    total_range_bbl: tuple[float, float]  # the counted volume must land in this range
    min_tankers: int
    unresolvable_name: str  # a tanker seen loading whom no source identifies: its rows are rejects
    unresolvable_spellings: tuple[str, ...]
    unresolvable_first_day: date  # seen empty, partial, then laden on three days from this one
    registry_updated_from: date  # registry rows carry an updated_at up to 20 days after
    min_spacing_days: int = 24  # one tanker: leaves >= 10 idle days between voyages
    unconfirmed: int = 4  # voyages whose destination no analyst sees
    default_fraction: int = 2  # confirmed voyages with no load fraction read (the default applies)
    at_sea: int = 7  # laden sightings at sea
    unknown: int = 6  # sightings whose state the analyst could not tell

    @property
    def year(self) -> int:
        return self.first_departure.year


# ============================================================================ geography
# (distances, bearings and the port rule come from scenarios.geo)


def outbound_route(start: tuple[float, float], port: Port, end: tuple[float, float]) -> Lane:
    return lane(start, LOAD_PORT, port.port_id, end)


# ============================================================================ planning
@dataclass
class ImageryEvent:
    t: int
    lat: float
    lon: float
    state: str  # empty | partial | laden | unknown
    load_fraction: float | None
    where: str  # port_id or "sea"
    kind: str  # arrival | loading | departure | at_sea | discharge_laden | discharge_empty | noise | unresolvable


@dataclass
class Voyage:
    tanker: Tanker
    seq: int  # 1.. within the tanker
    dep_day: date
    stay_days: int
    discharge: str  # physical discharge port (hidden when unconfirmed)
    confirmed: bool  # False: no DPRK sighting is emitted
    fraction: float  # planned load fraction (what the analysts read, +- noise)
    no_fraction: bool = False  # analysts gave no load_fraction at all (default 0.90 applies)
    speed_kmh: float = 18.5
    anchorage: tuple[float, float] = (0.0, 0.0)
    berth: tuple[float, float] = (0.0, 0.0)
    t_arrive: int = 0  # drops anchor inside the terminal
    t_berth: int = 0  # moves from the anchorage to the berth
    t_leave: int = 0  # leaves the terminal
    t_port_arrive: int = 0  # reaches the discharge port
    t_port_leave: int = 0  # leaves the discharge port
    port_berth: tuple[float, float] = (0.0, 0.0)
    out_route: Lane | None = None
    events: list[ImageryEvent] = field(default_factory=list)

    @property
    def a_day(self) -> date:
        return self.dep_day - timedelta(days=self.stay_days)

    def t_first_laden_image(self) -> int:
        return min(e.t for e in self.events if reference.imagery_state(e.state, e.load_fraction) == "laden"
                   and e.where == LOAD_PORT)


def plan_voyages(rng: random.Random, cal: Calibration) -> list[Voyage]:
    """Who loads when: departure days, stays, discharge ports, load fractions."""
    span = (cal.last_departure - cal.first_departure).days
    g = cal.min_spacing_days
    voyages: list[Voyage] = []
    for tk in cal.tankers:
        if tk.name == cal.first_tanker:  # the case's first load departure
            days = [0] + spaced_days(rng, tk.voyages - 1, g, span - 1, g)
        elif tk.name == cal.last_tanker:  # and its last
            days = spaced_days(rng, tk.voyages - 1, 1, span - g, g) + [span]
        else:
            days = spaced_days(rng, tk.voyages, 1, span - 1, g)
        for i, d in enumerate(days, 1):
            voyages.append(Voyage(
                tanker=tk, seq=i, dep_day=cal.first_departure + timedelta(days=d),
                stay_days=rng.choice([1, 2, 2, 3, 3, 4]),
                discharge=rng.choices(list(DISCHARGE_WEIGHTS), list(DISCHARGE_WEIGHTS.values()))[0],
                confirmed=True, fraction=round(rng.uniform(0.87, 0.93), 3),
                speed_kmh=rng.uniform(9.0, 11.0) * 1.852))
    assert len(voyages) == cal.voyages, len(voyages)
    # Some voyages leave no DPRK trace (destination unobserved) ...
    for v in rng.sample(voyages, cal.unconfirmed):
        v.confirmed = False
    # ... and on some the analysts never estimated a load fraction (the default applies).
    for v in rng.sample([v for v in voyages if v.confirmed], cal.default_fraction):
        v.no_fraction = True
    voyages.sort(key=lambda v: (v.dep_day, v.tanker.imo))
    return voyages


def laden_fraction(rng: random.Random, v: Voyage) -> float | None:
    if v.no_fraction:
        return None
    return round(min(0.95, max(0.85, v.fraction + rng.uniform(-0.025, 0.025))), 2)


def empty_fraction(rng: random.Random) -> float:
    return round(rng.uniform(0.05, 0.20), 2)


def plan_timeline(rng: random.Random, v: Voyage, ports: dict[str, Port]) -> None:
    """Physical movements and the imagery events of one voyage."""
    vost = ports[LOAD_PORT]
    v.anchorage = near(rng, (vost.lat, vost.lon), BERTH_MAX_KM)
    v.berth = near(rng, (vost.lat, vost.lon), BERTH_MAX_KM)
    # Anchors the evening before the first image (so AIS arrival precedes it), leaves in the
    # UTC morning of the departure day, after the last image.
    v.t_arrive = midnight(v.a_day) - int(rng.uniform(2, 12) * HOUR)
    v.t_leave = midnight(v.dep_day) + int(rng.uniform(6, 10) * HOUR)

    # Terminal imagery: 1-2 empty on arrival, maybe a partial, 1-2 laden before departure.
    n_empty, n_laden = rng.choice([1, 2]), rng.choice([1, 2])
    partial = rng.random() < 0.35
    times = _stay_times(rng, v.a_day, v.dep_day, n_empty + int(partial) + n_laden)
    states = ["empty"] * n_empty + ["partial"] * int(partial) + ["laden"] * n_laden
    # The ship moves to the berth between the last empty image and the next one.
    v.t_berth = (times[n_empty - 1] + times[n_empty]) // 2
    for t, st in zip(times, states, strict=True):
        pt = _jitter(rng, v.anchorage if t < v.t_berth else v.berth)
        if st == "empty":
            lf, kind = empty_fraction(rng), "arrival"
        elif st == "partial":
            # keep clear of the 0.5 threshold: 0.30-0.45 counts as empty, 0.55-0.70 as laden
            lf = round(rng.choice([rng.uniform(0.30, 0.45), rng.uniform(0.55, 0.70)]), 2)
            kind = "loading"
        else:
            lf, kind = laden_fraction(rng, v), "departure"
        v.events.append(ImageryEvent(t, pt[0], pt[1], st, lf, LOAD_PORT, kind))

    # Sail to the discharge port (also when the analysts never see it there).
    port = ports[v.discharge]
    v.port_berth = near(rng, (port.lat, port.lon), 1.0)
    v.out_route = outbound_route(v.berth, port, v.port_berth)
    v.t_port_arrive = v.t_leave + int(v.out_route.length_km / v.speed_kmh * HOUR)

    # Laden at the DPRK port 2-4 days after departure (never before it could get there),
    # empty there 1-3 days later.
    offset = rng.randint(2, 4)
    while midnight(v.dep_day + timedelta(days=offset)) + int(-1.5 * HOUR) < v.t_port_arrive + HOUR:
        offset += 1
    t_laden = max(daylight(rng, v.dep_day + timedelta(days=offset)), v.t_port_arrive + HOUR)
    # (the image day is the local one: a 23:30 UTC pass belongs to the next day's window)
    t_empty = daylight(rng, utc_date(t_laden + 2 * HOUR) + timedelta(days=rng.randint(1, 3)))
    v.t_port_leave = t_empty + int(rng.uniform(2, 8) * HOUR)
    if v.confirmed:
        for t, st, lf, kind in ((t_laden, "laden", laden_fraction(rng, v), "discharge_laden"),
                                (t_empty, "empty", empty_fraction(rng), "discharge_empty")):
            pt = _jitter(rng, v.port_berth)
            v.events.append(ImageryEvent(t, pt[0], pt[1], st, lf, v.discharge, kind))


def add_at_sea_sightings(rng: random.Random, voyages: list[Voyage], ports: dict[str, Port], n: int) -> None:
    """A few laden sightings at sea on the way to the DPRK (daylight, clear of all ports)."""
    candidates = []
    for v in voyages:
        d = utc_date(v.t_leave)
        for k in range(0, 4):
            t = daylight(rng, d + timedelta(days=k))
            if v.t_leave + 2 * HOUR < t < v.t_port_arrive - 2 * HOUR:
                lat, lon, _ = v.out_route.at((t - v.t_leave) / HOUR * v.speed_kmh)
                if clear_of_ports(ports, lat, lon) and haversine_km(lat, lon, *TERMINAL_APPROACH[LOAD_PORT]) > 20:
                    candidates.append((v, t, lat, lon))
                    break
    for v, t, lat, lon in rng.sample(candidates, min(n, len(candidates))):
        v.events.append(ImageryEvent(t, lat, lon, "laden", laden_fraction(rng, v), "sea", "at_sea"))


def add_unknown_sightings(rng: random.Random, voyages: list[Voyage], n: int) -> None:
    """Cloud or shadow: the analyst saw the ship but could not tell its state. Placed strictly
    inside a call (between its first and last image) so it changes no arrival or departure."""
    for v in rng.sample(voyages, n):
        at_terminal = [e for e in v.events if e.where == LOAD_PORT]
        dprk = [e for e in v.events if e.where == v.discharge]
        group = dprk if (dprk and rng.random() < 0.4) else at_terminal
        lo, hi = group[0].t + HOUR, group[-1].t - HOUR
        # a daylight pass on one of the call's days, strictly inside the call
        days = [utc_date(lo) + timedelta(days=k) for k in range((utc_date(hi) - utc_date(lo)).days + 2)]
        slots = [t for t in (daylight(rng, d) for d in days) if lo < t < hi]
        if not slots:
            continue
        t = rng.choice(slots)
        base = group[0] if t < v.t_berth or group is dprk else None
        pt = (base.lat, base.lon) if base else v.berth
        pt = _jitter(rng, pt)
        v.events.append(ImageryEvent(t, pt[0], pt[1], "unknown", None, group[0].where, "noise"))
        v.events.sort(key=lambda e: e.t)


def check_spacing(voyages: list[Voyage]) -> None:
    """Same tanker: at least ~10 days between the end of one voyage and the next arrival,
    and a physically possible timeline."""
    by_tanker: dict[int, list[Voyage]] = {}
    for v in voyages:
        by_tanker.setdefault(v.tanker.imo, []).append(v)
    for vs in by_tanker.values():
        vs.sort(key=lambda v: v.dep_day)
        for a, b in pairwise(vs):
            last_a = max(e.t for e in a.events)
            assert b.t_arrive - max(last_a, a.t_port_leave) >= 10 * DAY - 12 * HOUR, (a.tanker.name, a.dep_day)
    for v in voyages:
        ts = sorted(e.t for e in v.events)
        assert len(ts) == len(set(ts))
        assert v.t_arrive < ts[0] and v.t_leave > max(e.t for e in v.events if e.where == LOAD_PORT)


# ============================================================================ imagery
NOTES = {
    "arrival": ["arrived, high freeboard", "at anchor, riding high", "empty, awaiting berth",
                "high freeboard, red hull band visible"],
    "loading": ["alongside, loading in progress", "at berth, partly laden", "hoses connected"],
    "departure": ["alongside, low in water", "deep laden", "loading complete, low freeboard",
                  "laden, tug alongside"],
    "at_sea": ["underway SW, laden", "laden, heading toward DPRK", "underway, low freeboard"],
    "discharge_laden": ["at pier, deep in water", "alongside, laden", "moored at oil pier, laden"],
    "discharge_empty": ["discharged, high freeboard", "empty at berth", "riding high at pier"],
    "noise": ["cloud cover, state unclear", "partial cloud, hull not visible",
              "shadow obscures waterline"],
}


def image_source(rng: random.Random, t: int, lon: float, has_fraction: bool) -> tuple[str, str, str]:
    """(source, image_id, confidence). Load fractions are read from metre-class imagery, so
    rows without one are mostly Sentinel-2. The ids only imitate the providers' formats."""
    dt = datetime.fromtimestamp(t, UTC)
    if not has_fraction and rng.random() < 0.7:
        src = "Sentinel-2"
    else:
        src = rng.choices(["Planet", "Maxar", "Sentinel-2"], [55, 30, 15])[0]
    if src == "Planet":
        iid = f"{dt:%Y%m%d_%H%M%S}_{rng.randint(0, 99):02d}_{rng.randint(0, 0xFFFF):04x}"
        conf = rng.choice(["high", "medium", "medium"])
    elif src == "Maxar":
        iid = f"10400100{rng.randint(0, 0xFFFFFFFF):08X}"
        conf = rng.choice(["high", "high", "medium"])
    else:
        tile = "T53TLH" if lon > 132 else "T52TES"
        iid = (f"S2{rng.choice('AB')}_MSIL2A_{dt:%Y%m%dT%H%M%S}_N0510_R{rng.randint(1, 143):03d}_"
               f"{tile}_{dt + timedelta(hours=2):%Y%m%dT%H%M%S}")
        conf = rng.choice(["low", "medium"])
    return src, iid, conf


def format_observed_at(rng: random.Random, t: int, lon: float, where: str) -> str:
    """Mostly UTC ('Z' or '+00:00'); some analysts log local time: Vladivostok +10:00 for
    Russian ports, Pyongyang +09:00 for DPRK ports."""
    r = rng.random()
    if where != "sea" and r < 0.18:
        hours = 10 if lon > 131.0 else 9
        dt = datetime.fromtimestamp(t, timezone(timedelta(hours=hours)))
        return dt.isoformat()
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if r < 0.75 else dt.isoformat()


def emit_imagery(rng: random.Random, voyages: list[Voyage], ports: dict[str, Port],
                 cal: Calibration) -> list[dict[str, str]]:
    """All imagery rows: voyage events, the unresolvable tanker, identity noise, shuffled order."""
    items: list[tuple[int, Tanker | None, ImageryEvent]] = []
    for v in voyages:
        items += [(e.t, v.tanker, e) for e in v.events]

    # The unresolvable tanker: seen empty then laden at the terminal; no IMO, not in the
    # registry, so the pipeline cannot resolve it and must reject these rows (they would
    # otherwise look like a load).
    vost = ports[LOAD_PORT]
    spot = near(rng, (vost.lat, vost.lon), BERTH_MAX_KM)
    d0 = cal.unresolvable_first_day
    for k, (st, lf) in enumerate([("empty", empty_fraction(rng)), ("partial", 0.6), ("laden", 0.9)]):
        pt = _jitter(rng, spot)
        items.append((daylight(rng, d0 + timedelta(days=k), 0.0, 5.5), None,
                      ImageryEvent(0, pt[0], pt[1], st, lf, LOAD_PORT, "unresolvable")))
    items.sort(key=lambda x: x[0])

    unresolvable_notes = [f"hull marking {cal.unresolvable_name}, no IMO visible", "name read from stern, IMO unknown"]
    rows = []
    for i, (t, tk, e) in enumerate(items, 1):
        src, iid, conf = image_source(rng, t, e.lon, e.load_fraction is not None)
        row = {
            "sighting_id": f"IMG-{cal.year}-{i:04d}",
            "observed_at": format_observed_at(rng, t, e.lon, e.where),
            "source": src, "image_id": iid,
            "latitude": f"{e.lat:.6f}", "longitude": f"{e.lon:.6f}",
            "vessel_name": tk.name if tk else cal.unresolvable_name,
            "imo": str(tk.imo) if tk else "",
            "mmsi": str(tk.mmsi) if tk and tk.mmsi and rng.random() < 0.3 else "",
            "laden_state": e.state,
            "load_fraction": "" if e.load_fraction is None else f"{e.load_fraction:g}",
            "confidence": "low" if e.state == "unknown" else conf,
            "notes": rng.choice(NOTES[e.kind] if tk else unresolvable_notes),
        }
        if tk is None:
            row["vessel_name"] = rng.choice(cal.unresolvable_spellings)
        rows.append((tk, row))

    # Identity noise: ~15% of the tankers' rows lose their IMO. Ships the registry gives an
    # MMSI keep it (resolvable by MMSI); the others are left with a loosely spelled name.
    resolvable = [(tk, r) for tk, r in rows if tk is not None]
    for tk, r in rng.sample(resolvable, round(0.15 * len(resolvable))):
        r["imo"] = ""
        if tk.mmsi:
            r["mmsi"] = str(tk.mmsi)
            if rng.random() < 0.5:
                r["vessel_name"] = loose_name(rng, tk.name)
        else:
            r["vessel_name"] = loose_name(rng, tk.name)
    # ... and a few rows that keep their IMO are spelled loosely too.
    for tk, r in rng.sample(resolvable, 10):
        r["vessel_name"] = loose_name(rng, tk.name)

    # Analysts append late-read images: ~8% of rows sit out of time order.
    return _move_some(rng, [r for _, r in rows], 0.08)


# ============================================================================ AIS
@dataclass
class AisMsg:
    t: int
    mmsi: int
    order: int  # tie-break: type 5 before a position at the same second
    data: dict


def draught_for(tk: Tanker, laden: bool) -> float:
    # AIS carries draught in 0.1 m: empty ~0.45, laden ~0.95 of the summer draught
    return round(tk.summer_draught * (0.95 if laden else 0.45), 1)


def ship_dims(tk: Tanker) -> dict:
    length = round(4.6 * tk.dwt ** 0.36)
    beam = round(length / 6.5)
    bow = round(length * 0.85)
    return {"to_bow": bow, "to_stern": length - bow, "to_port": beam // 2, "to_starboard": beam - beam // 2}


def transit_positions(rng: random.Random, route: Lane, t0: int, speed_kmh: float,
                      t_from: int, t_to: int, ports: dict[str, Port]) -> list[tuple[int, float, float, float]]:
    """Positions every 1-3 h along a route sailed from t0, between t_from and t_to, kept only
    clear of every port (so none falls near a port's edge)."""
    out = []
    t = t_from
    while t <= t_to:
        lat, lon, course = route.at((t - t0) / HOUR * speed_kmh)
        if clear_of_ports(ports, lat, lon):
            out.append((t, lat, lon, course))
        t += int(rng.uniform(1, 3) * HOUR)
    return out


def voyage_ais(rng: random.Random, v: Voyage, prev_port: Port, ports: dict[str, Port]) -> list[AisMsg]:
    """One continuous AIS window: reappear on the way in, sit in the terminal, sail out, go
    dark near the DPRK coast. Draught: empty until the first laden image, laden after."""
    tk = v.tanker
    msgs: list[AisMsg] = []
    t_flip = v.t_first_laden_image()

    # Inbound: from the previous discharge port to the anchorage; only the stretch after the
    # last point within DARK_KM of the DPRK coast is transmitted.
    inbound = outbound_route(v.anchorage, prev_port, (prev_port.lat, prev_port.lon)).reversed()
    t0 = v.t_arrive - int(inbound.length_km / v.speed_kmh * HOUR)
    s_dark = 0.0
    s = 0.0
    while s < inbound.length_km:
        lat, lon, _ = inbound.at(s)
        if dist_to_dprk_coast_km(lat, lon) <= DARK_KM:
            s_dark = s
        s += 2.0
    t_reappear = t0 + int((s_dark + 4.0) / v.speed_kmh * HOUR) + rng.randint(0, 3600)
    positions = [(t, lat, lon, c, "transit")
                 for t, lat, lon, c in transit_positions(rng, inbound, t0, v.speed_kmh, t_reappear,
                                                         v.t_arrive - 600, ports)]

    # In the terminal: stationary at anchor, then at the berth; never within 2 minutes of
    # the draught flip so that no position carries an out-of-date empty draught.
    t = v.t_arrive + rng.randint(600, 3000)
    while t < v.t_leave - 300:
        if not (t_flip - 120 <= t <= t_flip + 180):
            pt = _jitter(rng, v.anchorage if t < v.t_berth else v.berth, 0.04)
            positions.append((t, pt[0], pt[1], rng.uniform(0, 359.9), "anchor" if t < v.t_berth else "berth"))
        t += int(rng.uniform(1, 3) * HOUR)

    # Outbound until the ship is within DARK_KM of the DPRK coast; then silence.
    for tt, lat, lon, c in transit_positions(rng, v.out_route, v.t_leave, v.speed_kmh,
                                             v.t_leave + rng.randint(1800, 5400), v.t_port_arrive, ports):
        if dist_to_dprk_coast_km(lat, lon) <= DARK_KM:
            break
        positions.append((tt, lat, lon, c, "transit"))

    for t, lat, lon, course, mode in positions:
        moving = mode == "transit"
        msgs.append(AisMsg(t, tk.mmsi, 1, {
            "type": 1, "mmsi": tk.mmsi, "status": 0 if moving else (1 if mode == "anchor" else 5),
            "lat": round(lat, 5), "lon": round(lon, 5),
            "speed": (round(v.speed_kmh / 1.852 + rng.uniform(-0.4, 0.4), 1) if moving
                      else round(rng.uniform(0, 0.2), 1)),
            "course": round(course, 1), "heading": int(course) % 360 if moving else int(course),
            "second": t % 60, "accuracy": 0}))

    # Type 5 every 6-12 h from just before the first position to the last, plus one at the
    # flip (60 s after the first laden image).
    w_start, w_end = positions[0][0] - rng.randint(60, 600), positions[-1][0]
    t5 = [w_start]
    while True:
        nxt = t5[-1] + int(rng.uniform(6, 12) * HOUR)
        if t5[-1] < t_flip + 60 <= nxt:
            nxt = t_flip + 60
        if nxt > w_end:
            break
        t5.append(nxt)
    eta = datetime.fromtimestamp(v.t_arrive, UTC)
    for t in t5:
        laden = t >= t_flip
        msgs.append(AisMsg(t, tk.mmsi, 0, {
            "type": 5, "mmsi": tk.mmsi, "ais_version": 0, "imo": tk.imo, "callsign": tk.call_sign,
            "shipname": tk.name, "ship_type": 80, **ship_dims(tk), "epfd": 1,
            "month": 0 if laden else eta.month, "day": 0 if laden else eta.day,
            "hour": 24 if laden else eta.hour, "minute": 60 if laden else eta.minute,
            "draught": draught_for(tk, laden),
            "destination": "FOR ORDERS" if laden else "VOSTOCHNY", "dte": 0}))
    return msgs


def emit_ais(rng: random.Random, voyages: list[Voyage], ports: dict[str, Port], cal: Calibration) -> list[str]:
    msgs: list[AisMsg] = []
    for tk in cal.tankers:
        if not tk.ais:
            continue
        vs = sorted((v for v in voyages if v.tanker is tk), key=lambda v: v.dep_day)
        prev = ports[rng.choice(["rajin", "chongjin"])]  # where it sat before the season
        for v in vs:
            msgs += voyage_ais(rng, v, prev, ports)
            prev = ports[v.discharge]
    msgs.sort(key=lambda m: (m.t, m.order, m.mmsi))
    lines = []
    seq = 0
    for m in msgs:
        if m.data["type"] == 5:  # two-part: sequential message id 0-9
            sentences = encode_dict(m.data, talker_id="AI", sentence_type="VDM",
                                    radio_channel=rng.choice("AB"), seq_id=seq)
            seq = (seq + 1) % 10
        else:
            sentences = encode_dict(m.data, talker_id="AI", sentence_type="VDM",
                                    radio_channel=rng.choice("AB"))
        lines += [tag_block(m.t) + s for s in sentences]
    return lines


# ============================================================================ registry

def registry_rows(rng: random.Random, cal: Calibration) -> list[dict[str, str]]:
    rows = []
    for tk in cal.tankers:
        rows.append({
            "imo": str(tk.imo), "name": tk.name, "former_names": tk.former_names,
            "mmsi": str(tk.mmsi or ""), "call_sign": tk.call_sign, "flag": tk.flag,
            "vessel_type": tk.vessel_type, "dwt": str(tk.dwt),
            "gross_tonnage": str(tk.gross_tonnage or ""), "cargo_capacity_m3": str(tk.cargo_m3 or ""),
            "summer_draught_m": f"{tk.summer_draught:.1f}", "build_year": str(tk.build_year or ""),
            "owner": tk.owner,
            "updated_at": (cal.registry_updated_from + timedelta(days=rng.randint(0, 20))).isoformat(),
        })
    return rows


# ============================================================================ checks
def check_geometry(imagery: list[dict[str, str]], nmea: Path, ports: dict[str, Port]) -> None:
    """Every sighting is either well inside a port (<= 1.5 km from its point, and at
    Vostochny nearer Vostochny than Kozmino) or well clear of every port."""
    pts = [(float(r["latitude"]), float(r["longitude"])) for r in imagery]
    pts += [(p.lat, p.lon) for p in reference.read_nmea(nmea)[0]]
    for lat, lon in pts:
        near = [p for p in ports.values() if haversine_km(lat, lon, p.lat, p.lon) <= IN_PORT_MAX_KM]
        assert near or clear_of_ports(ports, lat, lon), (lat, lon)
    for lat, lon in pts:
        if port_at(ports, lat, lon) == LOAD_PORT:
            k = ports["kozmino"]
            terminal = ports[LOAD_PORT]
            assert haversine_km(lat, lon, terminal.lat, terminal.lon) < haversine_km(lat, lon, k.lat, k.lon)


def check_against_plan(truth: list[dict[str, str]], plan: list[Voyage], summary: dict, cal: Calibration) -> None:
    """The answer the rules read from the files is the one the calibration planned."""
    assert len(truth) == len(plan) == cal.voyages, (len(truth), len(plan))
    planned = {(v.tanker.imo, v.dep_day.isoformat()): v for v in plan}
    for tv in truth:
        pv = planned.pop((int(tv["imo"]), tv["load_departure_at"][:10]))
        assert tv["destination_status"] == ("confirmed" if pv.confirmed else "unconfirmed")
        if pv.confirmed:
            assert tv["discharge_port"] == pv.discharge
        assert tv["counts_toward_cap"] == "true"
    assert summary["first_load_departure"] == cal.first_departure.isoformat()
    assert summary["last_load_departure"] == cal.last_departure.isoformat()
    assert summary["tankers"] >= cal.min_tankers
    lo, hi = cal.total_range_bbl
    assert lo <= summary["total_bbl"] <= hi, summary["total_bbl"]
    assert summary["breach_date"] and summary["breach_date"].startswith(f"{cal.year}-")


# ============================================================================ writing
def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def generate(cal: Calibration, seed: int, out: Path) -> dict:
    """Write the case's registry, sighting logs and answer key under out; returns the answer's summary."""
    for tk in cal.tankers:
        assert stdnum_imo.is_valid(str(tk.imo)), tk.name
    rng = random.Random(seed)
    ports = load_ports()

    plan = plan_voyages(rng, cal)
    for v in plan:
        plan_timeline(rng, v, ports)
    add_at_sea_sightings(rng, plan, ports, cal.at_sea)
    add_unknown_sightings(rng, plan, cal.unknown)
    for v in plan:
        v.events.sort(key=lambda e: e.t)
    check_spacing(plan)

    registry = registry_rows(rng, cal)
    imagery = emit_imagery(rng, plan, ports, cal)
    nmea = emit_ais(rng, plan, ports, cal)

    write(out / answer_key.REGISTRY, csv_text(REGISTRY_HEADER, registry))
    write(out / answer_key.IMAGERY, csv_text(IMAGERY_HEADER, imagery))
    write(out / answer_key.NMEA, "".join(line + "\n" for line in nmea))
    check_geometry(imagery, out / answer_key.NMEA, ports)

    # The truth is what the rules read from the bytes just written, never what was planned;
    # the plan only checks that the calibration came out as intended.
    voyages_csv, summary_json, summary = answer_key.answer_key(out, seed)
    truth = list(csv.DictReader(io.StringIO(voyages_csv)))
    unresolvable_key = reference.name_key(cal.unresolvable_name)
    unresolvable = [r for r in imagery if reference.name_key(r["vessel_name"]) == unresolvable_key]
    assert summary["rejected_expected"] == len(unresolvable) >= 2, summary["rejected_expected"]
    check_against_plan(truth, plan, summary, cal)
    write(out / answer_key.VOYAGES_CSV, voyages_csv)
    write(out / answer_key.SUMMARY_JSON, summary_json)
    return summary
