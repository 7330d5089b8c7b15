"""DOMAIN §3 "Plausible values" in every kind and every time field: hand-made hostile rows go through the real
staging SQL (and, for NMEA tag blocks, the real parser); each must land in `rejects` with its reason and be used
nowhere downstream, while the plausible rows beside it are used."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import reduce

import polars as pl
import pytest

from bench.model_bench import load_raw
from tankerwatch.ingest import LINEAGE_COLUMNS
from tankerwatch.models import build_all
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.warehouse import connect, fetch_all
from tests.scenario import AT_SEA, Scenario

RUN_AT = "2024-07-01 00:00:00+00"
SNAPSHOT = "00000000000000aa"
NAN, INF = math.nan, math.inf


def ship_imo(six_digits: str) -> str:
    """A valid ship IMO number: six digits and their check digit."""
    check = sum(int(d) * w for d, w in zip(six_digits, range(7, 1, -1))) % 10
    return f"{six_digits}{check}"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the rule, in sql/macros.sql ---------------------------------------------------------


@pytest.fixture()
def pinned():
    with connect(":memory:") as con:
        con.execute("set variable run_at = ?::timestamptz", [RUN_AT])
        yield con


def one(con, sql: str, params: list | None = None):
    return fetch_all(con, sql, params)[0][0]


def test_time_bounds_are_1990_and_a_day_after_the_run_as_the_run_sets_it(pinned):
    problem = "select plausible_time_problem(?::timestamptz, 'observed_at')"
    assert one(pinned, problem, ["1990-01-01 00:00:00+00"]) is None
    assert one(pinned, problem, ["1989-12-31 23:59:59+00"]) == "observed_at 1989-12-31 23:59:59+00 is before 1990-01-01"
    assert one(pinned, problem, ["2024-07-02 00:00:00+00"]) is None
    assert one(pinned, problem, ["2024-07-02 00:00:01+00"]) == (
        "observed_at 2024-07-02 00:00:01+00 is more than a day after the run"
    )
    assert one(pinned, problem, [None]) is None
    # dates (list dates) follow the same rule
    assert one(pinned, "select plausible_time_problem('1989-12-31'::date, 'LISTED_ON')") == (
        "LISTED_ON 1989-12-31 is before 1990-01-01"
    )
    assert one(pinned, "select plausible_time_problem('2024-07-02'::date, 'LISTED_ON')") is None
    assert one(pinned, "select plausible_time_problem('2024-07-03'::date, 'LISTED_ON')") == (
        "LISTED_ON 2024-07-03 is more than a day after the run"
    )
    # a run that sets no time is judged by its own clock
    with connect(":memory:") as con:
        assert one(con, "select run_at() = get_current_timestamp()") is True


@pytest.mark.parametrize(
    ("text", "minutes", "plausible"),
    [
        ("2024-03-01T10:00:00Z", None, True),
        ("2024-03-01T10:00:00+14:00", 840, True),
        ("2024-03-01T10:00:00-14:00", -840, True),
        ("2024-03-01T10:00:00+0530", 330, True),
        ("2024-03-01T10:00:00+09", 540, True),
        ("2024-03-01T10:00:00+14:01", 841, False),
        ("2024-03-01T10:00:00-1430", -870, False),
        ("2024-03-01T10:00:00+99:00", 5940, False),
        ("2024-03-01T10:00:00.250+05:99", 399, False),
        ("2024-03-01", None, True),  # a date's '-01' is no offset
    ],
)
def test_utc_offsets_beyond_14_hours_are_implausible(pinned, text, minutes, plausible):
    assert one(pinned, "select utc_offset_minutes(?)", [text]) == minutes
    problem = one(pinned, "select utc_offset_problem(?, 'observed_at')", [text])
    assert problem == (None if plausible else f"observed_at has a UTC offset outside -14:00..+14:00: {text}")


def test_numbers_must_be_finite(pinned):
    rows = fetch_all(
        pinned,
        """
        select text, positive_quantity_problem(text, try_cast(text as double), 'dwt'),
            fraction_problem(text, try_cast(text as double), 'load_fraction')
        from unnest(['NaN', 'inf', '-inf', '0', '-1', '1', '0.5', 'x']) as t(text)
        """,
    )
    got = {text: (quantity, fraction) for text, quantity, fraction in rows}
    for text in ["NaN", "inf", "-inf", "0", "-1", "x"]:
        assert got[text][0] == f"dwt is not a finite positive number: {text}"
    assert got["1"][0] is None and got["0.5"][0] is None
    for text in ["NaN", "inf", "-inf", "-1", "x"]:
        assert got[text][1] == f"load_fraction is not a number in 0..1: {text}"
    assert got["0"][1] is None and got["1"][1] is None and got["0.5"][1] is None
    coordinates = fetch_all(
        pinned,
        "select coordinate_problem(lat, lon, 'position') from (values (?::double, ?::double)) as t(lat, lon)",
        [NAN, 10.0],
    )
    assert coordinates == [("position is not a finite coordinate within ±90/±180 (lat nan, lon 10.0)",)]
    assert one(pinned, "select coordinate_problem(90.0, -180.0, 'position')") is None
    assert one(pinned, "select coordinate_problem(10.0, 'inf'::double, 'position')") == (
        "position is not a finite coordinate within ±90/±180 (lat 10.0, lon inf)"
    )
    assert one(pinned, "select mmsi_problem('44500001')") == "MMSI is not 9 digits: 44500001"
    assert one(pinned, "select mmsi_problem('445000011')") is None


# --- every kind, every field, through the staging models -----------------------------------

GOOD_IMO = ship_imo("910001")
GOOD_MMSI = "445000001"


def frame(table: str, source_name: str, rows: list[dict]) -> pl.DataFrame:
    schema = {**LINEAGE_COLUMNS, **RAW_TABLE_COLUMNS[table]}
    filled = [
        {"source_name": source_name, "snapshot_id": SNAPSHOT, "source_row": number, **row}
        for number, row in enumerate(rows, start=1)
    ]
    return pl.DataFrame(
        [{column: row.get(column) for column in schema} for row in filled], schema=schema, strict=False
    )


# Each table's rows: (row values, the reject reason expected, or None for a row that must be used).
REGISTRY = [
    ({"imo": GOOD_IMO, "name": "GOOD HULL", "mmsi": GOOD_MMSI, "flag": "KP", "dwt": "3000", "summer_draught_m": "6.0",
      "updated_at": "2024-06-30T12:00:00Z"}, None),
    ({"imo": ship_imo("910002"), "name": "NAN DWT", "dwt": "NaN"}, "dwt is not a finite positive number: NaN"),
    ({"imo": ship_imo("910003"), "name": "INF DWT", "dwt": "inf"}, "dwt is not a finite positive number: inf"),
    ({"imo": ship_imo("910004"), "name": "MINUS INF DWT", "dwt": "-inf"}, "dwt is not a finite positive number: -inf"),
    ({"imo": ship_imo("910005"), "name": "ZERO DWT", "dwt": "0"}, "dwt is not a finite positive number: 0"),
    ({"imo": ship_imo("910006"), "name": "INF GT", "gross_tonnage": "Infinity"},
     "gross_tonnage is not a finite positive number: Infinity"),
    ({"imo": ship_imo("910007"), "name": "NEGATIVE CAPACITY", "cargo_capacity_m3": "-5"},
     "cargo_capacity_m3 is not a finite positive number: -5"),
    ({"imo": ship_imo("910008"), "name": "NAN DRAUGHT", "summer_draught_m": "nan"},
     "summer_draught_m is not a finite positive number: nan"),
    ({"imo": ship_imo("910009"), "name": "TEN DIGIT MMSI", "mmsi": "4450000011"}, "MMSI is not 9 digits: 4450000011"),
    ({"imo": ship_imo("910010"), "name": "OLD UPDATE", "updated_at": "1970-01-01"},
     "updated_at 1970-01-01 00:00:00+00 is before 1990-01-01"),
    ({"imo": ship_imo("910011"), "name": "FUTURE UPDATE", "updated_at": "3024-01-01T00:00:00Z"},
     "updated_at 3024-01-01 00:00:00+00 is more than a day after the run"),
    ({"imo": ship_imo("910012"), "name": "BAD OFFSET", "updated_at": "2024-01-01T00:00:00+99:00"},
     "updated_at has a UTC offset outside -14:00..+14:00: 2024-01-01T00:00:00+99:00"),
]

IMAGERY_COMMON = {"source": "Maxar", "latitude": str(AT_SEA[0]), "longitude": str(AT_SEA[1]), "imo": GOOD_IMO,
                  "laden_state": "laden", "load_fraction": "0.8"}
IMAGERY = [
    ({"sighting_id": "good", "observed_at": "2024-03-01T10:00:00+09:00"}, None),
    ({"sighting_id": "within-a-day", "observed_at": "2024-07-01T23:00:00Z"}, None),
    ({"sighting_id": "offset-99", "observed_at": "2024-03-01T10:00:00+99:00"},
     "observed_at has a UTC offset outside -14:00..+14:00: 2024-03-01T10:00:00+99:00"),
    ({"sighting_id": "year-0001", "observed_at": "0001-03-01T10:00:00Z"},
     "observed_at 0001-03-01 10:00:00+00 is before 1990-01-01"),
    ({"sighting_id": "year-3024", "observed_at": "3024-03-01T10:00:00Z"},
     "observed_at 3024-03-01 10:00:00+00 is more than a day after the run"),
    ({"sighting_id": "two-days-ahead", "observed_at": "2024-07-02T00:00:01Z"},
     "observed_at 2024-07-02 00:00:01+00 is more than a day after the run"),
    ({"sighting_id": "nan-latitude", "observed_at": "2024-03-02T10:00:00Z", "latitude": "NaN"},
     "latitude is not a number in -90..90: NaN"),
    ({"sighting_id": "inf-longitude", "observed_at": "2024-03-02T11:00:00Z", "longitude": "inf"},
     "longitude is not a number in -180..180: inf"),
    ({"sighting_id": "short-mmsi", "observed_at": "2024-03-02T12:00:00Z", "mmsi": "12345"},
     "MMSI is not 9 digits: 12345"),
    ({"sighting_id": "nan-fraction", "observed_at": "2024-03-02T13:00:00Z", "load_fraction": "NaN"},
     "load_fraction is not a number in 0..1: NaN"),
    ({"sighting_id": "fraction-above-1", "observed_at": "2024-03-02T14:00:00Z", "load_fraction": "1.5"},
     "load_fraction is not a number in 0..1: 1.5"),
]

AIS_POSITIONS = [
    ({"received_at": utc("2024-03-01T00:00:00"), "msg_type": 1, "mmsi": GOOD_MMSI, "latitude": 41.5,
      "longitude": 131.5}, None),
    # a tag block of c:0
    ({"received_at": utc("1970-01-01T00:00:00"), "msg_type": 1, "mmsi": GOOD_MMSI, "latitude": 41.5,
      "longitude": 131.5}, "AIS receiver time 1970-01-01 00:00:00+00 is before 1990-01-01"),
    # a tag block of 11 digits, c:99999999999
    ({"received_at": datetime.fromtimestamp(99999999999, UTC), "msg_type": 1, "mmsi": GOOD_MMSI,
      "latitude": 41.5, "longitude": 131.5}, "AIS receiver time 5138-11-16 09:46:39+00 is more than a day after the run"),
    ({"received_at": utc("2024-03-01T01:00:00"), "msg_type": 1, "mmsi": GOOD_MMSI, "latitude": 95.0,
      "longitude": 131.5}, "position is not a finite coordinate within ±90/±180 (lat 95.0, lon 131.5)"),
    ({"received_at": utc("2024-03-01T02:00:00"), "msg_type": 1, "mmsi": GOOD_MMSI, "latitude": NAN,
      "longitude": 131.5}, "position is not a finite coordinate within ±90/±180 (lat nan, lon 131.5)"),
    ({"received_at": utc("2024-03-01T03:00:00"), "msg_type": 1, "mmsi": "44500001", "latitude": 41.5,
      "longitude": 131.5}, "AIS message has no valid MMSI: 44500001"),
]

AIS_STATIC = [
    ({"received_at": utc("2024-03-01T00:00:00"), "msg_type": 5, "mmsi": GOOD_MMSI, "imo": GOOD_IMO,
      "ship_name": "GOOD HULL", "draught_m": 5.0}, None),
    ({"received_at": utc("1970-01-01T00:00:00"), "msg_type": 5, "mmsi": GOOD_MMSI, "imo": GOOD_IMO,
      "ship_name": "GOOD HULL", "draught_m": 5.5}, "AIS receiver time 1970-01-01 00:00:00+00 is before 1990-01-01"),
]

DMA_COMMON = {"type_of_mobile": "Class A", "mmsi": "445000002", "latitude": "41.5", "longitude": "131.5"}
DMA = [
    ({"timestamp": "01/03/2024 00:00:00", "sog": "10.5", "cog": "90.0", "draught": "5.0"}, None),
    ({"timestamp": "01/03/2024 00:01:00", "latitude": "91", "longitude": "0", "imo": GOOD_IMO}, None),
    ({"timestamp": "01/01/1970 00:00:00"}, "AIS receiver time 1970-01-01 00:00:00+00 is before 1990-01-01"),
    ({"timestamp": "01/03/3024 00:00:00"}, "AIS receiver time 3024-03-01 00:00:00+00 is more than a day after the run"),
    ({"timestamp": "01/03/2024 01:00:00", "latitude": "NaN"},
     "position is not a finite coordinate within ±90/±180 (lat nan, lon 131.5)"),
    ({"timestamp": "01/03/2024 02:00:00", "longitude": "-inf"},
     "position is not a finite coordinate within ±90/±180 (lat 41.5, lon -inf)"),
    ({"timestamp": "01/03/2024 03:00:00", "sog": "NaN"}, "SOG is not a finite number of at least 0: NaN"),
    ({"timestamp": "01/03/2024 04:00:00", "sog": "-3"}, "SOG is not a finite number of at least 0: -3"),
    ({"timestamp": "01/03/2024 05:00:00", "cog": "inf"}, "COG is not a finite number of at least 0: inf"),
    ({"timestamp": "01/03/2024 06:00:00", "draught": "NaN"}, "draught is not a finite positive number: NaN"),
    ({"timestamp": "01/03/2024 07:00:00", "draught": "-4"}, "draught is not a finite positive number: -4"),
    ({"timestamp": "01/03/2024 08:00:00", "mmsi": "4450000021"}, "AIS message has no valid MMSI: 4450000021"),
]

GFW_VESSELS = [
    ({"info_kind": "registryInfo", "gfw_vessel_id": "v-good", "ssvid": "445000003", "imo": ship_imo("920001"),
      "shipname": "GFW GOOD", "transmission_from": "2020-01-01T00:00:00Z", "transmission_to": "2024-06-01T00:00:00Z"},
     None),
    ({"info_kind": "registryInfo", "gfw_vessel_id": "v-short", "ssvid": "12345", "imo": ship_imo("920002"),
      "shipname": "GFW SHORT"}, "MMSI is not 9 digits: 12345"),
    ({"info_kind": "registryInfo", "gfw_vessel_id": "v-old", "ssvid": "445000004", "imo": ship_imo("920003"),
      "shipname": "GFW OLD", "transmission_from": "1970-01-01T00:00:00Z"},
     "transmission_from 1970-01-01 00:00:00+00 is before 1990-01-01"),
    ({"info_kind": "registryInfo", "gfw_vessel_id": "v-future", "ssvid": "445000005", "imo": ship_imo("920004"),
      "shipname": "GFW FUTURE", "transmission_to": "3024-01-01T00:00:00Z"},
     "transmission_to 3024-01-01 00:00:00+00 is more than a day after the run"),
    ({"info_kind": "registryInfo", "gfw_vessel_id": "v-offset", "ssvid": "445000006", "imo": ship_imo("920005"),
      "shipname": "GFW OFFSET", "transmission_to": "2024-01-01T00:00:00+99:00"},
     "transmission_to has a UTC offset outside -14:00..+14:00: 2024-01-01T00:00:00+99:00"),
]

VISIT_COMMON = {"ssvid": GOOD_MMSI, "latitude": 42.75, "longitude": 133.08, "confidence": "4"}
GFW_PORT_VISITS = [
    ({"event_id": "e-good", "start": "2024-03-01T00:00:00Z", "end": "2024-03-02T00:00:00Z"}, None),
    ({"event_id": "e-old", "start": "1970-01-01T00:00:00Z", "end": "2024-03-02T00:00:00Z"},
     "port visit start 1970-01-01 00:00:00+00 is before 1990-01-01"),
    ({"event_id": "e-future", "start": "2024-03-01T00:00:00Z", "end": "3024-03-02T00:00:00Z"},
     "port visit end 3024-03-02 00:00:00+00 is more than a day after the run"),
    ({"event_id": "e-offset", "start": "2024-03-01T00:00:00+99:00", "end": "2024-03-09T00:00:00Z"},
     "port visit start has a UTC offset outside -14:00..+14:00: 2024-03-01T00:00:00+99:00"),
    ({"event_id": "e-nan", "start": "2024-03-03T00:00:00Z", "end": "2024-03-04T00:00:00Z", "anchorage_lat": NAN,
      "anchorage_lon": 133.08}, "port visit position is not a finite coordinate within ±90/±180 (lat nan, lon 133.08)"),
    ({"event_id": "e-inf", "start": "2024-03-05T00:00:00Z", "end": "2024-03-06T00:00:00Z", "longitude": INF},
     "port visit position is not a finite coordinate within ±90/±180 (lat 42.75, lon inf)"),
]

UN = [
    ({"record_type": "entity", "reference_number": "KPe.901", "name": "GOOD CO", "un_list_type": "DPRK",
      "listed_on": "2018-03-30"}, None),
    ({"record_type": "entity", "reference_number": "KPe.902", "name": "OLD CO", "un_list_type": "DPRK",
      "listed_on": "1970-01-01"}, "LISTED_ON 1970-01-01 is before 1990-01-01"),
    ({"record_type": "entity", "reference_number": "KPe.903", "name": "FUTURE CO", "un_list_type": "DPRK",
      "listed_on": "3024-01-01"}, "LISTED_ON 3024-01-01 is more than a day after the run"),
]

UK_COMMON = {"name_type": "Primary Name", "regime_name": "Russia", "designation_source": "UK"}
UK = [
    ({"unique_id": "RUS9001", "name": "UK GOOD", "imo_number": ship_imo("930001"), "date_designated": "09/05/2024"},
     None),
    ({"unique_id": "RUS9002", "name": "UK OLD", "imo_number": ship_imo("930002"), "date_designated": "01/01/0001"},
     "Date Designated 0001-01-01 is before 1990-01-01"),
    ({"unique_id": "RUS9003", "name": "UK FUTURE", "imo_number": ship_imo("930003"),
      "date_designated": "01/01/3024"}, "Date Designated 3024-01-01 is more than a day after the run"),
]

OS_VESSELS = [
    ({"entity_id": "os-good", "names": ["OS GOOD"], "imo_numbers": [ship_imo("940001")], "mmsis": ["445000007"],
      "deadweight_tonnage": ["5000"]}, None),
    ({"entity_id": "os-short-mmsi", "names": ["OS SHORT"], "imo_numbers": [ship_imo("940002")], "mmsis": ["4450"]},
     "MMSI is not 9 digits: 4450"),
    ({"entity_id": "os-nan-dwt", "names": ["OS NAN"], "imo_numbers": [ship_imo("940003")],
      "deadweight_tonnage": ["NaN"]}, "deadweightTonnage is not a finite positive number: NaN"),
]

OS_SANCTIONS = [
    ({"entity_id": "sanction-good", "sanctioned_ids": ["os-good"], "authorities": ["OFAC"],
      "listing_dates": ["2022-03-01"]}, None),
    ({"entity_id": "sanction-old", "sanctioned_ids": ["os-good"], "authorities": ["EU"],
      "listing_dates": ["1900-01-01"]}, "listing date 1900-01-01 is before 1990-01-01"),
    ({"entity_id": "sanction-future", "sanctioned_ids": ["os-good"], "authorities": ["UK"], "start_dates": ["3024"]},
     "listing date 3024-12-31 is more than a day after the run"),
]

# raw table -> (source name, rows with their expected reason, values every row shares, the staging model)
KINDS = {
    "raw_registry_vessels": ("registry", REGISTRY, {}, "stg_registry_vessels"),
    "raw_imagery_sightings": ("imagery", IMAGERY, IMAGERY_COMMON, "stg_imagery_sightings"),
    "raw_ais_positions": ("ais", AIS_POSITIONS, {}, "stg_ais_positions"),
    "raw_ais_static": ("ais", AIS_STATIC, {}, "stg_ais_static"),
    "raw_ais_dma": ("dma", DMA, DMA_COMMON, "stg_ais_dma"),
    "raw_gfw_vessels": ("gfw", GFW_VESSELS, {}, "stg_gfw_vessels"),
    "raw_gfw_port_visits": ("gfw", GFW_PORT_VISITS, VISIT_COMMON, "stg_gfw_port_visits"),
    "raw_un_designations": ("un", UN, {}, "stg_un_designations"),
    "raw_uk_sanctions_ships": ("uk", UK, UK_COMMON, "stg_uk_sanctions_ships"),
    "raw_opensanctions_vessels": ("opensanctions", OS_VESSELS, {}, "stg_opensanctions_vessels"),
    "raw_opensanctions_sanctions": ("opensanctions", OS_SANCTIONS, {}, "stg_opensanctions_designations"),
}


@pytest.fixture(scope="module")
def hostile_warehouse():
    generated = {
        table: frame(table, source_name, [{**common, **row} for row, _ in rows])
        for table, (source_name, rows, common, _) in KINDS.items()
    }
    with connect(":memory:") as con:
        load_raw(con, generated)
        con.execute("set variable run_at = ?::timestamptz", [RUN_AT])
        build_all(con)
        yield con


def expected_rejects(table: str) -> dict[int, str]:
    _, rows, _, _ = KINDS[table]
    return {number: reason for number, (_, reason) in enumerate(rows, start=1) if reason is not None}


@pytest.mark.parametrize("table", list(KINDS))
def test_each_implausible_value_is_a_reject_with_its_reason(hostile_warehouse, table):
    source_name, _, _, model = KINDS[table]
    got = dict(
        fetch_all(
            hostile_warehouse,
            "select source_row, reason from rejects where stage = 'staging' and table_name = ? and source_name = ?",
            [model, source_name],
        )
    )
    assert got == expected_rejects(table)
    staged = dict(
        fetch_all(hostile_warehouse, f"select source_row, reject_reason from {model} where source_name = ?", [source_name])
    )
    assert {row: reason for row, reason in staged.items() if reason is not None} == expected_rejects(table)


def used_rows(con, sql: str, source_name: str) -> set[int]:
    return {row for (row,) in fetch_all(con, sql, [source_name])}


def test_rejected_rows_are_used_nowhere_and_plausible_rows_are(hostile_warehouse):
    con = hostile_warehouse

    def plausible(table: str) -> set[int]:
        return set(range(1, len(KINDS[table][1]) + 1)) - expected_rejects(table).keys()

    # imagery and AIS evidence: only plausible rows become sightings
    assert used_rows(
        con, "select source_row from int_sighting_identities where source_name = ? and evidence_kind = 'imagery'", "imagery"
    ) == plausible("raw_imagery_sightings")
    assert used_rows(con, "select source_row from int_ais_positions where source_name = ?", "ais") == plausible(
        "raw_ais_positions"
    )
    assert used_rows(con, "select source_row from int_ais_positions where source_name = ?", "dma") == {1}
    assert used_rows(con, "select source_row from int_ais_static_reports where source_name = ?", "ais") == {1}
    # no decades-long dark period or sighting from a broken clock
    assert fetch_all(con, "select min(observed_at)::varchar, max(observed_at)::varchar from int_sightings") == [
        ("2024-03-01 00:00:00+00", "2024-07-01 23:00:00+00")
    ]
    assert fetch_all(con, "select count(*) from int_ais_gaps where went_dark_at < '1990-01-01'") == [(0,)]
    # GFW port visits: only the plausible visit is evidence
    assert used_rows(
        con,
        "select distinct source_row from int_sighting_identities where source_name = ? and evidence_kind = 'gfw_port_visit'",
        "gfw",
    ) == {1}
    # registry: rejected hulls have no particulars
    registry_imos = {imo for (imo,) in fetch_all(con, "select imo from int_vessel_registry_history")}
    assert registry_imos == {GOOD_IMO}
    # GFW identities: the rejected records link nothing
    gfw_names = {
        name for (name,) in fetch_all(con, "select vessel_name from int_vessel_names where list_contains(origins, 'gfw')")
    }
    assert gfw_names == {"GFW GOOD"}
    # sanctions lists: only the plausibly dated designations count
    designations = dict(
        fetch_all(con, "select entry_id, listed_on::varchar from int_sanctions_designations where list_name <> 'OFAC SDN'")
    )
    assert "RUS9001" in designations and "sanction-good" in designations
    for rejected in ("RUS9002", "RUS9003", "sanction-old", "sanction-future", "KPe.902", "KPe.903"):
        assert rejected not in designations
    assert {imo for (imo,) in fetch_all(con, "select imo from int_vessels where imo like '9400%'")} == {ship_imo("940001")}


def test_a_row_dated_in_the_future_is_judged_as_of_its_run():
    """Reproducible from the run's time: the same rows, built as of a later run, are plausible."""
    rows = [{**IMAGERY_COMMON, "sighting_id": "ahead", "observed_at": "2024-07-02T00:00:01Z"}]
    generated = {
        "raw_imagery_sightings": frame("raw_imagery_sightings", "imagery", rows),
        "raw_registry_vessels": frame("raw_registry_vessels", "registry", [REGISTRY[0][0]]),
    }
    reasons = {}
    for run_at in (RUN_AT, "2024-07-01 00:00:01+00"):
        with connect(":memory:") as con:
            load_raw(con, generated)
            con.execute("set variable run_at = ?::timestamptz", [run_at])
            build_all(con)
            reasons[run_at] = fetch_all(con, "select reject_reason from stg_imagery_sightings")[0][0]
    assert reasons == {
        RUN_AT: "observed_at 2024-07-02 00:00:01+00 is more than a day after the run",
        "2024-07-01 00:00:01+00": None,
    }


