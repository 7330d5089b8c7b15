"""DOMAIN §3 applied in plain Python to emitted scenario files: the generator's answer key.

This is an independent second implementation of the rules, written from DOMAIN.md
rather than from the SQL, and run only on the bytes the generator wrote (registry
CSV, imagery CSV, NMEA, the sanctions excerpts), so that the truth is what the
evidence supports, not what the generator intended. Where DOMAIN is silent the
choice is documented at the function that makes it.
"""

from __future__ import annotations

import csv
import re
import statistics
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from pathlib import Path

from pyais import decode as ais_decode
from stdnum import imo as stdnum_imo

from scenarios.geo import REPO_ROOT, Port, port_at
from tankerwatch import parameters

BBL_PER_M3 = 6.2898
BBL_PER_TONNE_DIESEL = 7.46
CARGO_SHARE_OF_DWT = 0.95
DEFAULT_LOAD_FRACTION = 0.90
CAP_BBL = 500_000
# the rules' constants, from the file the SQL models read too (sql/parameters.yml)
CALL_GAP_S = parameters.seconds("port_call_max_gap")
DRAUGHT_MAX_AGE_S = parameters.seconds("draught_max_age")
LADEN_RATIO = parameters.value("laden_draught_ratio")
EMPTY_RATIO = parameters.value("empty_draught_ratio")
PARTIAL_LADEN_FRACTION = parameters.value("partial_laden_fraction")

SANCTIONS_DIR = REPO_ROOT / "demo" / "sanctions"
OFAC_SDN = SANCTIONS_DIR / "ofac_sdn_dprk_20240503.csv"
OFAC_ALT = SANCTIONS_DIR / "ofac_alt_dprk_2025.csv"
OFAC_COMMENTS = SANCTIONS_DIR / "ofac_sdn_comments_2025.csv"
UN_XML = SANCTIONS_DIR / "un_consolidated_dprk_20260227.xml"
COUNTRIES_CSV = REPO_ROOT / "seeds" / "countries.csv"


def imo_valid(text: str) -> bool:
    """Seven digits as written, the last the IMO check digit; stdnum would also accept
    "IMO 8604917" or inner spaces, which no field of these files is allowed to hold."""
    return len(text) == 7 and stdnum_imo.is_valid(text)


def name_key(name: str | None) -> str:
    """Case, spaces, hyphens and other punctuation do not count."""
    return re.sub(r"[^A-Z0-9]", "", (name or "").upper())


def _tokens(text: str) -> str:
    return " " + re.sub(r"[^A-Z0-9]+", " ", text.upper()).strip() + " "


def _ofac_rows(path: Path) -> list[list[str]]:
    text = path.read_bytes().decode("cp1252", "replace").replace("\x1a", "")
    return [[c.strip() for c in row] for row in csv.reader(text.splitlines()) if row]


@dataclass
class SanctionsExcerpt:
    """What the bundled real lists say about hulls: IMOs, names, aliases, MMSIs, and all their text."""

    vessel_imos: set[int] = field(default_factory=set)
    names: dict[int, set[str]] = field(default_factory=dict)
    mmsis: dict[int, set[int]] = field(default_factory=dict)
    text_tokens: str = ""

    @classmethod
    def load(cls) -> SanctionsExcerpt:
        lists = cls()
        remarks_tail: dict[str, str] = {}
        for row in _ofac_rows(OFAC_COMMENTS):
            remarks_tail[row[0]] = remarks_tail.get(row[0], "") + row[1]
        by_ent: dict[str, int] = {}
        texts = []
        for row in _ofac_rows(OFAC_SDN):
            texts.append(" ".join(row))
            if len(row) < 12 or row[2].lower() != "vessel":
                continue
            remarks = row[11].replace("-0-", "") + remarks_tail.get(row[0], "")
            found = re.search(r"Vessel Registration Identification (IMO )?([0-9]+)", remarks)
            if not found or not imo_valid(found.group(2)):
                continue
            imo = int(found.group(2))
            by_ent[row[0]] = imo
            lists.vessel_imos.add(imo)
            lists.names.setdefault(imo, set()).add(row[1].upper())
            mmsi = re.search(r"MMSI ([0-9]{9})", remarks)
            if mmsi:
                lists.mmsis.setdefault(imo, set()).add(int(mmsi.group(1)))
        for row in _ofac_rows(OFAC_ALT):
            texts.append(" ".join(row))
            if row[0] in by_ent and len(row) > 3:
                lists.names[by_ent[row[0]]].add(row[3].upper())
        texts.append(UN_XML.read_text(encoding="utf-8"))
        lists.text_tokens = _tokens(" ".join(texts))
        return lists

    def mentions(self, phrase: str) -> bool:
        """True when the lists' text contains the phrase as whole words, or any number in it."""
        return _tokens(phrase) in self.text_tokens


