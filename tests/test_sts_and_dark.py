"""Ship-to-ship transfers and AIS dark periods near the DPRK, on small hand-made cases through the real pipeline."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from pyais.encode import encode_dict

from tankerwatch.gates import validate_table
from tankerwatch.models import build_model, discover_models
from tankerwatch.settings import EXPECTATIONS_DIR
from tankerwatch.warehouse import connect, fetch_all
from tests.scenario import AT_SEA, CHONGJIN, RAJIN, VOSTOCHNY, Scenario

GIVER = "9000003"  # check digits valid, not real hulls; GIVER < RECEIVER, so the giver is an encounter's vessel a
RECEIVER = "9000015"
THIRD = "9000027"
FOURTH = "9000039"
NEW_TABLES = ("int_vessel_encounters", "sts_transfers", "ais_dark_periods")
DPRK_PORTS = {  # seeds/ports.csv, country KP
    "Rajin": (42.233333, 130.3), "Sonbong": (42.333333, 130.4), "Chongjin": (41.766667, 129.816667),
    "Kimchaek": (40.666667, 129.2), "Hungnam": (39.833333, 127.616667), "Wonsan": (39.166667, 127.45),
    "Nampo": (38.73556, 125.40889), "Songrim": (38.733333, 125.616667), "Chaho": (40.2, 128.65),
    "Haeju": (38.0, 125.7),
}


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def offset(point: tuple[float, float], north_km: float = 0.0, east_km: float = 0.0) -> tuple[float, float]:
    lat, lon = point
    return (round(lat + north_km / 111.195, 6), round(lon + east_km / (111.195 * math.cos(math.radians(lat))), 6))


def nearest_dprk_port_km(point: tuple[float, float]) -> float:
    return min(km(point, port) for port in DPRK_PORTS.values())


def assert_gates_pass(s: Scenario) -> None:
    with connect(s.root / "warehouse.duckdb") as con:
        for table in NEW_TABLES:
            result = validate_table(con, table, EXPECTATIONS_DIR / f"{table}.json")
            assert result.success, result.summary()


def ids(*names: str) -> list[str]:
    return [f"imagery:{name}" for name in names]


# --- ship-to-ship transfers -------------------------------------------------------------------

MEET = AT_SEA  # (41.5, 131.5): outside every port's radius
ELSEWHERE_G = (41.2000, 131.0000)
ELSEWHERE_R = (41.8000, 131.9000)


def sts_pair(s: Scenario) -> Scenario:
    return s.vessel(GIVER, "GIVER ONE", dwt="3000").vessel(RECEIVER, "RECEIVER TWO", dwt="2000")


def test_a_transfer_at_sea_names_the_giver_the_receiver_and_the_evidence(tmp_path):
    s = sts_pair(Scenario(tmp_path, with_sanctions=False))
    s.sighting("2024-03-08T02:00:00Z", ELSEWHERE_R, "laden", imo=RECEIVER, sighting_id="r-old-laden")  # superseded
    s.sighting("2024-03-10T02:00:00Z", ELSEWHERE_G, "laden", imo=GIVER, load_fraction="0.9", sighting_id="g-laden")
    s.sighting("2024-03-10T03:00:00Z", ELSEWHERE_R, "empty", imo=RECEIVER, sighting_id="r-empty")
    # alongside: two images 7.5 hours apart, one encounter; states unreadable while the hoses are connected
    s.sighting("2024-03-10T12:00:00Z", MEET, "unknown", imo=GIVER, sighting_id="g-meet-1")
    s.sighting("2024-03-10T12:30:00Z", offset(MEET, north_km=0.3), "unknown", imo=RECEIVER, sighting_id="r-meet-1")
    s.sighting("2024-03-10T20:00:00Z", offset(MEET, east_km=0.1), "unknown", imo=GIVER, sighting_id="g-meet-2")
    s.sighting("2024-03-10T20:00:00Z", offset(MEET, east_km=0.3), "unknown", imo=RECEIVER, sighting_id="r-meet-2")
    s.sighting("2024-03-11T06:00:00Z", ELSEWHERE_G, "empty", imo=GIVER, sighting_id="g-empty")
    s.sighting("2024-03-11T07:00:00Z", ELSEWHERE_R, "partial", imo=RECEIVER, load_fraction="0.7", sighting_id="r-laden")
    s.build()

    [encounter] = s.query("select * from int_vessel_encounters").to_dicts()
    assert (encounter["imo_a"], encounter["imo_b"]) == (GIVER, RECEIVER)
    assert encounter["encounter_id"] == f"{GIVER}-{RECEIVER}-20240310T120000"
    assert encounter["started_at"].isoformat() == "2024-03-10T12:00:00+00:00"
    assert encounter["ended_at"].isoformat() == "2024-03-10T20:00:00+00:00"
    assert encounter["matched_pairs"] == 2  # 12:00 with 12:30 and 20:00 with 20:00; the cross pairs are 7.5 h apart
    assert encounter["min_distance_km"] == pytest.approx(0.2, abs=0.01)
    assert (encounter["latitude"], encounter["longitude"]) == pytest.approx(offset(MEET, east_km=0.1))
    assert encounter["sighting_ids_a"] == ids("g-meet-1", "g-meet-2")
    assert encounter["sighting_ids_b"] == ids("r-meet-1", "r-meet-2")

    [t] = s.query("select * from sts_transfers").to_dicts()
    assert (t["giver_imo"], t["giver_name"], t["receiver_imo"], t["receiver_name"]) == (
        GIVER, "GIVER ONE", RECEIVER, "RECEIVER TWO")
    assert t["encounter_id"] == encounter["encounter_id"]
    assert (t["giver_laden_id"], t["giver_empty_id"]) == ("imagery:g-laden", "imagery:g-empty")
    assert (t["receiver_empty_id"], t["receiver_laden_id"]) == ("imagery:r-empty", "imagery:r-laden")
    assert t["giver_laden_at"].isoformat() == "2024-03-10T02:00:00+00:00"
    assert t["receiver_laden_at"].isoformat() == "2024-03-11T07:00:00+00:00"
    assert t["evidence_ids"] == ids("g-laden", "r-empty", "g-meet-1", "g-meet-2", "r-meet-1", "r-meet-2",
                                    "g-empty", "r-laden")
    # the giver's cargo: its DWT capacity x the load fraction its laden image shows
    capacity = 3000 * 0.95 * 7.46
    assert (t["capacity_bbl"], t["capacity_source"]) == (round(capacity), "dwt")  # whole barrels
    assert (t["load_fraction"], t["load_fraction_source"]) == (pytest.approx(0.9), "observed")
    assert t["volume_bbl"] == round(capacity * 0.9)
    assert t["volume_bbl_low"] == round(3000 * 0.90 * 7.46 * 0.85)
    assert t["volume_bbl_high"] == round(3000 * 0.95 * 7.46 * 0.95)
    assert_gates_pass(s)


def test_states_read_at_the_encounter_itself_and_a_receiver_with_the_lower_imo(tmp_path):
    # one image shows both alongside, giver laden; the next shows them still alongside, giver empty
    s = Scenario(tmp_path, with_sanctions=False).vessel(RECEIVER, "GIVER BY STATE").vessel(GIVER, "RECEIVER BY STATE")
    s.sighting("2024-03-10T12:00:00Z", MEET, "laden", imo=RECEIVER, sighting_id="g-1")
    s.sighting("2024-03-10T12:00:00Z", offset(MEET, north_km=0.2), "empty", imo=GIVER, sighting_id="r-1")
    s.sighting("2024-03-10T18:00:00Z", MEET, "empty", imo=RECEIVER, sighting_id="g-2")
    s.sighting("2024-03-10T18:00:00Z", offset(MEET, north_km=0.2), "laden", imo=GIVER, sighting_id="r-2")
    s.build()
    [t] = s.query("select * from sts_transfers").to_dicts()
    assert (t["giver_imo"], t["receiver_imo"]) == (RECEIVER, GIVER)
    assert (t["giver_laden_id"], t["giver_empty_id"]) == ("imagery:g-1", "imagery:g-2")
    assert (t["receiver_empty_id"], t["receiver_laden_id"]) == ("imagery:r-1", "imagery:r-2")
    assert (t["load_fraction"], t["load_fraction_source"]) == (pytest.approx(0.9), "default")
    assert t["evidence_ids"] == ids("g-1", "r-1", "r-2", "g-2")  # before, a's and b's sightings, after; no repeats
    assert_gates_pass(s)


def test_two_vessels_passing_at_sea_without_a_state_change_meet_but_transfer_nothing(tmp_path):
    s = sts_pair(Scenario(tmp_path, with_sanctions=False))
    for day, sid in ((9, "before"), (13, "after")):
        s.sighting(f"2024-03-{day:02d}T12:00:00Z", ELSEWHERE_G, "laden", imo=GIVER, sighting_id=f"g-{sid}")
        s.sighting(f"2024-03-{day:02d}T12:00:00Z", ELSEWHERE_R, "empty", imo=RECEIVER, sighting_id=f"r-{sid}")
    # they pass twice, two days apart: two encounters, not one
    for day in (10, 12):
        s.sighting(f"2024-03-{day:02d}T12:00:00Z", MEET, "laden", imo=GIVER, sighting_id=f"g-pass-{day}")
        s.sighting(f"2024-03-{day:02d}T13:00:00Z", offset(MEET, north_km=0.8), "empty", imo=RECEIVER,
                   sighting_id=f"r-pass-{day}")
    s.build()
    encounters = s.query("select encounter_id, matched_pairs from int_vessel_encounters order by started_at").rows()
    assert encounters == [(f"{GIVER}-{RECEIVER}-20240310T120000", 1), (f"{GIVER}-{RECEIVER}-20240312T120000", 1)]
    assert s.query("select * from sts_transfers").is_empty()
    assert_gates_pass(s)


def test_state_evidence_older_than_three_days_makes_no_transfer(tmp_path):
    s = sts_pair(Scenario(tmp_path, with_sanctions=False))
    s.sighting("2024-03-06T11:00:00Z", ELSEWHERE_G, "laden", imo=GIVER)  # 3 days and 1 hour before
    s.sighting("2024-03-09T06:00:00Z", ELSEWHERE_R, "empty", imo=RECEIVER)
    s.sighting("2024-03-09T12:00:00Z", MEET, "unknown", imo=GIVER)
    s.sighting("2024-03-09T12:00:00Z", offset(MEET, east_km=0.5), "unknown", imo=RECEIVER)
    s.sighting("2024-03-10T12:00:00Z", ELSEWHERE_G, "empty", imo=GIVER)
    s.sighting("2024-03-10T12:00:00Z", ELSEWHERE_R, "laden", imo=RECEIVER)
    s.build()
    assert s.query("select count(*) as n from int_vessel_encounters")["n"][0] == 1
    assert s.query("select * from sts_transfers").is_empty()


def test_a_pair_together_in_port_is_not_an_encounter_at_sea(tmp_path):
    s = sts_pair(Scenario(tmp_path, with_sanctions=False))
    s.sighting("2024-03-10T02:00:00Z", VOSTOCHNY, "laden", imo=GIVER)
    s.sighting("2024-03-10T02:00:00Z", offset(VOSTOCHNY, north_km=0.3), "empty", imo=RECEIVER)
    s.sighting("2024-03-10T12:00:00Z", VOSTOCHNY, "empty", imo=GIVER)
    s.sighting("2024-03-10T12:00:00Z", offset(VOSTOCHNY, north_km=0.3), "laden", imo=RECEIVER)
    s.build()
    assert set(s.query("select port_id from int_sightings where reject_reason is null")["port_id"]) == {"vostochny"}
    assert s.query("select * from int_vessel_encounters").is_empty()
    assert s.query("select * from sts_transfers").is_empty()


def test_two_ships_five_km_apart_do_not_meet(tmp_path):
    s = sts_pair(Scenario(tmp_path, with_sanctions=False))
    s.sighting("2024-03-10T02:00:00Z", MEET, "laden", imo=GIVER)
    s.sighting("2024-03-10T02:00:00Z", offset(MEET, east_km=5.0), "empty", imo=RECEIVER)
    s.sighting("2024-03-10T12:00:00Z", MEET, "empty", imo=GIVER)
    s.sighting("2024-03-10T12:00:00Z", offset(MEET, east_km=5.0), "laden", imo=RECEIVER)
    s.build()
    assert s.query("select * from int_vessel_encounters").is_empty()
    assert s.query("select * from sts_transfers").is_empty()


def test_a_meeting_across_a_time_bin_and_grid_cell_boundary_is_found(tmp_path):
    # 05:50 and 06:10 fall in neighbouring 6-hour bins; 41.5 N and 131.5 E are 0.1-degree cell edges
    s = sts_pair(Scenario(tmp_path, with_sanctions=False))
    s.sighting("2024-03-10T05:50:00Z", (41.4995, 131.4995), "unknown", imo=GIVER)
    s.sighting("2024-03-10T06:10:00Z", (41.5010, 131.5010), "unknown", imo=RECEIVER)
    s.sighting("2024-03-10T05:50:00Z", (41.4995, 131.4995), "unknown", imo=THIRD)
    s.sighting("2024-03-10T12:20:00Z", (41.4995, 131.4995), "unknown", imo=FOURTH)  # 6.5 h after THIRD
    s.vessel(THIRD, "THIRD").vessel(FOURTH, "FOURTH")
    s.build()
    pairs = s.query("select imo_a, imo_b from int_vessel_encounters order by imo_a, imo_b").rows()
    assert pairs == [(GIVER, RECEIVER), (GIVER, THIRD), (RECEIVER, THIRD)]


def _brute_force_pairs(rows):
    """Every pair of different vessels' sightings within 1 km and 6 hours, the slow obvious way."""
    pairs = set()
    for a, b in itertools.combinations(rows, 2):
        if a[1] == b[1] or abs((a[2] - b[2]).total_seconds()) > 6 * 3600:
            continue
        if km((a[3], a[4]), (b[3], b[4])) <= 1.0:
            first, second = (a, b) if a[1] < b[1] else (b, a)
            pairs.add((first[0], second[0]))
    return pairs


