"""Seeded scenario generator: tanker fleets, their loads, noisy imagery and AIS, and the ground truth.

    python -m scenarios.generator --seed 1 --out /tmp/scenario --tankers 12 --voyages 40

Pipeline of one call to ``generate``:

    make_fleet -> schedule -> plan_visit (physical timeline + planned images)
      -> emit_imagery / emit_ais (observation noise) -> write files
      -> reference.derive (DOMAIN rules on the written bytes) -> Truth

The plan (who loads where and when, what an analyst could photograph) and the
noise come from separate random streams of the seed, so the same seed gives
the same physical events under every NoiseConfig; only what is observed changes.
Same seed and arguments, same bytes.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta, timezone
from functools import reduce
from itertools import pairwise
from pathlib import Path

from pyais.encode import encode_dict
from stdnum import imo as stdnum_imo

from scenarios import reference
from scenarios.answer_key import csv_text
from scenarios.geo import (
    DISCHARGE_WEIGHTS,
    IN_PORT_MAX_KM,
    Lane,
    Port,
    clear_of_ports,
    dist_to_dprk_coast_km,
    lane,
    load_ports,
    offset_point,
)

# re-exported: the benchmark takes every generator from here
from scenarios.positions import generate_fleet_registry, generate_positions, generate_static  # noqa: F401
from scenarios.reference import (
    BBL_PER_M3,
    BBL_PER_TONNE_DIESEL,
    CARGO_SHARE_OF_DWT,
    OFAC_ALT,
    OFAC_COMMENTS,
    OFAC_SDN,
    UN_XML,
    SanctionsExcerpt,
    imo_valid,
    iso_z,
    utc_date,
)

HOUR = 3600
DAY = 86400

SEASON_START = (2, 1)  # first load departure no earlier than 1 February ...
SEASON_END = (11, 30)  # ... and none after 30 November, so every voyage ends in its year
MIN_SPACING_DAYS = 24  # one hull: >= ~10 idle days between a discharge and the next arrival
TERMINAL_WEIGHTS = {"vostochny": 80, "kozmino": 10, "nakhodka": 10}
PARTIAL_SHARE = 0.35  # terminal stays with a "partial" reading during loading
AT_SEA_SHARE = 0.25  # voyages with a laden image on the way
MMSI_IN_REGISTRY_SHARE = 0.5  # hulls without AIS that still have an MMSI on file
DPRK_FLAG_SHARE = 0.6

REGISTRY_HEADER = ["imo", "name", "former_names", "mmsi", "call_sign", "flag", "vessel_type", "dwt",
                   "gross_tonnage", "cargo_capacity_m3", "summer_draught_m", "build_year", "owner", "updated_at"]
IMAGERY_HEADER = ["sighting_id", "observed_at", "source", "image_id", "latitude", "longitude", "vessel_name",
                  "imo", "mmsi", "laden_state", "load_fraction", "confidence", "notes"]

# The sanctions-alias hard case needs a hull the real lists give an alias: OFAC SDN
# entry 17084 (IMO 8132835) is AM NOK GANG, and ALT.CSV adds "aka AP ROK GANG".
ALIAS_HULL = {"imo": 8132835, "name": "AM NOK GANG", "alias": "AP ROK GANG"}

FLAGS = {  # ISO-2 -> (MMSI MID, how a registry writes the country)
    "KP": (445, "Democratic People's Republic of Korea"),
    "SL": (667, "Sierra Leone"),
    "PW": (511, "Palau"),
    "MN": (457, "Mongolia"),
    "TG": (671, "Togo"),
    "KM": (616, "Comoros"),
    "PA": (351, "Panama"),
}

KP_SYLLABLES = ["HAE", "SONG", "RIM", "PHYONG", "CHON", "MYONG", "KWANG", "SIN", "TAE", "RYONG", "BYOL", "SAM",
                "KUM", "NAM", "PAEK", "RA", "JIN", "HYANG", "SU", "MAN", "POK", "CHOL", "HA", "GYONG", "SOK", "YON",
                "DONG", "BONG", "GANG", "SAN", "PHO", "UN", "MYO", "HUNG", "RYO"]
OTHER_WORDS = (["OCEAN", "GRAND", "PACIFIC", "LUCKY", "EAST", "BRIGHT", "NOBLE", "SILVER", "GOLDEN", "BLUE", "FAR",
                "NORTHERN", "JADE", "CRYSTAL", "ROYAL"],
               ["WAVE", "DRAGON", "PEARL", "HARMONY", "FORTUNE", "SPRING", "GLORY", "HORIZON", "TRADER", "VENTURE",
                "CREST", "BREEZE", "TIDE", "HAVEN", "ANCHOR"])


# ============================================================================ noise


@dataclass(frozen=True)
class NoiseConfig:
    """How imperfectly the planned events are observed. Rates are probabilities per item.

    Hard-case sightings are exempt from the rates that would erase the case
    (missed images, unknown states, missing fractions, unobserved destinations).
    """

    missed_image_rate: float = 0.08
    """A planned imagery sighting is not taken (cloud, no pass, not logged)."""
    unknown_state_rate: float = 0.04
    """The analyst logs the sighting as laden_state 'unknown' (no state, no fraction)."""
    destination_unobserved_rate: float = 0.06
    """Per voyage: nobody imaged the discharge port, so only AIS (if any) can confirm it."""
    no_fraction_rate: float = 0.05
    """A laden sighting is logged without a load_fraction (the 0.90 default may apply)."""
    no_imo_rate: float = 0.15
    """The IMO is blanked; the row keeps an MMSI (when the hull has one, half the time) and a name."""
    name_variant_rate: float = 0.20
    """The name is spelled loosely: case, hyphens, spaces (always the same name key)."""
    imagery_mmsi_rate: float = 0.30
    """A row that keeps its IMO also carries the hull's MMSI (when it has one)."""
    duplicate_rate: float = 0.03
    """The same observation is logged twice: another sighting_id, the time 1-10 minutes off."""
    out_of_order: float = 0.10
    """Share of imagery rows and AIS messages moved to a random place in their file (1.0: shuffled)."""
    local_time_rate: float = 0.15
    """observed_at in local time: +10:00 east of 131 E (Russia), +09:00 west of it (DPRK)."""
    stranger_rate: float = 0.03
    """Extra imagery rows and AIS fixes, as a share of each, of vessels in no source (unresolvable)."""
    dark_ais_near_dprk: bool = True
    """AIS transmitters go silent within ``dark_km`` of the DPRK coast (and in DPRK ports)."""
    dark_km: float = 60.0
    """How close to the DPRK coast transmitters go dark."""
    ais_transmitter_share: float = 0.4
    """Share of the synthetic hulls that transmit AIS at all."""
    ais_loss_rate: float = 0.02
    """AIS position reports lost in reception (type 5 reports are kept: their loss is a
    different question, stale draughts, which the hard cases do not cover)."""

    @classmethod
    def none(cls) -> NoiseConfig:
        """Every planned sighting observed, clean identities, AIS transmitting everywhere."""
        return cls(missed_image_rate=0.0, unknown_state_rate=0.0, destination_unobserved_rate=0.0,
                   no_fraction_rate=0.0, no_imo_rate=0.0, name_variant_rate=0.0, imagery_mmsi_rate=0.0,
                   duplicate_rate=0.0, out_of_order=0.0, local_time_rate=0.0, stranger_rate=0.0,
                   dark_ais_near_dprk=False, ais_loss_rate=0.0)


# ============================================================================ plan