def load_country_codes() -> dict[str, str]:
    with COUNTRIES_CSV.open(newline="", encoding="utf-8") as handle:
        return {row["country_name"].upper(): row["iso2"] for row in csv.DictReader(handle)}


def flag_iso2(written: str, countries: dict[str, str]) -> str | None:
    written = written.strip()
    if re.fullmatch(r"[A-Za-z]{2}", written):
        return written.upper()
    return countries.get(written.upper())


def parse_time(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"time without offset: {text}")
    return int(dt.timestamp())


def utc_date(t: int) -> date:
    return datetime.fromtimestamp(t, UTC).date()


def iso_z(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------- reading


@dataclass
class RegistryRow:
    imo: int
    name: str
    former_names: list[str]
    mmsi: int | None
    flag: str | None
    dwt: float | None
    cargo_m3: float | None
    summer_draught: float | None
    updated_at: int | None
    source_row: int


def read_registry(path: Path, countries: dict[str, str]) -> dict[int, list[RegistryRow]]:
    """Registry rows per IMO, oldest first (by updated_at, then line)."""
    out: dict[int, list[RegistryRow]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            out.setdefault(int(row["imo"]), []).append(RegistryRow(
                imo=int(row["imo"]),
                name=row["name"].strip().upper(),
                former_names=[n.strip().upper() for n in row["former_names"].split(";") if n.strip()],
                mmsi=int(row["mmsi"]) if row["mmsi"].strip() else None,
                flag=flag_iso2(row["flag"], countries) if row["flag"].strip() else None,
                dwt=float(row["dwt"]) if row["dwt"].strip() else None,
                cargo_m3=float(row["cargo_capacity_m3"]) if row["cargo_capacity_m3"].strip() else None,
                summer_draught=float(row["summer_draught_m"]) if row["summer_draught_m"].strip() else None,
                updated_at=parse_time(row["updated_at"] + "T00:00:00+00:00") if row["updated_at"].strip() else None,
                source_row=line,
            ))
    for rows in out.values():
        rows.sort(key=lambda r: (r.updated_at is not None, r.updated_at or 0, r.source_row))
    return out


@dataclass
class AisPosition:
    t: int
    mmsi: int
    lat: float
    lon: float


@dataclass
class AisStatic:
    t: int
    mmsi: int
    imo: int | None
    name: str
    draught: float | None


def read_nmea(path: Path) -> tuple[list[AisPosition], list[AisStatic]]:
    """Decode the emitted log; a multi-part message's parts are consecutive lines."""
    positions: list[AisPosition] = []
    statics: list[AisStatic] = []
    pending: list[str] = []
    for line in path.read_text(encoding="ascii").splitlines():
        if not line.strip():
            continue
        tag, sentence = line[1:].split("\\", 1)
        t = int(tag.split("*")[0].split(":", 1)[1])
        fields = sentence.split(",")
        pending.append(sentence)
        if int(fields[2]) < int(fields[1]):
            continue
        msg = ais_decode(*pending).asdict()
        pending = []
        if msg["msg_type"] in (1, 2, 3):
            positions.append(AisPosition(t, int(msg["mmsi"]), float(msg["lat"]), float(msg["lon"])))
        elif msg["msg_type"] == 5:
            imo = str(msg["imo"]) if msg["imo"] else ""
            statics.append(AisStatic(t, int(msg["mmsi"]), int(imo) if imo_valid(imo) else None,
                                     str(msg["shipname"]).rstrip("@ ").upper(),
                                     float(msg["draught"]) if msg["draught"] else None))
    return positions, statics


# ----------------------------------------------------------------------------- rules


@dataclass
class Sighting:
    sid: str  # evidence id as the pipeline writes it, which also breaks ties in time order
    kind: str  # imagery | ais
    t: int
    lat: float
    lon: float
    imo: int | None
    resolved_by: str | None
    state: str | None = None
    load_fraction: float | None = None
    mmsi: int | None = None
    port: str | None = None


@dataclass
class Call:
    port: str
    role: str
    sightings: list[Sighting]

    @property
    def arrival(self) -> int:
        return self.sightings[0].t

    @property
    def departure(self) -> int:
        return self.sightings[-1].t


@dataclass
class LoadEvent:
    imo: int
    last_empty: Sighting
    first_laden: Sighting
    call: Call | None
    attribution: str  # attributed | unattributed | duplicate_in_call


def whole_barrels(bbl: float) -> int:
    """Barrels as published: a whole number, half a barrel rounded away from zero as DuckDB's round() does
    (Python's round() would go to the even neighbour)."""
    return int(Decimal(bbl).quantize(Decimal(1), rounding=ROUND_HALF_UP))  # the float's exact value, half away


@dataclass
class Voyage:
    imo: int
    load: LoadEvent
    load_call: Call
    destination: Call | None
    status: str
    first_empty_after: Sighting | None
    fraction_evidence: list[Sighting]
    load_fraction: float
    capacity_bbl: float
    flag: str | None
    sanctioned: bool

    @property
    def volume_bbl(self) -> int:
        return whole_barrels(self.capacity_bbl * self.load_fraction)

    @property
    def counts_toward_cap(self) -> bool:
        return self.status == "confirmed" or (self.status == "unconfirmed" and (self.flag == "KP" or self.sanctioned))


class Identity:
    """DOMAIN identity: a valid IMO, else the MMSI, else the normalised name, each only when one hull matches.

    MMSI links come from every registry row (a reflagged hull's earlier row still
    says which hull used that MMSI), the lists and AIS type 5; names from every
    registry row and former name, the lists' names and aliases, and AIS type 5.
    """

    def __init__(self, registry: dict[int, list[RegistryRow]], statics: list[AisStatic], lists: SanctionsExcerpt):
        self.by_mmsi: dict[int, set[int]] = {}
        self.by_name: dict[str, set[int]] = {}

        def link_mmsi(mmsi: int | None, imo: int) -> None:
            if mmsi is not None:
                self.by_mmsi.setdefault(mmsi, set()).add(imo)

        def link_name(name: str, imo: int) -> None:
            if name_key(name):
                self.by_name.setdefault(name_key(name), set()).add(imo)

        for imo, rows in registry.items():
            for row in rows:
                link_mmsi(row.mmsi, imo)
                for name in [row.name, *row.former_names]:
                    link_name(name, imo)
        for imo, names in lists.names.items():
            for name in names:
                link_name(name, imo)
        for imo, mmsis in lists.mmsis.items():
            for mmsi in mmsis:
                link_mmsi(mmsi, imo)
        for s in statics:
            if s.imo is not None:
                link_mmsi(s.mmsi, s.imo)
                link_name(s.name, s.imo)

    def resolve(self, imo: str, mmsi: str, name: str) -> tuple[int | None, str | None]:
        if imo and imo_valid(imo):
            return int(imo), "imo"
        if mmsi and len(self.by_mmsi.get(int(mmsi), ())) == 1:
            return next(iter(self.by_mmsi[int(mmsi)])), "mmsi"
        hits = self.by_name.get(name_key(name), set())
        if len(hits) == 1:
            return next(iter(hits)), "name"
        return None, None


def imagery_state(laden_state: str, fraction: float | None) -> str | None:
    if laden_state == "partial":
        return "laden" if fraction is not None and fraction >= PARTIAL_LADEN_FRACTION else "empty"
    return laden_state if laden_state in ("empty", "laden") else None


def port_calls(sightings: list[Sighting], ports: dict[str, Port]) -> list[Call]:
    """Consecutive sightings at one port, none elsewhere in between, no gap over 5 days."""
    calls: list[Call] = []
    prev: Sighting | None = None
    for s in sightings:
        if s.port is not None:
            if prev is not None and prev.port == s.port and s.t - prev.t <= CALL_GAP_S:
                calls[-1].sightings.append(s)
            else:
                calls.append(Call(s.port, ports[s.port].role, [s]))
        prev = s
    return calls


def load_events(sightings: list[Sighting], calls: list[Call]) -> list[LoadEvent]:
    """Each empty->laden step of the stateful sightings; its terminal call contains or lies
    between the two. DOMAIN does not say which call when several qualify (a gap over 5
    days splits a stay in two): the latest, where the vessel was last seen before laden."""
    stateful = [s for s in sightings if s.state]
    events: list[LoadEvent] = []
    for a, b in pairwise(stateful):
        if not (a.state == "empty" and b.state == "laden"):
            continue
        candidates = [c for c in calls if c.role == "load_terminal" and c.arrival <= b.t and c.departure >= a.t]
        call = max(candidates, key=lambda c: c.departure) if candidates else None
        events.append(LoadEvent(b.imo, a, b, call, "attributed" if call else "unattributed"))
    seen: set[int] = set()
    for e in sorted(events, key=lambda e: e.first_laden.t):
        if e.call is not None:
            if id(e.call) in seen:
                e.attribution = "duplicate_in_call"
            seen.add(id(e.call))
    return events


def fraction_window_end(load_call: Call, destination: Call | None, first_empty_after: Sighting | None,
                        calls: list[Call]) -> float:
    """Where the laden readings of a voyage stop: the destination's departure, else the first
    empty sighting after the load. DOMAIN is silent when there is neither; an analyst would
    not let a voyage borrow the next load's readings, so the window then closes at the
    vessel's next load-terminal call."""
    if destination is not None:
        return destination.departure
    if first_empty_after is not None:
        return first_empty_after.t
    later = [c.arrival for c in calls if c.role == "load_terminal" and c.arrival > load_call.departure]
    return min(later) if later else float("inf")


@dataclass
class Reference:
    """Everything the rules derive from one scenario's files."""

    sightings: dict[int, list[Sighting]]
    calls: dict[int, list[Call]]
    events: dict[int, list[LoadEvent]]
    voyages: list[Voyage]
    usable: dict[str, int]
    resolved: dict[str, int]
    registry: dict[int, list[RegistryRow]]


def flag_on(rows: list[RegistryRow], t: int) -> str | None:
    """The registry row in force at t: the latest updated at or before t; before the
    first row, the first row (the registry says nothing earlier)."""
    dated = [r.updated_at if r.updated_at is not None else -(2**62) for r in rows]
    i = bisect_right(dated, t) - 1
    return rows[max(i, 0)].flag


def derive(registry_csv: Path, imagery_csv: Path, nmea: Path, ports: dict[str, Port], lists: SanctionsExcerpt,
           imagery_source: str = "imagery", ais_source: str = "ais",
           not_observations: set[str] = frozenset()) -> Reference:
    """Apply the rules to one scenario's files. ``not_observations``: analysts' sighting ids of
    rows that only repeat another row's image; they count as usable rows (the pipeline
    cannot know better from one row) but not as a second observation of the ship."""
    countries = load_country_codes()
    registry = read_registry(registry_csv, countries)
    positions, statics = read_nmea(nmea)
    ident = Identity(registry, statics, lists)
    usable = {"imagery": 0, "ais": 0}
    resolved = {"imagery": 0, "ais": 0}
    by_imo: dict[int, list[Sighting]] = {}

    with imagery_csv.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            usable["imagery"] += 1
            imo, how = ident.resolve(row["imo"].strip(), row["mmsi"].strip(), row["vessel_name"])
            if imo is None:
                continue
            resolved["imagery"] += 1
            if row["sighting_id"] in not_observations:
                continue
            fraction = float(row["load_fraction"]) if row["load_fraction"].strip() else None
            s = Sighting(f"{imagery_source}:{row['sighting_id']}", "imagery", parse_time(row["observed_at"]),
                         float(row["latitude"]), float(row["longitude"]), imo, how,
                         imagery_state(row["laden_state"].strip().lower(), fraction), fraction)
            by_imo.setdefault(imo, []).append(s)

    latest = {imo: rows[-1] for imo, rows in registry.items()}
    draughts: dict[int, tuple[list[int], list[float]]] = {}
    for st in sorted(statics, key=lambda s: s.t):
        if st.draught is not None:
            times, values = draughts.setdefault(st.mmsi, ([], []))
            times.append(st.t)
            values.append(st.draught)
    for p in positions:
        usable["ais"] += 1
        imo, how = ident.resolve("", str(p.mmsi), "")
        if imo is None:
            continue
        resolved["ais"] += 1
        state = None
        times, values = draughts.get(p.mmsi, ([], []))
        i = bisect_right(times, p.t) - 1
        summer = latest[imo].summer_draught if imo in latest else None
        if i >= 0 and times[i] >= p.t - DRAUGHT_MAX_AGE_S and summer:
            ratio = values[i] / summer
            state = "laden" if ratio >= LADEN_RATIO else ("empty" if ratio <= EMPTY_RATIO else None)
        stamp = datetime.fromtimestamp(p.t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        by_imo.setdefault(imo, []).append(
            Sighting(f"{ais_source}:{p.mmsi:09d}@{stamp}", "ais", p.t, p.lat, p.lon, imo, how, state, None, p.mmsi))

    calls_by: dict[int, list[Call]] = {}
    events_by: dict[int, list[LoadEvent]] = {}
    voyages: list[Voyage] = []
    for imo, ss in by_imo.items():
        ss.sort(key=lambda s: (s.t, s.sid))
        for s in ss:
            s.port = port_at(ports, s.lat, s.lon)
        calls = port_calls(ss, ports)
        events = load_events(ss, calls)
        calls_by[imo], events_by[imo] = calls, events
        reg = latest.get(imo)
        if reg is None or (reg.cargo_m3 is None and reg.dwt is None):
            raise ValueError(f"IMO {imo}: the generator gives every hull a registry capacity")
        capacity = reg.cargo_m3 * BBL_PER_M3 if reg.cargo_m3 else reg.dwt * CARGO_SHARE_OF_DWT * BBL_PER_TONNE_DIESEL
        for e in events:
            if e.attribution != "attributed":
                continue
            load_call = e.call
            first_empty = next((s for s in ss if s.state == "empty" and s.t > e.first_laden.t), None)
            destination = next((c for c in calls if c.arrival > load_call.departure and c.role != "load_terminal"
                                and (first_empty is None or c.arrival <= first_empty.t)), None)
            status = "unconfirmed" if destination is None else (
                "confirmed" if destination.role == "discharge_port" else "other")
            end = fraction_window_end(load_call, destination, first_empty, calls)
            evidence = [s for s in ss if s.state == "laden" and s.load_fraction is not None
                        and load_call.arrival <= s.t <= end]
            fraction = statistics.median(s.load_fraction for s in evidence) if evidence else DEFAULT_LOAD_FRACTION
            voyages.append(Voyage(imo, e, load_call, destination, status, first_empty, evidence, fraction, capacity,
                                  flag_on(registry[imo], load_call.departure), imo in lists.vessel_imos))
    voyages.sort(key=lambda v: (v.load_call.departure, v.imo))
    return Reference(by_imo, calls_by, events_by, voyages, usable, resolved, registry)


def breach_dates(voyages: list[tuple[int, float]]) -> dict[int, date | None]:
    """(load departure, volume) of counted voyages -> the first date each year's cumulative volume exceeds the cap."""
    by_day: dict[date, float] = {}
    for t, volume in voyages:
        d = utc_date(t)
        by_day[d] = by_day.get(d, 0.0) + volume
    out: dict[int, date | None] = {}
    totals: dict[int, float] = {}
    for d in sorted(by_day):
        totals[d.year] = totals.get(d.year, 0.0) + by_day[d]
        out.setdefault(d.year, None)
        if out[d.year] is None and totals[d.year] > CAP_BBL:
            out[d.year] = d
    return out