# --- NMEA tag blocks, through the parser --------------------------------------------------

POSITION_SENTENCE = "!AIVDM,1,1,,A,16a?TsPP1U9JIplH=iaRrBDuP000,0*54"


def tagged(received: str) -> str:
    block = f"c:{received}"
    checksum = reduce(lambda acc, ch: acc ^ ord(ch), block, 0)
    return f"\\{block}*{checksum:02X}\\{POSITION_SENTENCE}"


def test_nmea_tag_block_times_of_c0_and_11_digits_are_rejected_not_dark_periods(tmp_path):
    s = Scenario(tmp_path)
    s.vessel(ship_imo("950001"), "TAGGED HULL", mmsi="445900014")  # the MMSI the sentence carries
    feed = "\n".join([tagged("1710488610"), tagged("0"), tagged("99999999999"), tagged("1710575010")]) + "\n"
    s.source("ais", "ais_nmea", filename="feed.nmea", content=feed)
    s.build()
    rejects = s.query(
        "select source_row, reason from rejects where table_name = 'stg_ais_positions' and source_name = 'ais' "
        "order by source_row"
    ).rows()
    assert rejects == [
        (2, "AIS receiver time 1970-01-01 00:00:00+00 is before 1990-01-01"),
        (3, "AIS receiver time 5138-11-16 09:46:39+00 is more than a day after the run"),
    ]
    used = s.query("select source_row, received_at::varchar from int_ais_positions order by source_row").rows()
    assert used == [(1, "2024-03-15 07:43:30+00"), (4, "2024-03-16 07:43:30+00")]
    gaps = s.query("select went_dark_at::varchar, reappeared_at::varchar from int_ais_gaps").rows()
    assert gaps == [("2024-03-15 07:43:30+00", "2024-03-16 07:43:30+00")]