@dataclass
class Hull:
    imo: int
    name: str
    flag: str  # ISO-2 at the start of the year
    flag_written: str
    mmsi: int | None
    call_sign: str
    vessel_type: str
    dwt: int
    cargo_m3: int | None
    build_year: int
    owner: str
    ais: bool
    role: str = "regular"  # regular | only_laden | alias
    former_name: str | None = None
    renamed_at: int | None = None
    reflag_at: int | None = None
    new_flag: str | None = None
    new_flag_written: str | None = None
    new_mmsi: int | None = None
    alias: str | None = None
    home_port: str = "rajin"

    @property
    def summer_draught(self) -> float:
        # small product tankers: ~4.5 m at 1,500 t to ~6.5 m at 6,000 t
        return round(min(6.5, max(4.5, 4.5 + 2.0 * (self.dwt - 1500) / 4500)), 1)

    @property
    def capacity_bbl(self) -> float:
        if self.cargo_m3:
            return self.cargo_m3 * BBL_PER_M3
        return self.dwt * CARGO_SHARE_OF_DWT * BBL_PER_TONNE_DIESEL

    def name_at(self, t: int) -> str:
        return self.former_name if self.renamed_at is not None and t < self.renamed_at else self.name

    def mmsi_at(self, t: int) -> int | None:
        return self.new_mmsi if self.reflag_at is not None and t >= self.reflag_at else self.mmsi

    def draught(self, laden: bool) -> float:
        return round(self.summer_draught * (0.95 if laden else 0.45), 1)


@dataclass
class Image:
    """One planned imagery sighting."""

    t: int
    lat: float
    lon: float
    state: str  # empty | partial | laden
    load_fraction: float | None
    where: str  # port_id or "sea"
    kind: str  # arrival | loading | departure | at_sea | discharge_laden | discharge_empty | idle
    protected: bool = False
    at_destination: bool = False


@dataclass
class Visit:
    """One call at a load terminal and what follows it, up to leaving the next port."""

    hull: Hull
    seq: int
    kind: str  # load | idle | only_laden
    dep_day: date
    stay_days: int
    terminal: str
    destination: str
    fraction: float | None
    speed_kmh: float
    case: str | None = None
    destination_hidden: bool = False  # hard case: no image of the destination, AIS dark near the DPRK
    anchorage: tuple[float, float] = (0.0, 0.0)
    berth: tuple[float, float] = (0.0, 0.0)
    dest_berth: tuple[float, float] = (0.0, 0.0)
    t_arrive: int = 0
    t_berth: int = 0
    t_flip: int | None = None  # from here on the ship is laden (what AIS draught reports)
    t_leave: int = 0
    t_dest_arrive: int = 0
    t_dest_flip: int | None = None  # discharged
    t_dest_leave: int = 0
    t_inbound: int = 0  # leaves the previous port for this terminal
    out_lane: Lane | None = None
    in_lane: Lane | None = None
    images: list[Image] = field(default_factory=list)

    @property
    def a_day(self) -> date:
        return self.dep_day - timedelta(days=self.stay_days)