def test_the_bucketed_self_join_finds_exactly_the_pairs_a_full_comparison_finds(tmp_path):
    """Random sightings crowded around cell and bin edges (and the 180th meridian), against a brute force."""
    rng = random.Random(11)
    start = datetime(2024, 3, 10, tzinfo=UTC)
    centres = [(41.5, 131.5), (0.0, 179.999), (-0.0005, -179.9995), (70.05, -10.0)]
    rows = []
    for n in range(1500):
        lat, lon = rng.choice(centres)
        lat += rng.uniform(-0.02, 0.02)
        lon = (lon + rng.uniform(-0.03, 0.03) + 180) % 360 - 180
        at = start + timedelta(hours=rng.choice([0, 6, 12]), minutes=rng.uniform(-400, 400))
        rows.append((f"s{n}", f"{9000000 + rng.randrange(12)}", at, round(lat, 6), round(lon, 6)))
    with connect(tmp_path / "w.duckdb") as con:
        con.execute(
            "create table int_sightings (sighting_id varchar, evidence_kind varchar, imo varchar, "
            "observed_at timestamptz, latitude double, longitude double, port_id varchar, reject_reason varchar, "
            "state varchar, load_fraction double, previous_state_id varchar, previous_state_at timestamptz, "
            "previous_state varchar, previous_state_load_fraction double, next_state_id varchar, "
            "next_state_at timestamptz, next_state varchar, previous_ais_at timestamptz)"
        )
        con.executemany(
            "insert into int_sightings (sighting_id, evidence_kind, imo, observed_at, latitude, longitude) "
            "values (?, 'imagery', ?, ?, ?, ?)",
            rows,
        )
        build_model(con, discover_models()["int_vessel_encounters"])
        got = fetch_all(con, "select sighting_ids_a, sighting_ids_b, matched_pairs, imo_a, imo_b from int_vessel_encounters")
        [(candidates,)] = fetch_all(con, "select count(*) from int_sightings")
    expected = _brute_force_pairs(rows)
    assert candidates == 1500 and len(expected) > 1000  # crowded enough to mean something
    assert sum(r[2] for r in got) == len(expected)
    assert {sid for r in got for sid in r[0]} == {a for a, _ in expected}
    assert {sid for r in got for sid in r[1]} == {b for _, b in expected}
    assert all(a < b for *_, a, b in got)


