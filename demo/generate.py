#!/usr/bin/env python3
"""Generate the demo bundle's synthetic registry, sighting logs and ground truth.

    python demo/generate.py [--seed 2024] [--out demo]

The bundle is calibrated to the public facts of the 2024 case (DOMAIN.md §1):
DPRK tankers arrive empty at Vostochny and leave about 90% full; 43 voyages with
load departures from 2024-03-07 to 2024-11-05; more than a dozen tankers; over
1,000,000 bbl in all, so the 500,000 bbl UN cap is breached mid-year.

What is real and what is invented: the tanker names, IMO numbers, owners, flags
and the few particulars cited in TANKERS below come from
shared/reference/dprk_tankers.csv; everything else (the sightings, the AIS
traffic, MMSIs, call signs, most particulars) is synthetic. ESTIMATES.md (written
by this script) says which particular is which, per ship.

Pipeline:  plan_voyages -> plan_timeline -> emit_imagery -> emit_ais -> write ->
           scenarios.answer_key (scenarios.reference's DOMAIN rules on the written
           bytes: the one answer engine) -> check against the plan -> write truth/.

Determinism: every random draw comes from one random.Random(seed), in a fixed
order; nothing reads the clock or iterates a set. Same seed, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from pyais.encode import encode_dict
from stdnum import imo as stdnum_imo

from scenarios import answer_key, reference
from scenarios.generator import (
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
from scenarios.reference import CARGO_SHARE_OF_DWT, utc_date

HERE = Path(__file__).resolve().parent

# --- calibration targets (the 2024 case) ------------------------------------------
N_VOYAGES = 43
FIRST_DEPARTURE = date(2024, 3, 7)
LAST_DEPARTURE = date(2024, 11, 5)
TOTAL_RANGE_BBL = (1_000_000, 1_150_000)
MIN_TANKERS = 13

# --- geometry conventions of the synthetic data -----------------------------------
IN_PORT_MAX_KM = 1.5  # sightings "at" a port lie this close to the port point
BERTH_MAX_KM = 1.2  # berth/anchorage points are drawn inside this disc; jitter stays under 1.5 km
DARK_KM = 60.0  # AIS transmitters go dark this close to the DPRK coast
LOAD_PORT = "vostochny"

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
    voyages: int  # how many of the 43 voyages this tanker makes
    real: tuple[str, ...]  # "field: value (source)" lines for ESTIMATES.md
    dwt_note: str  # how the DWT was obtained
    cargo_m3: int | None = None
    cargo_note: str = ""
    gross_tonnage: int | None = None
    build_year: int | None = None
    former_names: str = ""
    mmsi: int | None = None  # synthetic DPRK MID 445 numbers (4459000NN: obviously invented)
    call_sign: str = ""  # synthetic, DPRK prefix HM
    ais: bool = False  # transmits AIS in the demo

    @property
    def summer_draught(self) -> float:
        # Small product tankers: about 4.5 m at 1,500 t to 6.5 m at 6,000 t. Linear in
        # DWT is crude but transparent; it only feeds the AIS draught ratios.
        t = 4.5 + 2.0 * (self.dwt - 1500) / 4500
        return round(min(6.5, max(4.5, t)), 1)


KP = "KP"
DPRK = "Democratic People's Republic of Korea"
SRC_OFAC_UN = "dprk_tankers.csv: OFAC-SDN-20240503; UN-CONS-20260227"
EST_DWT = ("estimate: no source in dprk_tankers.csv gives a DWT; chosen in the 1,500-6,000 t range of "
           "the DPRK product-tanker fleet (Seatrade 2024: 1,000-9,000 DWT, mostly small) and "
           "calibrated so the 43 demo voyages total about 1.07 million bbl")


def _m3_from_dwt(dwt: int) -> int:
    # cargo m3 = DWT x 0.95 cargo share / 0.845 t/m3 (diesel density), rounded to 10 m3
    return int(round(dwt * CARGO_SHARE_OF_DWT / 0.845 / 10.0)) * 10


M3_NOTE = "estimate: DWT x 0.95 / 0.845 t/m3 (diesel), rounded to 10 m3"

# The 15 DPRK-flagged tankers of dprk_tankers.csv that have an IMO, in that file's order.
TANKERS: list[Tanker] = [
    Tanker("YU JONG 2", 8604917, DPRK, "tanker (motor tanker)", "KOREA YUJONG SHIPPING CO LTD", 1700, 1,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",),
           "estimate: the UN reports one lift of 1,168 kl of fuel oil (dprk_tankers.csv notes), about "
           "1,100 t; 1,700 t DWT is a small hull that carries that with room to spare",
           cargo_m3=_m3_from_dwt(1700), cargo_note=M3_NOTE),
    Tanker("PAEK MA", 9066978, KP, "tanker", "PAEKMA SHIPPING CO", 3900, 3,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("NAM SAN 8", 8122347, DPRK, "tanker", "HAPJANGGANG SHIPPING CORP", 4700, 3,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT,
           cargo_m3=_m3_from_dwt(4700), cargo_note=M3_NOTE),
    Tanker("CHON MA SAN", 8660313, KP, "tanker", "KOREA ACHIM SHIPPING CO", 5400, 4,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN}); reported at Vostochny 2024 "
            "(seatrade-2024-11-22)",), EST_DWT,
           mmsi=445900011, call_sign="HMZA"),
    Tanker("AN SAN 1", 7303803, DPRK, "tanker", "KOREA ANSAN SHIPPING COMPANY", 4100, 4,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN}); reported at Vostochny 2024 and AIS "
            "seen 2025 (seatrade-2024-11-22; vesseltracker-2025)",), EST_DWT,
           mmsi=445900012, call_sign="HMZB", ais=True),
    Tanker("SAM JONG 1", 8405311, KP, "tanker", "KOREA SAMJONG SHIPPING CO", 3000, 2,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("SAM JONG 2", 7408873, DPRK, "tanker", "KOREA SAMJONG SHIPPING CO", 3500, 3,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("SAM MA 2", 8106496, KP, "tanker", "KOREA SAMMA SHPG CO", 1750, 3,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",
            "gross_tonnage: 962, build_year: 1981 (dprk_tankers.csv: longdowneic-2017)"),
           "estimate: about 1.8 x its real gross tonnage (962), consistent with the UN's "
           "'almost 1,600 metric tons of fuel oil in one transaction' (dprk_tankers.csv notes)",
           gross_tonnage=962, build_year=1981, mmsi=445900013, call_sign="HMZC"),
    Tanker("YU SON", 8691702, KP, "oil products tanker", "MYOHYANG SHIPPING CO", 4800, 4,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN}); reported at Vostochny 2024 "
            "(seatrade-2024-11-22)",), EST_DWT,
           mmsi=445900014, call_sign="HMZD", ais=True),
    Tanker("JI SONG 6", 8898740, DPRK, "tanker", "PHYONGCHON SHIPPING & MARINE", 3300, 2,
           (f"name, imo, flag, vessel_type, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("CHON MYONG 1", 8712362, KP, "tanker", "CHONMYONG SHIPPING CO", 4400, 3,
           (f"name, imo, flag, owner ({SRC_OFAC_UN})",), EST_DWT),
    Tanker("YU PHYONG 5", 8605026, DPRK, "tanker", "KOREA MYONGDOK SHIPPING CO", 2200, 2,
           (f"name, imo, flag, owner ({SRC_OFAC_UN})",),
           "estimate: above the 1,721 t of fuel oil the UN says it took in one STS transfer "
           "(dprk_tankers.csv notes)"),
    Tanker("KUM UN SAN 3", 8705539, KP, "tanker", "DAWN MARINE MANAGEMENT CO LTD", 2070, 2,
           ("name, imo, flag, vessel_type, owner (dprk_tankers.csv: OFAC-SDN-20240503)",
            "dwt: 2070 (dprk_tankers.csv; row sources safetyatsea-2018, nknews-2018-10)"),
           "real (dprk_tankers.csv)"),
    Tanker("RYE SONG GANG 1", 7389704, DPRK, "product tanker", "KOREA KUMBYOL TRADING COMPANY", 3003, 3,
           ("name, imo, flag, vessel_type, owner (dprk_tankers.csv: OFAC-SDN-20240503)",
            "dwt: 3003, build_year: 1974 (dprk_tankers.csv; row sources shndlaw-china-mfa-2018, "
            "seatrade-2024-11-22)"),
           "real (dprk_tankers.csv)", build_year=1974, mmsi=445900015, call_sign="HMZE"),
    Tanker("SIN PHYONG 9", 8916293, KP, "oil tanker", "OCEAN BUNKERING JV CO", 5900, 4,
           ("name SIN PHYONG 9 and former name SAEBYOL (dprk_tankers.csv: vesseltracker-2025; "
            "ihs-2021-courageous)",
            "imo, flag, owner (dprk_tankers.csv: OFAC-SDN-20240503, where the same IMO is listed as "
            "CHONG RIM 2; deliberately not a former name here, so the pipeline must join on IMO)",
            "reported at Vostochny 2024, AIS seen 2025 (vesseltracker-2025)"),
           EST_DWT, cargo_m3=_m3_from_dwt(5900), cargo_note=M3_NOTE,
           former_names="SAEBYOL", mmsi=445900016, call_sign="HMZF", ais=True),
]

# Voyages pinned to the case's first and last reported load departures.
FIRST_TANKER = "CHON MA SAN"
LAST_TANKER = "YU SON"
MIN_DEPARTURE_SPACING_DAYS = 24  # same tanker: leaves >= 10 idle days between voyages

KUM_JIN_GANG_3 = "KUM JIN GANG 3"  # at Vostochny per press reports, no IMO in any source

# ============================================================================ geography
# (distances, bearings and the port rule come from scenarios.geo)


def outbound_route(start: tuple[float, float], port: Port, end: tuple[float, float]) -> Lane:
    return lane(start, LOAD_PORT, port.port_id, end)


# ============================================================================ time helpers
# ============================================================================ planning
@dataclass
class ImageryEvent:
    t: int
    lat: float
    lon: float
    state: str  # empty | partial | laden | unknown
    load_fraction: float | None
    where: str  # port_id or "sea"
    kind: str  # arrival | loading | departure | at_sea | discharge_laden | discharge_empty | noise


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


def plan_voyages(rng: random.Random) -> list[Voyage]:
    """Who loads when: departure days, stays, discharge ports, load fractions."""
    span = (LAST_DEPARTURE - FIRST_DEPARTURE).days
    g = MIN_DEPARTURE_SPACING_DAYS
    voyages: list[Voyage] = []
    for tk in TANKERS:
        if tk.name == FIRST_TANKER:  # the case's first load departure
            days = [0] + spaced_days(rng, tk.voyages - 1, g, span - 1, g)
        elif tk.name == LAST_TANKER:  # and its last
            days = spaced_days(rng, tk.voyages - 1, 1, span - g, g) + [span]
        else:
            days = spaced_days(rng, tk.voyages, 1, span - 1, g)
        for i, d in enumerate(days, 1):
            voyages.append(Voyage(
                tanker=tk, seq=i, dep_day=FIRST_DEPARTURE + timedelta(days=d),
                stay_days=rng.choice([1, 2, 2, 3, 3, 4]),
                discharge=rng.choices(list(DISCHARGE_WEIGHTS), list(DISCHARGE_WEIGHTS.values()))[0],
                confirmed=True, fraction=round(rng.uniform(0.87, 0.93), 3),
                speed_kmh=rng.uniform(9.0, 11.0) * 1.852))
    assert len(voyages) == N_VOYAGES, len(voyages)
    # 4 voyages leave no DPRK trace (destination unobserved) ...
    for v in rng.sample(voyages, 4):
        v.confirmed = False
    # ... and on 2 the analysts never estimated a load fraction (the 0.90 default applies).
    for v in rng.sample([v for v in voyages if v.confirmed], 2):
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
    for t, st in zip(times, states):
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
        for a, b in zip(vs, vs[1:]):
            last_a = max(e.t for e in a.events)
            assert b.t_arrive - max(last_a, a.t_port_leave) >= 10 * DAY - 12 * HOUR, (a.tanker.name, a.dep_day)
    for v in voyages:
        ts = sorted(e.t for e in v.events)
        assert len(ts) == len(set(ts))
        assert v.t_arrive < ts[0] and v.t_leave > max(e.t for e in v.events if e.where == LOAD_PORT)


# ============================================================================ imagery
IMAGERY_HEADER = ["sighting_id", "observed_at", "source", "image_id", "latitude", "longitude",
                  "vessel_name", "imo", "mmsi", "laden_state", "load_fraction", "confidence", "notes"]

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
    "kjg": ["hull marking KUM JIN GANG 3, no IMO visible", "name read from stern, IMO unknown"],
}


def image_source(rng: random.Random, t: int, lon: float, has_fraction: bool) -> tuple[str, str, str]:
    """(source, image_id, confidence). Load fractions are read from metre-class imagery, so
    rows without one are mostly Sentinel-2. The ids only imitate the providers' formats."""
    dt = datetime.fromtimestamp(t, timezone.utc)
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
    dt = datetime.fromtimestamp(t, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if r < 0.75 else dt.isoformat()


def emit_imagery(rng: random.Random, voyages: list[Voyage], ports: dict[str, Port]) -> list[dict[str, str]]:
    """All imagery rows: voyage events, KUM JIN GANG 3, identity noise, shuffled order."""
    items: list[tuple[int, Tanker | None, ImageryEvent]] = []
    for v in voyages:
        items += [(e.t, v.tanker, e) for e in v.events]

    # KUM JIN GANG 3: seen empty then laden at Vostochny in June; no IMO, not in the registry,
    # so the pipeline cannot resolve it and must reject these rows (they would otherwise
    # look like a load).
    vost = ports[LOAD_PORT]
    kjg_pt = near(rng, (vost.lat, vost.lon), BERTH_MAX_KM)
    d0 = date(2024, 6, 11)
    for k, (st, lf) in enumerate([("empty", empty_fraction(rng)), ("partial", 0.6), ("laden", 0.9)]):
        pt = _jitter(rng, kjg_pt)
        items.append((daylight(rng, d0 + timedelta(days=k), 0.0, 5.5), None,
                      ImageryEvent(0, pt[0], pt[1], st, lf, LOAD_PORT, "kjg")))
    items.sort(key=lambda x: x[0])

    rows = []
    for i, (t, tk, e) in enumerate(items, 1):
        src, iid, conf = image_source(rng, t, e.lon, e.load_fraction is not None)
        row = {
            "sighting_id": f"IMG-2024-{i:04d}",
            "observed_at": format_observed_at(rng, t, e.lon, e.where),
            "source": src, "image_id": iid,
            "latitude": f"{e.lat:.6f}", "longitude": f"{e.lon:.6f}",
            "vessel_name": tk.name if tk else KUM_JIN_GANG_3,
            "imo": str(tk.imo) if tk else "",
            "mmsi": str(tk.mmsi) if tk and tk.mmsi and rng.random() < 0.3 else "",
            "laden_state": e.state,
            "load_fraction": "" if e.load_fraction is None else f"{e.load_fraction:g}",
            "confidence": "low" if e.state == "unknown" else conf,
            "notes": rng.choice(NOTES[e.kind]),
        }
        if tk is None:
            row["vessel_name"] = rng.choice([KUM_JIN_GANG_3, "Kum Jin Gang 3", "KUM JIN GANG-3"])
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
            "speed": round(v.speed_kmh / 1.852 + rng.uniform(-0.4, 0.4), 1) if moving else round(rng.uniform(0, 0.2), 1),
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
    eta = datetime.fromtimestamp(v.t_arrive, timezone.utc)
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


def emit_ais(rng: random.Random, voyages: list[Voyage], ports: dict[str, Port]) -> list[str]:
    msgs: list[AisMsg] = []
    for tk in TANKERS:
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
REGISTRY_HEADER = ["imo", "name", "former_names", "mmsi", "call_sign", "flag", "vessel_type", "dwt",
                   "gross_tonnage", "cargo_capacity_m3", "summer_draught_m", "build_year", "owner",
                   "updated_at"]


def registry_rows(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for tk in TANKERS:
        rows.append({
            "imo": str(tk.imo), "name": tk.name, "former_names": tk.former_names,
            "mmsi": str(tk.mmsi or ""), "call_sign": tk.call_sign, "flag": tk.flag,
            "vessel_type": tk.vessel_type, "dwt": str(tk.dwt),
            "gross_tonnage": str(tk.gross_tonnage or ""), "cargo_capacity_m3": str(tk.cargo_m3 or ""),
            "summer_draught_m": f"{tk.summer_draught:.1f}", "build_year": str(tk.build_year or ""),
            "owner": tk.owner,
            "updated_at": (date(2024, 11, 25) + timedelta(days=rng.randint(0, 20))).isoformat(),
        })
    return rows


def estimates_md() -> str:
    lines = [
        "# Demo registry: real values and estimates",
        "",
        "Written by `demo/generate.py`; do not edit by hand. `tankers.csv` holds the 15 DPRK-flagged",
        "tankers of `shared/reference/dprk_tankers.csv` that have an IMO number. For each ship: which",
        "fields are real (with the source named in dprk_tankers.csv) and which are estimates.",
        "",
        "Common to all ships:",
        "",
        "- `summer_draught_m`: estimate, 4.5 m + 2.0 m x (DWT - 1,500) / 4,500, clamped to 4.5-6.5 m "
        "(typical of small product tankers; no source gives these ships' draughts).",
        "- `mmsi`, `call_sign`: synthetic (DPRK MID 445, numbers 4459000NN; DPRK call-sign prefix HM), "
        "given to the three AIS transmitters of the demo (AN SAN 1, YU SON, SIN PHYONG 9) and a few others.",
        "- `updated_at`: synthetic.",
        "- `cargo_capacity_m3`: empty unless stated, so the volume falls back to DWT x 0.95 x 7.46.",
        "- `owner`: the OFAC SDN entry's 'Linked To' company (for PAEK MA the first of the two).",
        "",
    ]
    for tk in TANKERS:
        lines += [f"## {tk.name} (IMO {tk.imo})", ""]
        lines += [f"- real: {r}" for r in tk.real]
        lines.append(f"- dwt {tk.dwt}: {tk.dwt_note}")
        if tk.cargo_m3:
            lines.append(f"- cargo_capacity_m3 {tk.cargo_m3}: {tk.cargo_note}")
        lines.append(f"- summer_draught_m {tk.summer_draught:.1f}: estimate from DWT")
        if tk.vessel_type == "tanker" and "vessel_type" not in tk.real[0]:
            lines.append("- vessel_type 'tanker': estimate (dprk_tankers.csv: type not stated; the UN reports "
                         "it moving fuel)")
        if tk.mmsi:
            lines.append(f"- mmsi {tk.mmsi}, call_sign {tk.call_sign}: synthetic"
                         + ("; transmits AIS in the demo" if tk.ais else ""))
        lines.append("")
    return "\n".join(lines)


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
            assert haversine_km(lat, lon, ports[LOAD_PORT].lat, ports[LOAD_PORT].lon) < haversine_km(lat, lon, k.lat, k.lon)


def check_against_plan(truth: list[dict[str, str]], plan: list[Voyage], summary: dict) -> None:
    """The answer the rules read from the files is the one the calibration planned."""
    assert len(truth) == len(plan) == N_VOYAGES, (len(truth), len(plan))
    planned = {(v.tanker.imo, v.dep_day.isoformat()): v for v in plan}
    for tv in truth:
        pv = planned.pop((int(tv["imo"]), tv["load_departure_at"][:10]))
        assert tv["destination_status"] == ("confirmed" if pv.confirmed else "unconfirmed")
        if pv.confirmed:
            assert tv["discharge_port"] == pv.discharge
        assert tv["counts_toward_cap"] == "true"
    assert summary["first_load_departure"] == FIRST_DEPARTURE.isoformat()
    assert summary["last_load_departure"] == LAST_DEPARTURE.isoformat()
    assert summary["tankers"] >= MIN_TANKERS
    lo, hi = TOTAL_RANGE_BBL
    assert lo <= summary["total_bbl"] <= hi, summary["total_bbl"]
    assert summary["breach_date"] and summary["breach_date"].startswith("2024-")


# ============================================================================ writing
def csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def generate(seed: int, out: Path) -> dict:
    for tk in TANKERS:
        assert stdnum_imo.is_valid(str(tk.imo)), tk.name
    rng = random.Random(seed)
    ports = load_ports()

    plan = plan_voyages(rng)
    for v in plan:
        plan_timeline(rng, v, ports)
    add_at_sea_sightings(rng, plan, ports, 7)
    add_unknown_sightings(rng, plan, 6)
    for v in plan:
        v.events.sort(key=lambda e: e.t)
    check_spacing(plan)

    registry = registry_rows(rng)
    imagery = emit_imagery(rng, plan, ports)
    nmea = emit_ais(rng, plan, ports)

    write(out / "registry" / "tankers.csv", csv_text(REGISTRY_HEADER, registry))
    write(out / "registry" / "ESTIMATES.md", estimates_md())
    write(out / "sightings" / "imagery_2024.csv", csv_text(IMAGERY_HEADER, imagery))
    write(out / "sightings" / "ais_2024.nmea", "".join(line + "\n" for line in nmea))
    check_geometry(imagery, out / answer_key.NMEA, ports)

    # The truth is what the rules read from the bytes just written, never what was planned;
    # the plan only checks that the calibration came out as intended.
    voyages_csv, summary_json, summary = answer_key.answer_key(out, seed)
    truth = list(csv.DictReader(io.StringIO(voyages_csv)))
    unresolvable = [r for r in imagery if reference.name_key(r["vessel_name"]) == reference.name_key(KUM_JIN_GANG_3)]
    assert summary["rejected_expected"] == len(unresolvable) >= 2, summary["rejected_expected"]
    check_against_plan(truth, plan, summary)
    write(out / answer_key.VOYAGES_CSV, voyages_csv)
    write(out / answer_key.SUMMARY_JSON, summary_json)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", type=Path, default=HERE, help="bundle directory (default: demo/)")
    args = ap.parse_args(argv)
    summary = generate(args.seed, args.out)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