def midnight(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def daylight(rng: random.Random, d: date, lo_h: float = -1.5, hi_h: float = 5.5) -> int:
    """A satellite pass in local daylight of day d: 22:30 UTC the day before to 05:30 UTC."""
    return midnight(d) + int(rng.uniform(lo_h, hi_h) * HOUR)


def near(rng: random.Random, pt: tuple[float, float], max_km: float) -> tuple[float, float]:
    return offset_point(pt[0], pt[1], max_km * math.sqrt(rng.random()), rng.uniform(0, 360))


def with_check_digit(six: int) -> int:
    return int(f"{six:06d}" + stdnum_imo.calc_check_digit(f"{six:06d}"))


# ----------------------------------------------------------------------------- fleet


def _names(rng: random.Random, lists: SanctionsExcerpt, taken: set[str], dprk: bool) -> str:
    for _ in range(1000):
        if dprk:
            words = rng.sample(KP_SYLLABLES, rng.choice([2, 2, 3]))
            name = " ".join(words) + (f" {rng.randint(1, 12)}" if rng.random() < 0.7 else "")
        else:
            name = f"{rng.choice(OTHER_WORDS[0])} {rng.choice(OTHER_WORDS[1])}" + (
                f" {rng.randint(1, 99)}" if rng.random() < 0.8 else "")
        key = reference.name_key(name)
        # a synthetic name must not match any real list's name, alias or UN comment phrase
        if key not in taken and not lists.mentions(name):
            taken.add(key)
            return name
    raise RuntimeError("could not draw a fresh synthetic name")


def _imo(rng: random.Random, lists: SanctionsExcerpt, taken: set[int]) -> int:
    while True:
        imo = with_check_digit(rng.randint(800000, 999999))
        if imo not in taken and imo not in lists.vessel_imos and not lists.mentions(str(imo)):
            assert imo_valid(str(imo))
            taken.add(imo)
            return imo


def _mmsi(rng: random.Random, flag: str, taken: set[int]) -> int:
    while True:
        mmsi = FLAGS[flag][0] * 1_000_000 + rng.randint(100000, 999999)
        if mmsi not in taken:
            taken.add(mmsi)
            return mmsi


def _hull(rng: random.Random, lists: SanctionsExcerpt, names: set[str], imos: set[int], mmsis: set[int],
          flag: str, ais: bool) -> Hull:
    dwt = int(rng.uniform(1500, 6000) // 10 * 10)
    has_mmsi = rng.random() < MMSI_IN_REGISTRY_SHARE or ais
    name = _names(rng, lists, names, flag == "KP")
    return Hull(
        imo=_imo(rng, lists, imos), name=name, flag=flag,
        flag_written=flag if rng.random() < 0.5 else FLAGS[flag][1],
        mmsi=_mmsi(rng, flag, mmsis) if has_mmsi else None,
        call_sign=("HM" if flag == "KP" else rng.choice(["9L", "T8", "JV", "5V", "D6", "3E"]))
        + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(2)),
        vessel_type=rng.choice(["tanker", "oil products tanker", "product tanker", "oil tanker"]),
        dwt=dwt,
        cargo_m3=int(round(dwt * CARGO_SHARE_OF_DWT / 0.845 / 10.0)) * 10 if rng.random() < 0.4 else None,
        build_year=rng.randint(1972, 2005),
        owner=f"{name.split(' ')[0]} {rng.choice(['SHIPPING', 'MARINE', 'TRADING'])} CO",
        ais=ais,
        home_port=rng.choice(["rajin", "chongjin", "sonbong", "kimchaek"]),
    )


def make_fleet(rng: random.Random, n: int, lists: SanctionsExcerpt, noise: NoiseConfig,
               hard_cases: bool) -> list[Hull]:
    """``n`` synthetic hulls, then (hard cases) the only-laden hull and the alias hull.

    Hard-case roles by position: 0 renamed, 1 reflagged, 2 gap case (no AIS), 3 unconfirmed
    and idle case (DPRK flag). The number of draws does not depend on the noise, so the
    fleet is the same under every NoiseConfig (only who transmits AIS follows its share).
    """
    names: set[str] = set()
    imos: set[int] = set()
    mmsis: set[int] = set()
    hulls = []
    for i in range(n):
        u_flag, u_ais = rng.random(), rng.random()
        flag = "KP" if u_flag < DPRK_FLAG_SHARE else rng.choice([f for f in FLAGS if f != "KP"])
        if hard_cases and i in (0, 1, 3):
            flag = "KP"
        ais = u_ais < noise.ais_transmitter_share and not (hard_cases and i in (1, 2))
        hulls.append(_hull(rng, lists, names, imos, mmsis, flag, ais))
    if hard_cases:
        renamed = hulls[0]
        renamed.former_name = _names(rng, lists, names, True)
        reflagged = hulls[1]
        reflagged.new_flag = "SL"
        reflagged.new_flag_written = FLAGS["SL"][1]
        reflagged.mmsi = reflagged.mmsi or _mmsi(rng, "KP", mmsis)
        reflagged.new_mmsi = _mmsi(rng, "SL", mmsis)  # a new flag state means a new MID
        only_laden = _hull(rng, lists, names, imos, mmsis, "KP", False)
        only_laden.role = "only_laden"
        alias = _hull(rng, lists, names, imos, mmsis, "KP", False)
        alias.imo, alias.name, alias.alias = ALIAS_HULL["imo"], ALIAS_HULL["name"], ALIAS_HULL["alias"]
        alias.mmsi, alias.vessel_type, alias.role = None, "general cargo", "alias"
        assert alias.imo in lists.vessel_imos
        hulls += [only_laden, alias]
    return hulls


# ----------------------------------------------------------------------------- schedule


def spaced_days(rng: random.Random, k: int, lo: int, hi: int, gap: int) -> list[int]:
    """k sorted day offsets in [lo, hi], consecutive ones at least ``gap`` apart."""
    slack = (hi - lo) - (k - 1) * gap
    if slack < 0:
        raise ValueError(f"{k} visits do not fit in {hi - lo} days at {gap}-day spacing")
    return [lo + x + i * gap for i, x in enumerate(sorted(rng.randint(0, slack) for _ in range(k)))]


def schedule(rng: random.Random, hulls: list[Hull], tankers: int, voyages: int, year: int,
             hard_cases: bool) -> list[Visit]:
    start, end = date(year, *SEASON_START), date(year, *SEASON_END)
    span = (end - start).days
    per_hull_max = span // MIN_SPACING_DAYS + 1
    counts = [0] * tankers
    required = {0: 2, 1: 2, 2: 1, 3: 1, 4: 1} if hard_cases else {}
    for i, k in required.items():
        counts[i] = k
    slots_idle = 1 if hard_cases else 0  # hull 3 also makes an idle call
    if voyages < sum(counts):
        raise ValueError(f"hard cases need at least {sum(counts)} voyages on at least 5 tankers")
    if voyages > tankers * per_hull_max - slots_idle:
        raise ValueError(f"{voyages} voyages do not fit on {tankers} tankers ({per_hull_max} each at most)")
    for i in range(tankers):
        if sum(counts) < voyages and counts[i] == 0:
            counts[i] = 1
    while sum(counts) < voyages:
        i = rng.randrange(tankers)
        if counts[i] + (slots_idle if i == 3 else 0) < per_hull_max:
            counts[i] += 1

    visits: list[Visit] = []
    for i, hull in enumerate(hulls[:tankers]):
        kinds = ["load"] * counts[i]
        if hard_cases and i == 3:
            kinds.insert(rng.randrange(len(kinds) + 1), "idle")
        days = spaced_days(rng, len(kinds), 0, span, MIN_SPACING_DAYS) if kinds else []
        for seq, (kind, d) in enumerate(zip(kinds, days, strict=True), 1):
            visits.append(_visit(rng, hull, seq, kind, start + timedelta(days=d)))
    if hard_cases:
        only_laden, alias = hulls[tankers], hulls[tankers + 1]
        visits.append(_visit(rng, only_laden, 1, "only_laden", start + timedelta(days=rng.randint(20, span - 20))))
        visits.append(_visit(rng, alias, 1, "load", start + timedelta(days=rng.randint(20, span - 20))))
        _assign_cases(rng, hulls, visits)
    return sorted(visits, key=lambda v: (v.dep_day, v.hull.imo))


def _visit(rng: random.Random, hull: Hull, seq: int, kind: str, dep_day: date) -> Visit:
    terminal = rng.choices(list(TERMINAL_WEIGHTS), list(TERMINAL_WEIGHTS.values()))[0]
    destination = rng.choices(list(DISCHARGE_WEIGHTS), list(DISCHARGE_WEIGHTS.values()))[0]
    return Visit(hull=hull, seq=seq, kind=kind, dep_day=dep_day, stay_days=rng.choice([1, 2, 2, 3, 3, 4]),
                 terminal=terminal, destination=destination,
                 fraction=round(rng.uniform(0.86, 0.94), 3) if kind != "idle" else None,
                 speed_kmh=rng.uniform(9.0, 11.0) * 1.852)


def _assign_cases(rng: random.Random, hulls: list[Hull], visits: list[Visit]) -> None:
    def loads(hull: Hull) -> list[Visit]:
        return sorted((v for v in visits if v.hull is hull and v.kind == "load"), key=lambda v: v.dep_day)

    renamed, reflagged, gap, unconfirmed = hulls[0], hulls[1], hulls[2], hulls[3]
    for v in loads(renamed):
        v.case = "renamed"
    before, after = loads(reflagged)[-2:]
    before.case, after.case = "reflag_before", "reflag_after"
    for v in (before, after):
        v.destination_hidden = True
    g = loads(gap)[0]
    g.case, g.stay_days, g.terminal = "gap_split_call", 7, "vostochny"
    u = loads(unconfirmed)[0]
    u.case, u.destination_hidden = "unconfirmed_destination", True
    for v in visits:
        if v.kind == "idle":
            v.case = "idle_at_terminal"
        elif v.kind == "only_laden":
            v.case = "only_laden"
        elif v.hull.role == "alias":
            v.case = "alias_only"
    free = [v for v in visits if v.kind == "load" and v.case is None and v.hull not in (renamed, reflagged)]
    rng.choice(free).case = "other_destination"


# ----------------------------------------------------------------------------- timeline


def _stay_times(rng: random.Random, a_day: date, d_day: date, n: int) -> list[int]:
    """n image times in a terminal stay: the first on the arrival day, the last on the
    departure day after 00:15 UTC, all at least an hour apart."""
    for _ in range(1000):
        ts = [daylight(rng, a_day)]
        ts += [daylight(rng, a_day + timedelta(days=rng.randint(0, (d_day - a_day).days))) for _ in range(n - 2)]
        ts.append(daylight(rng, d_day, 0.25, 5.5))
        s = sorted(ts)
        if s[0] == ts[0] and s[-1] == ts[-1] and all(b - a >= HOUR for a, b in pairwise(s)):
            return s
    raise RuntimeError("could not place the stay's images")


def _jitter(rng: random.Random, pt: tuple[float, float], km: float = 0.03) -> tuple[float, float]:
    return near(rng, pt, km)


def plan_visit(rng: random.Random, v: Visit, ports: dict[str, Port]) -> None:
    """Physical movements of one visit and the images an analyst could take of them."""
    term = ports[v.terminal]
    v.anchorage = near(rng, (term.lat, term.lon), IN_PORT_MAX_KM)
    v.berth = near(rng, (term.lat, term.lon), IN_PORT_MAX_KM)
    v.t_arrive = midnight(v.a_day) - int(rng.uniform(2, 12) * HOUR)
    v.t_leave = midnight(v.dep_day) + int(rng.uniform(6, 10) * HOUR)
    n_empty, n_laden = rng.choice([1, 2, 2]), rng.choice([1, 2, 2])
    partial = rng.random() < PARTIAL_SHARE
    partial_laden = rng.random() < 0.5
    partial_value = round(rng.uniform(0.55, 0.70) if partial_laden else rng.uniform(0.30, 0.45), 2)

    def laden_fraction() -> float:
        return round(min(0.97, max(0.80, v.fraction + rng.uniform(-0.025, 0.025))), 2)

    def empty_fraction() -> float:
        return round(rng.uniform(0.05, 0.20), 2)

    if v.kind == "idle":
        times = _stay_times(rng, v.a_day, v.dep_day, rng.choice([2, 3]))
        states = [("empty", empty_fraction(), "idle") for _ in times]
        v.t_berth = v.t_leave  # it never moves to a berth
    elif v.kind == "only_laden":
        times = _stay_times(rng, v.dep_day - timedelta(days=1), v.dep_day, 2)
        states = [("laden", laden_fraction(), "departure") for _ in times]
        v.t_berth, v.t_flip = v.t_arrive + HOUR, v.t_arrive + 2 * HOUR  # loaded before anyone looked
    elif v.case == "gap_split_call":
        # empty on the first two days, nothing for > 5 days, then empty and laden on the last
        t0 = daylight(rng, v.a_day)
        t1 = daylight(rng, v.a_day + timedelta(days=1), -1.5, 1.0)
        t2 = daylight(rng, v.dep_day, 0.25, 1.5)
        t3 = daylight(rng, v.dep_day, 2.75, 5.5)
        assert t2 - t1 > reference.CALL_GAP_S + 6 * HOUR
        times = [t0, t1, t2, t3]
        states = [("empty", empty_fraction(), "arrival")] * 3 + [("laden", laden_fraction(), "departure")]
        v.t_berth, v.t_flip = t2 + HOUR // 2, (t2 + t3) // 2
    else:
        n = n_empty + int(partial) + n_laden
        times = _stay_times(rng, v.a_day, v.dep_day, n)
        states = [("empty", empty_fraction(), "arrival") for _ in range(n_empty)]
        if partial:
            states.append(("partial", partial_value, "loading"))
        states += [("laden", laden_fraction(), "departure") for _ in range(n_laden)]
        # laden from midway between the last empty-state and the first laden-state image
        k = n_empty + (1 if partial and not partial_laden else 0)
        v.t_berth = (times[n_empty - 1] + times[n_empty]) // 2
        v.t_flip = (times[k - 1] + times[k]) // 2
    for t, (state, lf, kind) in zip(times, states, strict=True):
        pt = _jitter(rng, v.anchorage if t < v.t_berth else v.berth)
        v.images.append(Image(t, pt[0], pt[1], state, lf, v.terminal, kind, protected=v.case is not None))

    if v.case == "other_destination":
        v.destination = "vladivostok"
    port = ports[v.destination]
    v.dest_berth = near(rng, (port.lat, port.lon), 1.0)
    v.out_lane = lane(v.berth, v.terminal, v.destination, v.dest_berth)
    v.t_dest_arrive = v.t_leave + int(v.out_lane.length_km / v.speed_kmh * HOUR)

    # At the destination: laden 1-4 days after leaving (not before arriving), empty 1-3 days later.
    offset = rng.randint(1, 3)
    while midnight(v.dep_day + timedelta(days=offset)) - int(1.5 * HOUR) < v.t_dest_arrive + HOUR:
        offset += 1
    t_laden = max(daylight(rng, v.dep_day + timedelta(days=offset)), v.t_dest_arrive + HOUR)
    t_empty = daylight(rng, utc_date(t_laden + 2 * HOUR) + timedelta(days=rng.randint(1, 3)))
    v.t_dest_flip = (t_laden + t_empty) // 2 if v.kind != "idle" else None
    v.t_dest_leave = t_empty + int(rng.uniform(2, 8) * HOUR)  # the last visit's; others wait for the next
    lf_dest, ef_dest = laden_fraction() if v.fraction else None, empty_fraction()
    at_sea = rng.random() < AT_SEA_SHARE
    t_sea = daylight(rng, utc_date(v.t_leave) + timedelta(days=1))
    sea_lf = laden_fraction() if v.fraction else None
    if v.kind == "idle" or v.destination_hidden:
        return
    for t, state, lf, kind in ((t_laden, "laden", lf_dest, "discharge_laden"),
                               (t_empty, "empty", ef_dest, "discharge_empty")):
        if v.kind == "only_laden" and state == "empty":
            continue
        pt = _jitter(rng, v.dest_berth)
        v.images.append(Image(t, pt[0], pt[1], state, lf, v.destination, kind,
                              protected=v.case is not None, at_destination=True))
    if at_sea and v.t_leave + 2 * HOUR < t_sea < v.t_dest_arrive - 2 * HOUR:
        lat, lon, _ = v.out_lane.at((t_sea - v.t_leave) / HOUR * v.speed_kmh)
        if clear_of_ports(ports, lat, lon):
            v.images.append(Image(t_sea, lat, lon, "laden", sea_lf, "sea", "at_sea", protected=v.case is not None))


def link_hull_visits(rng: random.Random, hull: Hull, visits: list[Visit], ports: dict[str, Port]) -> None:
    """Inbound legs between visits, the rename and reflag dates, and a check that it all fits."""
    prev_port, prev_berth = hull.home_port, near(rng, (ports[hull.home_port].lat, ports[hull.home_port].lon), 1.0)
    for i, v in enumerate(visits):
        v.in_lane = lane(v.anchorage, v.terminal, prev_port, prev_berth).reversed()
        v.t_inbound = v.t_arrive - int(v.in_lane.length_km / v.speed_kmh * HOUR)
        if i > 0:
            before = visits[i - 1]
            last = max([before.t_dest_leave] + [im.t for im in before.images])
            if v.t_inbound - last < 2 * DAY:
                raise AssertionError(f"{hull.name}: visit {v.seq} starts before visit {before.seq} ends")
            before.t_dest_leave = v.t_inbound
        prev_port, prev_berth = v.destination, v.dest_berth
    if hull.former_name is not None:
        first, second = visits[0], visits[1]
        hull.renamed_at = midnight(utc_date((first.t_dest_leave + second.t_arrive) // 2))
    if hull.new_flag is not None:
        loads = [v for v in visits if v.case in ("reflag_before", "reflag_after")]
        hull.reflag_at = midnight(utc_date((loads[0].t_leave + loads[1].t_arrive) // 2))
        assert loads[0].t_leave < hull.reflag_at < loads[1].t_arrive


# ============================================================================ emission


def tag_block(t: int) -> str:
    body = f"c:{t}"
    return f"\\{body}*{reduce(lambda a, ch: a ^ ord(ch), body, 0):02X}\\"


def loose_name(rng: random.Random, name: str) -> str:
    """How analysts write names: case, hyphens, spaces; the name key never changes."""
    words = name.split(" ")
    style = rng.choice(["title", "lower", "hyphen", "spaces", "joined", "title_hyphen"])
    if style == "title":
        return " ".join(w.capitalize() for w in words)
    if style == "lower":
        return name.lower()
    if style == "hyphen":
        return "-".join(words)
    if style == "spaces":
        return "  ".join(words) + " "
    if style == "joined":
        return " ".join(["".join(w for w in words if not w.isdigit()).lower()] + [w for w in words if w.isdigit()])
    return " ".join(w.capitalize() for w in words[:-1]) + "-" + words[-1].capitalize()


NOTES = {
    "arrival": ["arrived, high freeboard", "at anchor, riding high", "empty, awaiting berth"],
    "idle": ["at anchor, riding high", "no change, still high in water", "waiting at anchorage"],
    "loading": ["alongside, loading in progress", "at berth, partly laden", "hoses connected"],
    "departure": ["alongside, low in water", "deep laden", "loading complete, low freeboard"],
    "at_sea": ["underway SW, laden", "laden, heading toward DPRK", "underway, low freeboard"],
    "discharge_laden": ["at pier, deep in water", "alongside, laden", "moored at oil pier, laden"],
    "discharge_empty": ["discharged, high freeboard", "empty at berth", "riding high at pier"],
    "unknown": ["cloud cover, state unclear", "partial cloud, hull not visible", "shadow obscures waterline"],
    "stranger": ["unidentified tanker", "small tanker, name not legible", "tanker, no hull marking read"],
}


def _image_source(rng: random.Random, t: int, lon: float) -> tuple[str, str, str]:
    dt = datetime.fromtimestamp(t, UTC)
    src = rng.choices(["Planet", "Maxar", "Sentinel-2"], [55, 30, 15])[0]
    if src == "Planet":
        return src, f"{dt:%Y%m%d_%H%M%S}_{rng.randint(0, 99):02d}_{rng.randint(0, 0xFFFF):04x}", rng.choice(
            ["high", "medium"])
    if src == "Maxar":
        return src, f"10400100{rng.randint(0, 0xFFFFFFFF):08X}", rng.choice(["high", "high", "medium"])
    tile = "T53TLH" if lon > 132 else "T52TES"
    return src, f"S2{rng.choice('AB')}_MSIL2A_{dt:%Y%m%dT%H%M%S}_N0510_R{rng.randint(1, 143):03d}_{tile}", "medium"


def _observed_at(rng: random.Random, t: int, lon: float, local_rate: float) -> str:
    u, style = rng.random(), rng.random()
    if u < local_rate:
        return datetime.fromtimestamp(t, timezone(timedelta(hours=10 if lon > 131.0 else 9))).isoformat()
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if style < 0.6 else dt.isoformat()


def _move_some(rng: random.Random, items: list, share: float) -> list:
    items = list(items)
    for _ in range(round(share * len(items))):
        x = items.pop(rng.randrange(len(items)))
        items.insert(rng.randrange(len(items) + 1), x)
    return items


def emit_imagery(rng: random.Random, visits: list[Visit], ports: dict[str, Port], noise: NoiseConfig,
                 lists: SanctionsExcerpt, taken_names: set[str], year: int
                 ) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The analysts' log (planned images through the noise, strangers added, ids, order) and
    the duplicate rows it holds: {copy's sighting_id: original's sighting_id}."""
    items: list[tuple[int, Hull | None, Image, dict[str, str]]] = []
    for v in visits:
        hide_destination = rng.random() < noise.destination_unobserved_rate
        for im in v.images:
            u = [rng.random() for _ in range(8)]
            if not im.protected and (u[0] < noise.missed_image_rate
                                     or (im.at_destination and hide_destination)):
                continue
            state, lf, kind = im.state, im.load_fraction, im.kind
            if not im.protected and u[1] < noise.unknown_state_rate:
                state, lf, kind = "unknown", None, "unknown"
            if state == "laden" and not im.protected and u[2] < noise.no_fraction_rate:
                lf = None
            hull = v.hull
            mmsi = hull.mmsi_at(im.t)
            row = {"vessel_name": hull.name_at(im.t), "imo": str(hull.imo),
                   "mmsi": str(mmsi) if mmsi and u[3] < noise.imagery_mmsi_rate else ""}
            if u[4] < noise.no_imo_rate:
                row["imo"] = ""
                row["mmsi"] = str(mmsi) if mmsi and u[5] < 0.5 else ""
            if u[6] < noise.name_variant_rate:
                row["vessel_name"] = loose_name(rng, row["vessel_name"])
            if hull.role == "alias" or (hull.renamed_at is not None and im.t < hull.renamed_at):
                # the hard cases: only the alias, or only the old name, identifies these rows
                base = hull.alias if hull.role == "alias" else hull.former_name
                row.update(imo="", mmsi="", vessel_name=loose_name(rng, base) if u[6] < 0.5 else base)
            row.update(laden_state=state, load_fraction="" if lf is None else f"{lf:g}",
                       confidence="low" if state == "unknown" else "", notes=rng.choice(NOTES[kind]))
            items.append((im.t, hull, im, row))
            if u[7] < noise.duplicate_rate:
                # the same image logged again by someone else: same image id, own sighting id, a
                # slightly different time and position read off it
                shift = rng.choice([-1, 1]) * rng.randint(60, 600)
                lat, lon = _jitter(rng, (im.lat, im.lon), 0.02)
                items.append((im.t + shift, hull, Image(im.t + shift, lat, lon, im.state, im.load_fraction, im.where,
                                                        im.kind), {**row, "_copy_of": row}))

    n_strangers = round(noise.stranger_rate * len(items))
    spots = [p for p in ports.values() if p.role in ("load_terminal", "discharge_port") and p.port_id in
             (*TERMINAL_WEIGHTS, *DISCHARGE_WEIGHTS)]
    t_lo, t_hi = midnight(date(year, *SEASON_START)), midnight(date(year, *SEASON_END))
    for _ in range(n_strangers):
        p = rng.choice(spots)
        lat, lon = near(rng, (p.lat, p.lon), 1.0)
        t = daylight(rng, utc_date(rng.randint(t_lo, t_hi)))
        name = rng.choice(["", "unidentified tanker", _names(rng, lists, taken_names, rng.random() < 0.6)])
        items.append((t, None, Image(t, lat, lon, "unknown", None, p.port_id, "stranger"),
                      {"vessel_name": name or "UNKNOWN", "imo": "", "mmsi": "", "laden_state":
                       rng.choice(["empty", "laden", "unknown"]), "load_fraction": "", "confidence": "low",
                       "notes": rng.choice(NOTES["stranger"])}))

    items.sort(key=lambda x: (x[0], x[3]["vessel_name"]))
    rows = []
    for i, (t, _, im, row) in enumerate(items, 1):
        row["_sighting_id"] = f"IMG-{year}-{i:05d}"
        if "_copy_of" not in row:
            row["_image"] = _image_source(rng, t, im.lon)
    for t, _, im, row in items:
        src, image_id, conf = row["_copy_of"]["_image"] if "_copy_of" in row else row["_image"]
        rows.append({
            "sighting_id": row["_sighting_id"],
            "observed_at": _observed_at(rng, t, im.lon, noise.local_time_rate),
            "source": src, "image_id": image_id,
            "latitude": f"{im.lat:.6f}", "longitude": f"{im.lon:.6f}",
            "vessel_name": row["vessel_name"], "imo": row["imo"], "mmsi": row["mmsi"],
            "laden_state": row["laden_state"], "load_fraction": row["load_fraction"],
            "confidence": row["confidence"] or conf, "notes": row["notes"],
        })
    duplicates = {row["_sighting_id"]: row["_copy_of"]["_sighting_id"] for _, _, _, row in items if "_copy_of" in row}
    return _move_some(rng, rows, noise.out_of_order), duplicates


@dataclass
class AisMsg:
    t: int
    order: int  # type 5 before a position at the same second
    data: dict


def _in_flip_window(t: int, flips: list[int]) -> bool:
    # no position in the minutes around a draught change, so none carries a stale draught
    return any(f - 120 <= t <= f + 180 for f in flips)


def _stationary(rng: random.Random, pt: tuple[float, float], t_from: int, t_to: int, flips: list[int],
                status: int) -> list[tuple[int, float, float, float, float, int]]:
    out = []
    t = t_from
    while t < t_to:
        if not _in_flip_window(t, flips):
            lat, lon = _jitter(rng, pt, 0.04)
            out.append((t, lat, lon, round(rng.uniform(0, 359.9), 1), round(rng.uniform(0, 0.2), 1), status))
        t += int(rng.uniform(1, 3) * HOUR)
    return out


def _transit(rng: random.Random, ln: Lane, t0: int, speed_kmh: float, t_from: int, t_to: int,
             ports: dict[str, Port], dark_km: float | None, dark_from_start: bool = False):
    """Fixes along a lane sailed from t0, between t_from and t_to, clear of every port.

    dark_km: stop at the first fix within it of the DPRK coast (outbound), or with
    dark_from_start, begin after the last such fix (inbound)."""
    fixes = []
    t = t_from
    while t <= t_to:
        lat, lon, course = ln.at((t - t0) / HOUR * speed_kmh)
        fixes.append((t, lat, lon, course))
        t += int(rng.uniform(1, 3) * HOUR)
    if dark_km is not None and fixes:
        near_coast = [dist_to_dprk_coast_km(lat, lon) <= dark_km for _, lat, lon, _ in fixes]
        if dark_from_start:
            last = max((i for i, x in enumerate(near_coast) if x), default=-1)
            fixes = fixes[last + 1:]
        else:
            first = next((i for i, x in enumerate(near_coast) if x), len(fixes))
            fixes = fixes[:first]
    speed_kn = speed_kmh / 1.852
    return [(t, lat, lon, round(course, 1), round(speed_kn + rng.uniform(-0.4, 0.4), 1), 0)
            for t, lat, lon, course in fixes if clear_of_ports(ports, lat, lon)]


def hull_ais(rng: random.Random, hull: Hull, visits: list[Visit], ports: dict[str, Port],
             noise: NoiseConfig) -> list[AisMsg]:
    """One hull's transmissions: inbound, at the terminal, outbound, at the destination
    unless dark; type 5 at the start of every transmitting stretch, every 6-12 h, and
    at each draught change."""
    fixes = []
    loads = [v for v in visits if v.t_flip is not None]
    flips = [v.t_flip for v in loads] + [v.t_dest_flip for v in loads if v.t_dest_flip]
    prev: Visit | None = None
    for v in visits:
        origin = prev.destination if prev else hull.home_port
        dark_in = (noise.dark_ais_near_dprk or (prev is not None and prev.destination_hidden)) and \
            ports[origin].role == "discharge_port"
        fixes += _transit(rng, v.in_lane, v.t_inbound, v.speed_kmh, v.t_inbound + rng.randint(1800, 5400),
                          v.t_arrive - 600, ports, noise.dark_km if dark_in else None, dark_from_start=True)
        fixes += _stationary(rng, v.anchorage, v.t_arrive + rng.randint(600, 3000), v.t_berth, flips, 1)
        fixes += _stationary(rng, v.berth, max(v.t_berth, v.t_arrive + 3000), v.t_leave - 300, flips, 5)
        dark_out = (noise.dark_ais_near_dprk or v.destination_hidden) and ports[v.destination].role == "discharge_port"
        fixes += _transit(rng, v.out_lane, v.t_leave, v.speed_kmh, v.t_leave + rng.randint(1800, 5400),
                          v.t_dest_arrive - 600, ports, noise.dark_km if dark_out else None)
        if not dark_out:
            fixes += _stationary(rng, v.dest_berth, v.t_dest_arrive + rng.randint(600, 3000), v.t_dest_leave - 300,
                                 flips, 5)
        prev = v
    # one fix per second per MMSI: the pipeline keys AIS sightings by MMSI and second
    fixes.sort()
    seen: set[int] = set()
    unique = []
    for f in fixes:
        t = f[0]
        while t in seen:
            t += 1
        seen.add(t)
        unique.append((t, *f[1:]))
    fixes = [f for f in unique if rng.random() >= noise.ais_loss_rate]
    if not fixes:
        return []

    def laden_at(t: int) -> bool:
        return any(v.t_flip <= t < (v.t_dest_flip or 2**62) for v in loads)

    times = [f[0] for f in fixes]
    t5: list[int] = []
    start = 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] - times[i - 1] > 12 * HOUR:
            lo, hi = times[start], times[i - 1]
            t = lo - rng.randint(60, 600)
            while t <= hi:
                t5.append(t)
                t += int(rng.uniform(6, 12) * HOUR)
            # a change just before a stretch starts is covered by the stretch's first report only if that
            # report comes after it: send one after every change from 700 s before the stretch on
            t5 += [f + 60 for f in flips if lo - 700 <= f <= hi]
            start = i
    msgs = []
    for t, lat, lon, course, speed, status in fixes:
        mmsi = hull.mmsi_at(t)
        msgs.append(AisMsg(t, 1, {"type": 1, "mmsi": mmsi, "status": status, "lat": round(lat, 5),
                                  "lon": round(lon, 5), "speed": speed, "course": course,
                                  "heading": int(course) % 360, "second": t % 60, "accuracy": 0}))
    length = round(4.6 * hull.dwt ** 0.36)
    for t in sorted(set(t5)):
        laden = laden_at(t)
        msgs.append(AisMsg(t, 0, {
            "type": 5, "mmsi": hull.mmsi_at(t), "ais_version": 0, "imo": hull.imo, "callsign": hull.call_sign,
            "shipname": hull.name_at(t), "ship_type": 80, "to_bow": round(length * 0.85),
            "to_stern": length - round(length * 0.85), "to_port": round(length / 13),
            "to_starboard": round(length / 13),
            "epfd": 1, "month": 0, "day": 0, "hour": 24, "minute": 60, "draught": hull.draught(laden),
            "destination": "FOR ORDERS" if laden else "VOSTOCHNY", "dte": 0}))
    return msgs


def emit_ais(rng: random.Random, hulls: list[Hull], visits: list[Visit], ports: dict[str, Port],
             noise: NoiseConfig, year: int) -> list[str]:
    msgs: list[AisMsg] = []
    for hull in hulls:
        if hull.ais:
            msgs += hull_ais(rng, hull, sorted((v for v in visits if v.hull is hull), key=lambda v: v.dep_day),
                             ports, noise)
    # strangers: tugs and bunker boats at the terminals, MMSIs no source links to an IMO
    n_fixes = sum(1 for m in msgs if m.order == 1)
    strangers = [273_000_000 + rng.randint(100000, 999999) for _ in range(3)]
    t_lo, t_hi = midnight(date(year, *SEASON_START)), midnight(date(year, *SEASON_END))
    for _ in range(round(noise.stranger_rate * n_fixes)):
        p = ports[rng.choice(list(TERMINAL_WEIGHTS))]
        lat, lon = near(rng, (p.lat, p.lon), 1.0)
        t = rng.randint(t_lo, t_hi)
        msgs.append(AisMsg(t, 1, {"type": 1, "mmsi": rng.choice(strangers), "status": 0, "lat": round(lat, 5),
                                  "lon": round(lon, 5), "speed": 0.1, "course": 0.0, "heading": 0,
                                  "second": t % 60, "accuracy": 0}))
    msgs.sort(key=lambda m: (m.t, m.order, m.data["mmsi"]))
    groups = []
    seq = 0
    for m in msgs:
        channel = rng.choice("AB")
        if m.data["type"] == 5:
            sentences = encode_dict(m.data, talker_id="AI", sentence_type="VDM", radio_channel=channel, seq_id=seq)
            seq = (seq + 1) % 10
        else:
            sentences = encode_dict(m.data, talker_id="AI", sentence_type="VDM", radio_channel=channel)
        groups.append([tag_block(m.t) + s for s in sentences])
    return [line for g in _move_some(rng, groups, noise.out_of_order) for line in g]


def registry_rows(rng: random.Random, hulls: list[Hull], year: int) -> list[dict[str, str]]:
    rows = []
    for h in hulls:
        row = {
            "imo": str(h.imo), "name": h.name, "former_names": h.former_name or "",
            "mmsi": str(h.mmsi or ""), "call_sign": h.call_sign, "flag": h.flag_written,
            "vessel_type": h.vessel_type, "dwt": str(h.dwt), "gross_tonnage": str(round(h.dwt * 0.55)),
            "cargo_capacity_m3": str(h.cargo_m3 or ""), "summer_draught_m": f"{h.summer_draught:.1f}",
            "build_year": str(h.build_year), "owner": h.owner,
            "updated_at": (date(year, 12, 1) + timedelta(days=rng.randint(0, 20))).isoformat(),
        }
        if h.reflag_at is not None:
            # the row before the reflag, then the row from the reflag date on
            rows.append({**row, "updated_at": date(year - 1, rng.randint(3, 9), rng.randint(1, 28)).isoformat()})
            row.update(flag=h.new_flag_written, mmsi=str(h.new_mmsi), call_sign="9L" + h.call_sign[2:],
                       updated_at=utc_date(h.reflag_at).isoformat())
        rows.append(row)
    return rows


# ============================================================================ truth


@dataclass
class TruthVoyage:
    """A load the generator made happen, with what the DOMAIN rules make of its evidence."""

    voyage_no: int
    imo: int
    vessel_name: str
    case: str | None
    planned: bool  # False: the rules find a voyage no visit planned (never expected)
    observable: bool
    reason: str  # why not observable; empty when observable
    load_port: str  # port_id
    load_arrival_at: str | None
    load_departure_at: str | None  # last sighting of the load call, as the pipeline can observe it
    planned_departure_at: str  # when the ship physically left the terminal
    discharge_port: str | None  # port_id of the destination call
    destination_status: str | None
    planned_destination: str
    flag: str | None  # flag in force on the load departure date
    sanctioned: bool
    counts_toward_cap: bool | None
    capacity_bbl: float
    load_fraction: float | None
    load_fraction_source: str | None  # observed_median | default
    volume_bbl: float | None
    planned_load_fraction: float | None
    planned_volume_bbl: float
    fraction_evidence: list[str]  # analysts' sighting ids of the laden readings used
    load_call_evidence: list[str]  # evidence ids of the load call, as the pipeline writes them

    @property
    def departure(self) -> datetime | None:
        return datetime.fromisoformat(self.load_departure_at.replace("Z", "+00:00")) if self.load_departure_at else None


@dataclass
class Truth:
    """The answer key of one generated scenario."""

    seed: int
    year: int
    out_dir: Path
    sources_file: Path
    noise: NoiseConfig
    voyages: list[TruthVoyage]
    cases: list[dict]
    breach_dates: dict[int, date | None]
    delivered_bbl: dict[int, float]
    breach_dates_planned: dict[int, date | None]
    resolution: dict[str, float]
    duplicates: dict[str, str]  # imagery rows that repeat another row's image: copy id -> original id
    hulls: list[dict]

    def observable(self) -> list[TruthVoyage]:
        return [v for v in self.voyages if v.observable]

    def case(self, label: str) -> list[TruthVoyage]:
        return [v for v in self.voyages if v.case == label]

    def case_info(self, label: str) -> dict:
        return next(c for c in self.cases if c["case"] == label)

    def to_json(self) -> dict:
        return {
            "seed": self.seed, "year": self.year, "sources_file": str(self.sources_file),
            "noise": asdict(self.noise),
            "years": {str(y): {"breach_date": d.isoformat() if d else None, "delivered_bbl": round(
                self.delivered_bbl.get(y, 0.0), 2)} for y, d in sorted(self.breach_dates.items())},
            "breach_dates_planned": {str(y): d.isoformat() if d else None
                                     for y, d in sorted(self.breach_dates_planned.items())},
            "voyages": len(self.voyages), "observable_voyages": len(self.observable()),
            "resolution": self.resolution, "duplicates": self.duplicates, "cases": self.cases, "hulls": self.hulls,
            "truth_voyages": [asdict(v) for v in self.voyages],
        }

    @classmethod
    def load(cls, out_dir: Path) -> Truth:
        doc = json.loads((Path(out_dir) / "truth.json").read_text(encoding="utf-8"))
        years = {int(y): v for y, v in doc["years"].items()}
        return cls(
            seed=doc["seed"], year=doc["year"], out_dir=Path(out_dir), sources_file=Path(doc["sources_file"]),
            noise=NoiseConfig(**doc["noise"]), voyages=[TruthVoyage(**v) for v in doc["truth_voyages"]],
            cases=doc["cases"],
            breach_dates={y: date.fromisoformat(v["breach_date"]) if v["breach_date"] else None
                          for y, v in years.items()},
            delivered_bbl={y: v["delivered_bbl"] for y, v in years.items()},
            breach_dates_planned={int(y): date.fromisoformat(d) if d else None
                                  for y, d in doc["breach_dates_planned"].items()},
            resolution=doc["resolution"], duplicates=doc["duplicates"], hulls=doc["hulls"])


def _unobservable_reason(v: Visit, ref: reference.Reference, next_flip: float, prev_flip: float) -> str:
    hull_events = ref.events.get(v.hull.imo, [])
    event = next((e for e in hull_events if v.t_flip < e.first_laden.t < next_flip), None)
    if event is not None and event.attribution == "unattributed":
        return "load not attributable: no terminal call between the last empty and the first laden sighting"
    if event is not None and event.attribution == "duplicate_in_call":
        return "a second load in a terminal call that already holds one"
    states = [s for s in ref.sightings.get(v.hull.imo, []) if s.state]
    if not any(s.state == "laden" and v.t_flip < s.t < next_flip for s in states):
        return "no laden sighting after the load (missed or unknown)"
    if not any(s.state == "empty" and prev_flip < s.t < v.t_flip for s in states):
        return "no empty sighting before the load (missed, unknown, or never taken)"
    return "no empty->laden transition around the load"


def build_truth(seed: int, year: int, out_dir: Path, sources_file: Path, noise: NoiseConfig, hulls: list[Hull],
                visits: list[Visit], ref: reference.Reference, duplicates: dict[str, str]) -> Truth:
    by_imo = {h.imo: h for h in hulls}
    matched: dict[int, Visit] = {}
    rows: list[TruthVoyage] = []
    load_visits = [v for v in visits if v.kind in ("load", "only_laden")]
    for rv in ref.voyages:
        owner = next((v for v in load_visits if v.hull.imo == rv.imo
                      and v.t_arrive <= rv.load_call.departure <= v.t_leave), None)
        if owner is not None and id(owner) in matched:
            owner = None  # two voyages in one stay: the second was not planned
        if owner is not None:
            matched[id(owner)] = owner
        hull = by_imo[rv.imo]
        rows.append(TruthVoyage(
            voyage_no=0, imo=rv.imo, vessel_name=hull.name, case=owner.case if owner else "unplanned",
            planned=owner is not None, observable=True, reason="", load_port=rv.load_call.port,
            load_arrival_at=iso_z(rv.load_call.arrival), load_departure_at=iso_z(rv.load_call.departure),
            planned_departure_at=iso_z(owner.t_leave) if owner else "",
            discharge_port=rv.destination.port if rv.destination else None, destination_status=rv.status,
            planned_destination=owner.destination if owner else "", flag=rv.flag, sanctioned=rv.sanctioned,
            counts_toward_cap=rv.counts_toward_cap, capacity_bbl=rv.capacity_bbl, load_fraction=rv.load_fraction,
            load_fraction_source="observed_median" if rv.fraction_evidence else "default",
            volume_bbl=rv.volume_bbl, planned_load_fraction=owner.fraction if owner else None,
            planned_volume_bbl=hull.capacity_bbl * (owner.fraction if owner else rv.load_fraction),
            fraction_evidence=[s.sid.split(":", 1)[1] for s in rv.fraction_evidence],
            load_call_evidence=[s.sid for s in rv.load_call.sightings]))
    for v in load_visits:
        if id(v) in matched:
            continue
        same = sorted((w for w in load_visits if w.hull is v.hull), key=lambda w: w.t_flip)
        i = same.index(v)
        next_flip = same[i + 1].t_flip if i + 1 < len(same) else float("inf")
        prev_flip = same[i - 1].t_flip if i > 0 else float("-inf")
        # a flip-to-flip window: any sighting between two loads belongs to one of them
        rows.append(TruthVoyage(
            voyage_no=0, imo=v.hull.imo, vessel_name=v.hull.name, case=v.case, planned=True, observable=False,
            reason=_unobservable_reason(v, ref, next_flip, prev_flip), load_port=v.terminal, load_arrival_at=None,
            load_departure_at=None, planned_departure_at=iso_z(v.t_leave), discharge_port=None,
            destination_status=None, planned_destination=v.destination,
            flag=reference.flag_on(ref.registry[v.hull.imo], v.t_leave), sanctioned=v.hull.role == "alias",
            counts_toward_cap=None, capacity_bbl=v.hull.capacity_bbl, load_fraction=None, load_fraction_source=None,
            volume_bbl=None, planned_load_fraction=v.fraction, planned_volume_bbl=v.hull.capacity_bbl * v.fraction,
            fraction_evidence=[], load_call_evidence=[]))
    rows.sort(key=lambda r: (r.load_departure_at or r.planned_departure_at, r.imo))
    for i, r in enumerate(rows, 1):
        r.voyage_no = i

    counted = [(int(r.departure.timestamp()), r.volume_bbl) for r in rows if r.observable and r.counts_toward_cap]
    breach = reference.breach_dates(counted)
    delivered: dict[int, float] = {}
    for t, vol in counted:
        delivered[utc_date(t).year] = delivered.get(utc_date(t).year, 0.0) + vol
    planned_counted = []
    for v in load_visits:
        status_dprk = v.destination != "vladivostok"
        flag = reference.flag_on(ref.registry[v.hull.imo], v.t_leave)
        if status_dprk and (not v.destination_hidden or flag == "KP" or v.hull.role == "alias"):
            planned_counted.append((v.t_leave, v.hull.capacity_bbl * v.fraction))
    usable = sum(ref.usable.values())
    resolution = {
        "usable_sightings": usable, "resolved_sightings": sum(ref.resolved.values()),
        "rate": sum(ref.resolved.values()) / usable if usable else 1.0,
        "imagery_usable": ref.usable["imagery"], "imagery_resolved": ref.resolved["imagery"],
        "ais_usable": ref.usable["ais"], "ais_resolved": ref.resolved["ais"],
    }
    return Truth(seed, year, out_dir, sources_file, noise, rows, _cases(hulls, visits, rows), breach, delivered,
                 reference.breach_dates(planned_counted), resolution, duplicates,
                 [{"imo": h.imo, "name": h.name, "flag": h.flag, "ais": h.ais, "role": h.role,
                   "mmsi": h.mmsi, "capacity_bbl": h.capacity_bbl} for h in hulls])


def _cases(hulls: list[Hull], visits: list[Visit], rows: list[TruthVoyage]) -> list[dict]:
    out = []
    labels = sorted({v.case for v in visits if v.case})
    for label in labels:
        vs = [v for v in visits if v.case == label]
        hull = vs[0].hull
        entry = {"case": label, "imo": hull.imo, "vessel_name": hull.name,
                 "voyage_nos": [r.voyage_no for r in rows if r.case == label],
                 "windows": [[iso_z(v.t_arrive), iso_z(v.t_leave)] for v in vs],
                 "terminal": vs[0].terminal}
        if label == "renamed":
            entry.update(old_name=hull.former_name, renamed_at=iso_z(hull.renamed_at))
        if label.startswith("reflag"):
            entry.update(flag_before=hull.flag, flag_after=hull.new_flag, reflagged_at=iso_z(hull.reflag_at))
        if label == "alias_only":
            entry.update(alias=hull.alias, listed_name=hull.name)
        if label == "gap_split_call":
            ts = sorted(im.t for im in vs[0].images if im.where == vs[0].terminal)
            entry.update(gap_from=iso_z(ts[1]), gap_to=iso_z(ts[2]))
        out.append(entry)
    return out


# ============================================================================ entry points


TRUTH_COLUMNS = [f.name for f in fields(TruthVoyage)]


def generate(seed: int, out_dir: Path, *, tankers: int, voyages: int, year: int = 2024,
             noise: NoiseConfig = NoiseConfig(), hard_cases: bool = True) -> Truth:
    """Write registry.csv, imagery.csv, ais.nmea, sources.yaml, truth_voyages.csv and truth.json
    into ``out_dir`` and return the truth.

    ``tankers`` synthetic hulls carry ``voyages`` planned loads with departures between
    February and November of ``year``. ``hard_cases`` labels some of those loads and adds
    a few visits, each recorded in the truth under its ``case``:

    - ``renamed``: every load of hull 0; before the rename date imagery names it only by
      its old name, which the registry row keeps in ``former_names``;
    - ``reflag_before`` / ``reflag_after``: hull 1's last two loads, destination never
      seen; two registry rows, DPRK flag then Sierra Leone from ``updated_at`` on;
    - ``gap_split_call``: a 7-day stay at Vostochny with no sighting for > 5 days;
    - ``unconfirmed_destination``: a DPRK hull's load whose destination nobody sees;
    - ``other_destination``: a load discharged at Vladivostok;
    - ``idle_at_terminal``: an extra call of hull 3 that arrives and leaves empty;
    - ``only_laden``: an extra hull, one load, seen laden only (not observable);
    - ``alias_only``: an extra hull, the real OFAC-listed AM NOK GANG (IMO 8132835), one
      load, named in imagery only by its OFAC alias AP ROK GANG.

    With hard cases it needs tankers >= 5 and voyages >= 7.
    """
    if hard_cases and tankers < 5:
        raise ValueError("hard cases need at least 5 tankers")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ports = load_ports()
    lists = SanctionsExcerpt.load()
    plan_rng = random.Random(f"{seed}:plan")
    noise_rng = random.Random(f"{seed}:noise")
    ais_rng = random.Random(f"{seed}:ais")
    fleet_rng = random.Random(f"{seed}:fleet")

    hulls = make_fleet(fleet_rng, tankers, lists, noise, hard_cases)
    plan = schedule(plan_rng, hulls, tankers, voyages, year, hard_cases)
    for v in plan:
        plan_visit(plan_rng, v, ports)
    for hull in hulls:
        own = sorted((v for v in plan if v.hull is hull), key=lambda v: v.dep_day)
        if own:
            link_hull_visits(plan_rng, hull, own, ports)

    taken = {reference.name_key(n) for h in hulls for n in (h.name, h.former_name, h.alias) if n}
    imagery, duplicates = emit_imagery(noise_rng, plan, ports, noise, lists, taken, year)
    nmea = emit_ais(ais_rng, hulls, plan, ports, noise, year)
    registry = registry_rows(fleet_rng, hulls, year)

    (out_dir / "registry.csv").write_text(csv_text(REGISTRY_HEADER, registry), encoding="utf-8")
    (out_dir / "imagery.csv").write_text(csv_text(IMAGERY_HEADER, imagery), encoding="utf-8")
    (out_dir / "ais.nmea").write_text("".join(line + "\n" for line in nmea), encoding="ascii")
    sources = out_dir / "sources.yaml"
    sources.write_text(
        "# A generated scenario (scenarios/generator.py); the sanctions excerpts are the real ones of demo/.\n"
        "sources:\n"
        f"  ofac:\n    kind: ofac_sdn_csv\n    url: {OFAC_SDN}\n    alt_url: {OFAC_ALT}\n"
        f"    comments_url: {OFAC_COMMENTS}\n"
        f"  un:\n    kind: un_consolidated_xml\n    url: {UN_XML}\n"
        "  registry:\n    kind: registry_csv\n    url: registry.csv\n"
        "  imagery:\n    kind: imagery_sightings_csv\n    url: imagery.csv\n"
        "  ais:\n    kind: ais_nmea\n    url: ais.nmea\n", encoding="utf-8")

    ref = reference.derive(out_dir / "registry.csv", out_dir / "imagery.csv", out_dir / "ais.nmea", ports, lists,
                           not_observations=set(duplicates))
    truth = build_truth(seed, year, out_dir, sources, noise, hulls, plan, ref, duplicates)
    truth_rows = []
    for v in truth.voyages:
        row = asdict(v)
        row["fraction_evidence"] = ";".join(v.fraction_evidence)
        row["load_call_evidence"] = ";".join(v.load_call_evidence)
        truth_rows.append({k: "" if x is None else (f"{x:.4f}" if isinstance(x, float) else str(x))
                           for k, x in row.items()})
    (out_dir / "truth_voyages.csv").write_text(csv_text(TRUTH_COLUMNS, truth_rows), encoding="utf-8")
    (out_dir / "truth.json").write_text(json.dumps(truth.to_json(), indent=2) + "\n", encoding="utf-8")
    return truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tankers", type=int, default=12)
    ap.add_argument("--voyages", type=int, default=40)
    ap.add_argument("--year", type=int, default=2024)
    ap.add_argument("--no-noise", action="store_true")
    ap.add_argument("--no-hard-cases", action="store_true")
    args = ap.parse_args(argv)
    truth = generate(args.seed, args.out, tankers=args.tankers, voyages=args.voyages, year=args.year,
                     noise=NoiseConfig.none() if args.no_noise else NoiseConfig(),
                     hard_cases=not args.no_hard_cases)
    doc = truth.to_json()
    del doc["truth_voyages"], doc["hulls"]
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