# --- AIS dark periods ---------------------------------------------------------------------------

T0 = datetime(2024, 3, 10, tzinfo=UTC)


def xor_hex(text: str) -> str:
    value = 0
    for ch in text:
        value ^= ord(ch)
    return f"{value:02X}"


class AisLog:
    """An NMEA file with a `\\c:<unix seconds>*CS\\` tag block before every sentence."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._seq = itertools.count()

    def _tagged(self, at: datetime, sentences: list[str]) -> None:
        fields = f"c:{int(at.timestamp())}"
        self.lines += [f"\\{fields}*{xor_hex(fields)}\\{sentence}" for sentence in sentences]

    def position(self, mmsi: int, at: datetime, where: tuple[float, float]) -> AisLog:
        data = {"msg_type": 1, "mmsi": mmsi, "status": 0, "speed": 10.5, "lat": where[0], "lon": where[1],
                "course": 90.0, "heading": 90}
        self._tagged(at, encode_dict(data, talker_id="AI", sentence_type="VDM"))
        return self

    def static(self, mmsi: int, at: datetime, imo: str, name: str, draught_m: float) -> AisLog:
        data = {"msg_type": 5, "mmsi": mmsi, "imo": int(imo), "shipname": name, "callsign": "HMTT", "ship_type": 80,
                "draught": draught_m, "destination": "NAMPO"}
        self._tagged(at, encode_dict(data, talker_id="AI", sentence_type="VDM", seq_id=next(self._seq) % 10))
        return self

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def ais_id(mmsi: int, at: datetime) -> str:
    return f"ais:{mmsi}@{at:%Y-%m-%dT%H:%M:%SZ}"


LADEN_DRAUGHT, EMPTY_DRAUGHT = 5.4, 3.0  # of a 6.0 m summer draught: 0.9 (laden) and 0.5 (empty)
OFF_CHONGJIN = offset(CHONGJIN, north_km=-35.4, east_km=35.4)  # 50 km south-east, at sea
APPROACH = offset(CHONGJIN, north_km=-85.0, east_km=120.0)  # far enough out that only the reappearance is near
OPEN_SEA = (38.5, 134.5)  # Sea of Japan, hundreds of km from any DPRK port
OFF_RAJIN = offset(RAJIN, north_km=-40.0, east_km=40.0)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_ais_dark_periods_near_dprk_ports(tmp_path):
    assert km(OFF_CHONGJIN, CHONGJIN) == pytest.approx(50, abs=0.5)
    assert nearest_dprk_port_km(APPROACH) > 100 and nearest_dprk_port_km(OPEN_SEA) > 500
    delivers, open_sea, short_gap, leaves_rajin = 445000001, 445000002, 445000003, 445000004
    log = AisLog()
    # a 20-hour gap that ends 50 km off Chongjin, laden before and empty after; imagery saw it in between
    log.static(delivers, h(-3), GIVER, "DARK DELIVERER", LADEN_DRAUGHT)
    log.position(delivers, h(-2), APPROACH).position(delivers, h(0), APPROACH)
    log.static(delivers, h(19), GIVER, "DARK DELIVERER", EMPTY_DRAUGHT)
    log.position(delivers, h(20), OFF_CHONGJIN).position(delivers, h(21), OFF_CHONGJIN)
    # the same 20-hour gap and state change in the open sea: not near the DPRK
    log.static(open_sea, h(-1), RECEIVER, "FAR AWAY", LADEN_DRAUGHT)
    log.position(open_sea, h(0), OPEN_SEA)
    log.static(open_sea, h(19), RECEIVER, "FAR AWAY", EMPTY_DRAUGHT)
    log.position(open_sea, h(20), OPEN_SEA)
    # a 6-hour gap off Chongjin: too short
    log.static(short_gap, h(-1), THIRD, "SHORT GAP", LADEN_DRAUGHT)
    log.position(short_gap, h(0), OFF_CHONGJIN)
    log.static(short_gap, h(5), THIRD, "SHORT GAP", EMPTY_DRAUGHT)
    log.position(short_gap, h(6), OFF_CHONGJIN)
    # 13 hours dark after a last position 57 km off Rajin, laden on both sides (draught reported 1 h before going dark)
    log.static(leaves_rajin, h(-1), FOURTH, "LEAVES RAJIN", LADEN_DRAUGHT)
    log.position(leaves_rajin, h(0), OFF_RAJIN).position(leaves_rajin, h(13), OPEN_SEA)

    s = Scenario(tmp_path, with_sanctions=False)
    for imo, name, mmsi in ((GIVER, "DARK DELIVERER", delivers), (RECEIVER, "FAR AWAY", open_sea),
                            (THIRD, "SHORT GAP", short_gap), (FOURTH, "LEAVES RAJIN", leaves_rajin)):
        s.vessel(imo, name, mmsi=str(mmsi), summer_draught_m="6.0")
    s.sighting(h(10).isoformat(), offset(CHONGJIN, north_km=-60, east_km=70), "unknown", imo=GIVER, sighting_id="mid-gap")
    s.sighting(h(30).isoformat(), OFF_CHONGJIN, "empty", imo=GIVER, sighting_id="after-gap")  # after: not in the gap
    s.source("ais", "ais_nmea", "ais.nmea", log.text())
    s.build()

    assert s.query("select count(*) as n from int_sightings where evidence_kind = 'ais' and reject_reason is null")["n"][0] == 10
    rows = {r["imo"]: r for r in s.query("select * from ais_dark_periods").to_dicts()}
    assert set(rows) == {GIVER, FOURTH}  # not the open sea, not the 6-hour gap

    dark = rows[GIVER]
    assert dark["dark_period_id"] == f"{GIVER}-20240310T000000"
    assert dark["vessel_name"] == "DARK DELIVERER"
    assert (dark["went_dark_at"], dark["reappeared_at"], dark["hours"]) == (h(0), h(20), pytest.approx(20.0))
    assert (dark["last_latitude"], dark["last_longitude"]) == pytest.approx(APPROACH, abs=1e-4)
    assert (dark["first_latitude"], dark["first_longitude"]) == pytest.approx(OFF_CHONGJIN, abs=1e-4)
    assert (dark["nearest_dprk_port"], dark["nearest_dprk_port_end"]) == ("Chongjin", "first_position")
    assert dark["nearest_dprk_port_km"] == pytest.approx(50, abs=0.5)
    assert (dark["state_before"], dark["state_after"], dark["state_changed"]) == ("laden", "empty", True)
    assert (dark["last_position_id"], dark["first_position_id"]) == (ais_id(delivers, h(0)), ais_id(delivers, h(20)))
    assert dark["seen_by_imagery"] is True and dark["imagery_ids"] == ["imagery:mid-gap"]
    assert dark["evidence_ids"] == [ais_id(delivers, h(0)), ais_id(delivers, h(20)), "imagery:mid-gap"]

    rajin = rows[FOURTH]
    assert (rajin["hours"], rajin["nearest_dprk_port"], rajin["nearest_dprk_port_end"]) == (
        pytest.approx(13.0), "Rajin", "last_position")
    assert rajin["nearest_dprk_port_km"] == pytest.approx(km(OFF_RAJIN, RAJIN), abs=0.5)
    assert (rajin["state_before"], rajin["state_after"], rajin["state_changed"]) == ("laden", "laden", False)
    assert rajin["seen_by_imagery"] is False and rajin["imagery_ids"] == []
    assert rajin["evidence_ids"] == [ais_id(leaves_rajin, h(0)), ais_id(leaves_rajin, h(13))]
    assert_gates_pass(s)


def one_ais_vessel(tmp_path, mmsi: int, name: str, log: AisLog) -> Scenario:
    """GIVER, linked to `mmsi`, with `log` as its only feed; built, its gates passed."""
    s = Scenario(tmp_path, with_sanctions=False)
    s.vessel(GIVER, name, mmsi=str(mmsi), summer_draught_m="6.0")
    s.source("ais", "ais_nmea", "ais.nmea", log.text())
    s.build()
    assert_gates_pass(s)
    return s


def test_a_second_ais_position_in_the_same_second_is_a_reject_and_the_first_by_position_stays(tmp_path):
    mmsi = 445000009
    twin = offset(OPEN_SEA, north_km=2.0)  # one second, two places: a second receiver's garbled copy, or a spoof
    log = AisLog()
    log.static(mmsi, h(-1), GIVER, "TWIN FIX", LADEN_DRAUGHT)
    log.position(mmsi, h(0), twin).position(mmsi, h(0), OPEN_SEA)
    log.position(mmsi, h(1), OPEN_SEA).position(mmsi, h(1), OPEN_SEA)  # an exact repeat
    log.position(mmsi, h(2), OPEN_SEA)
    s = one_ais_vessel(tmp_path, mmsi, "TWIN FIX", log)

    rows = s.query(
        "select sighting_id, latitude, reject_reason from int_sightings where evidence_kind = 'ais' "
        "order by observed_at, reject_reason nulls first"
    ).to_dicts()
    kept = [r for r in rows if r["reject_reason"] is None]
    assert [r["sighting_id"] for r in kept] == [ais_id(mmsi, h(0)), ais_id(mmsi, h(1)), ais_id(mmsi, h(2))]
    assert kept[0]["latitude"] == pytest.approx(OPEN_SEA[0], abs=1e-4)  # the lower latitude is first by position
    rejected = {r["sighting_id"]: r["reject_reason"] for r in rows if r["reject_reason"] is not None}
    assert rejected[ais_id(mmsi, h(1))] == f"repeat of AIS position {ais_id(mmsi, h(1))} (same feed, MMSI, time and position)"
    assert rejected[ais_id(mmsi, h(0))].startswith(f"another AIS position of {ais_id(mmsi, h(0))} in the same second, at 38.51")
    assert "the first by position is kept" in rejected[ais_id(mmsi, h(0))]
    published_rejects = s.query("select record_id, reason from rejects where stage = 'sequence'").to_dicts()
    assert {r["record_id"]: r["reason"] for r in published_rejects} == rejected
    # each reject names the message it came from, so the snapshot's records add up: the twin's
    # line at h0, and the later of the two identical lines at h1
    messages = s.query(
        "select source_row, received_at, latitude from stg_ais_positions order by source_row"
    ).rows()
    twin_line = next(row for row, at, lat in messages if at == h(0) and lat == pytest.approx(twin[0], abs=1e-4))
    repeat_line = max(row for row, at, _ in messages if at == h(1))
    named = s.query(
        "select record_id, source_row from rejects where stage = 'sequence' and snapshot_id is not null order by source_row"
    ).rows()
    assert named == sorted([(ais_id(mmsi, h(0)), twin_line), (ais_id(mmsi, h(1)), repeat_line)], key=lambda r: r[1])


def test_two_feeds_hearing_one_second_are_two_sightings_and_a_twin_of_one_is_still_its_reject(tmp_path):
    # sightings at one time are ordered by a hash of what names them, not by id: the twin of
    # one feed's position must still meet its original, whichever feed's position sorts first
    mmsi = 445000014
    twin = offset(OPEN_SEA, north_km=2.0)
    own, relay = AisLog(), AisLog()
    own.static(mmsi, h(-1), GIVER, "TWO EARS", LADEN_DRAUGHT)
    for second in range(5):
        at = h(0) + timedelta(seconds=second)
        own.position(mmsi, at, twin).position(mmsi, at, OPEN_SEA)
        relay.position(mmsi, at, offset(OPEN_SEA, north_km=1.0))
    own.position(mmsi, h(1), OPEN_SEA)
    s = Scenario(tmp_path, with_sanctions=False)
    s.vessel(GIVER, "TWO EARS", mmsi=str(mmsi), summer_draught_m="6.0")
    s.source("ais", "ais_nmea", "ais.nmea", own.text())
    s.source("relay", "ais_nmea", "relay.nmea", relay.text())
    s.build()
    assert_gates_pass(s)

    rejects = s.query(
        "select sighting_id, latitude from int_sightings where reject_reason is not null order by sighting_id"
    ).rows()
    seconds = [h(0) + timedelta(seconds=second) for second in range(5)]
    assert [r[0] for r in rejects] == [ais_id(mmsi, at) for at in seconds]
    assert all(r[1] == pytest.approx(twin[0], abs=1e-4) for r in rejects)
    # each feed's position of each second is a sighting of its own: 5 + 5 + the last, beside 5 rejects
    [(sightings,)] = s.query("select sightings from vessels where imo = ?", [GIVER]).rows()
    assert sightings == 11
    relay_ids = s.query("select sighting_id from int_sightings where source_name = 'relay' order by 1").rows()
    assert relay_ids and all(r[0].startswith(f"relay:{mmsi}@") for r in relay_ids)


def test_a_port_call_counts_its_sightings_and_not_its_reject_rows(tmp_path):
    mmsi = 445000010
    log = AisLog()
    log.static(mmsi, h(-1), GIVER, "AT BERTH", LADEN_DRAUGHT)
    log.position(mmsi, h(0), VOSTOCHNY)
    log.position(mmsi, h(1), VOSTOCHNY).position(mmsi, h(1), VOSTOCHNY)  # an exact repeat
    log.position(mmsi, h(2), offset(VOSTOCHNY, north_km=0.5)).position(mmsi, h(2), VOSTOCHNY)  # one second, two places
    log.position(mmsi, h(3), VOSTOCHNY)
    log.position(mmsi, h(4), AT_SEA)
    s = one_ais_vessel(tmp_path, mmsi, "AT BERTH", log)

    assert s.query("select count(*) as n from int_sightings where reject_reason is not null").item() == 2
    [call] = s.query("select port_id, arrival_at, departure_at, sightings, evidence_ids from port_calls").to_dicts()
    assert call["port_id"] == "vostochny"
    assert (call["arrival_at"], call["departure_at"]) == (h(0), h(3))
    assert call["sightings"] == 4  # h0, h1, h2, h3: the repeat and the second position of h2 are rejects
    assert call["evidence_ids"] == [ais_id(mmsi, h(0)), ais_id(mmsi, h(3))]


def test_a_second_position_at_another_port_makes_no_port_call(tmp_path):
    mmsi = 445000011
    nakhodka = (42.8000, 132.8833)  # north of Vostochny: the second position of the second, so the reject
    log = AisLog()
    log.static(mmsi, h(-1), GIVER, "TWIN PORT", LADEN_DRAUGHT)
    for hour in (0, 1, 2, 3):
        log.position(mmsi, h(hour), VOSTOCHNY)
    log.position(mmsi, h(2), nakhodka)
    log.position(mmsi, h(4), AT_SEA)
    s = one_ais_vessel(tmp_path, mmsi, "TWIN PORT", log)

    [(port_id, reason)] = s.query("select port_id, reject_reason from int_sightings where reject_reason is not null").rows()
    assert port_id == "nakhodka" and reason.startswith("another AIS position of")
    # one call: the twin neither ends the stay before it nor starts another after it
    calls = s.query("select port_id, arrival_at, departure_at, sightings, evidence_ids from port_calls").rows()
    assert calls == [("vostochny", h(0), h(3), 4, [ais_id(mmsi, h(0)), ais_id(mmsi, h(3))])]


def test_two_further_positions_of_one_second_at_sea_do_not_split_a_call(tmp_path):
    mmsi = 445000012
    log = AisLog()
    log.static(mmsi, h(-1), GIVER, "TWO TWINS", LADEN_DRAUGHT)
    log.position(mmsi, h(0), VOSTOCHNY).position(mmsi, h(1), VOSTOCHNY)
    # two garbled copies of the h1 position out at sea, east of it: the berth is first by position
    log.position(mmsi, h(1), offset(VOSTOCHNY, east_km=20.0)).position(mmsi, h(1), offset(VOSTOCHNY, east_km=25.0))
    log.position(mmsi, h(2), VOSTOCHNY)
    log.position(mmsi, h(3), AT_SEA)
    s = one_ais_vessel(tmp_path, mmsi, "TWO TWINS", log)

    rejects = s.query("select port_id from int_sightings where reject_reason is not null").rows()
    assert rejects == [(None,), (None,)]
    calls = s.query("select port_id, arrival_at, departure_at, sightings from port_calls").rows()
    assert calls == [("vostochny", h(0), h(2), 3)]


def test_a_garbled_position_in_port_beside_one_at_sea_neither_joins_two_calls_nor_hides_an_arrival(tmp_path):
    # the same second heard at sea (kept: first by position) and in Vostochny (the reject); the vessel
    # really arrives an hour later, after a day away from its earlier call there
    mmsi = 445000013
    log = AisLog()
    log.static(mmsi, h(-1), GIVER, "BACK AGAIN", LADEN_DRAUGHT)
    log.position(mmsi, h(0), VOSTOCHNY).position(mmsi, h(1), VOSTOCHNY)
    log.position(mmsi, h(2), AT_SEA).position(mmsi, h(10), AT_SEA)
    log.position(mmsi, h(20), VOSTOCHNY).position(mmsi, h(20), AT_SEA)
    log.position(mmsi, h(21), VOSTOCHNY).position(mmsi, h(22), VOSTOCHNY)
    log.position(mmsi, h(23), AT_SEA)
    s = one_ais_vessel(tmp_path, mmsi, "BACK AGAIN", log)

    [(port_id, latitude)] = s.query("select port_id, latitude from int_sightings where reject_reason is not null").rows()
    assert port_id == "vostochny" and latitude == pytest.approx(VOSTOCHNY[0], abs=1e-4)
    calls = s.query("select port_id, arrival_at, departure_at, sightings from port_calls order by arrival_at").rows()
    assert calls == [("vostochny", h(0), h(1), 2), ("vostochny", h(21), h(22), 2)]
