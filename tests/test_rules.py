"""Each rule of DOMAIN §3 on small hand-made cases, through ingest and the SQL models."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from stdnum import imo as stdnum_imo

from bench.model_bench import load_raw
from scenarios.positions import generate_fleet_registry
from tankerwatch.models import build_all
from tankerwatch.warehouse import connect, fetch_all
from tests.scenario import AT_SEA, CHONGJIN, KOZMINO, RAJIN, VLADIVOSTOK, VOSTOCHNY, Scenario

SIN_PHYONG = "8916293"  # OFAC lists this hull as CHONG RIM 2
CHON_MA_SAN = "8660313"
AN_SAN = "7303803"


def voyage_rows(s: Scenario):
    return s.query("select * from voyages order by load_departure_at").to_dicts()


def one_voyage(s: Scenario, imo: str, load_day: int, *, destination=RAJIN, fractions=(0.9,), empty_after=True):
    """Arrive empty at Vostochny, leave laden, reach ``destination`` laden, then empty there."""
    d = f"2024-03-{load_day:02d}"
    s.sighting(f"{d}T01:00:00Z", VOSTOCHNY, "empty", imo=imo, load_fraction="0.1")
    for hour, fraction in enumerate(fractions, start=10):
        s.sighting(f"{d}T{hour:02d}:00:00Z", VOSTOCHNY, "laden", imo=imo, load_fraction=str(fraction))
    if destination is not None:
        s.sighting(f"2024-03-{load_day + 3:02d}T05:00:00Z", destination, "laden", imo=imo)
        if empty_after:
            s.sighting(f"2024-03-{load_day + 4:02d}T05:00:00Z", destination, "empty", imo=imo)


# --- identity ---------------------------------------------------------------------------


def test_imo_check_digit_macro_agrees_with_python_stdnum():
    rng = random.Random(7)
    candidates = [f"{rng.randrange(10**6, 10**7)}" for _ in range(3000)] + ["8604917", "5434358", "15411", "86049171", "IMO8604917", ""]
    with connect(":memory:") as con:
        got = dict(fetch_all(con, "select n, is_valid_ship_imo(n) from unnest(?::varchar[]) as t(n)", [candidates]))
    for number in candidates:
        expected = len(number) == 7 and number.isdigit() and stdnum_imo.is_valid(number)
        assert got[number] is expected, number


def test_sightings_without_imo_resolve_by_mmsi_name_former_name_and_sanctions_name(tmp_path):
    s = Scenario(tmp_path)
    s.vessel(SIN_PHYONG, "SIN PHYONG 9", former_names="SAEBYOL", mmsi="445000001")
    s.vessel(CHON_MA_SAN, "CHON MA SAN")
    s.sighting("2024-03-01T00:00:00Z", AT_SEA, "unknown", sighting_id="by-mmsi", mmsi="445000001")
    s.sighting("2024-03-01T01:00:00Z", AT_SEA, "unknown", sighting_id="by-name", vessel_name="Chon Ma-San")
    s.sighting("2024-03-01T02:00:00Z", AT_SEA, "unknown", sighting_id="by-former", vessel_name="saebyol")
    s.sighting("2024-03-01T03:00:00Z", AT_SEA, "unknown", sighting_id="by-ofac-name", vessel_name="Chong Rim 2")
    s.sighting("2024-03-01T04:00:00Z", AT_SEA, "unknown", sighting_id="unknown-ship", vessel_name="KUM JIN GANG 3")
    s.build()
    got = {r["sighting_id"]: r for r in s.query("select * from int_sighting_identities").to_dicts()}
    assert (got["imagery:by-mmsi"]["imo"], got["imagery:by-mmsi"]["resolved_by"]) == (SIN_PHYONG, "mmsi")
    assert (got["imagery:by-name"]["imo"], got["imagery:by-name"]["resolved_by"]) == (CHON_MA_SAN, "name")
    assert got["imagery:by-former"]["imo"] == SIN_PHYONG
    assert got["imagery:by-ofac-name"]["imo"] == SIN_PHYONG  # OFAC's CHONG RIM 2 is the registry's SIN PHYONG 9
    assert got["imagery:unknown-ship"]["imo"] is None
    rejects = s.query("select record_id, reason from rejects where stage = 'identity'").to_dicts()
    assert rejects == [
        {"record_id": "imagery:unknown-ship",
         "reason": "unresolved: no IMO, and neither MMSI (none) nor name KUM JIN GANG 3 matches a known vessel"}
    ]


def test_a_name_two_hulls_share_is_rejected_with_both_candidates(tmp_path):
    s = Scenario(tmp_path, with_sanctions=False)
    s.vessel("9417115", "KOTI")
    s.vessel("8604917", "YU JONG 2", former_names="K-OTI")
    s.sighting("2024-03-01T00:00:00Z", AT_SEA, "unknown", vessel_name="koti")
    s.build()
    reasons = s.query("select reason from rejects where stage = 'identity'")["reason"].to_list()
    assert reasons == ["ambiguous vessel name koti: matches IMOs 8604917, 9417115"]


def test_invalid_imos_are_rejected_with_the_reason_and_company_imos_never_key_a_ship(tmp_path):
    s = Scenario(tmp_path)
    s.vessel("8604918", "BAD CHECK DIGIT")
    s.sighting("2024-03-01T00:00:00Z", AT_SEA, "laden", imo="5434358")  # UN company number of YU JONG 2's owner
    s.build()
    reasons = set(s.query("select reason from rejects where stage = 'staging'")["reason"])
    assert "invalid ship IMO number 8604918 (not 7 digits with a valid check digit)" in reasons
    assert "invalid ship IMO number 5434358 (not 7 digits with a valid check digit)" in reasons
    assert "invalid ship IMO number 15411 (not 7 digits with a valid check digit)" in reasons  # OFAC BONU 5
    dprk = s.query("select count(*) as n, count(distinct imo) as keyed from stg_ofac_vessels where is_dprk_program").row(0)
    assert dprk == (105, 105)  # the excerpt's 105 DPRK vessels, each keyed by a valid ship IMO
    ofac_imos = set(s.query("select imo from stg_ofac_vessels where imo is not null")["imo"])
    assert "4199470" not in ofac_imos and "5434358" not in ofac_imos  # entity rows' company numbers


# --- ports and laden state ------------------------------------------------------------


def test_sightings_are_at_the_nearest_port_within_its_radius(tmp_path):
    s = Scenario(tmp_path, with_sanctions=False).vessel(AN_SAN, "AN SAN 1")
    s.sighting("2024-03-01T00:00:00Z", VOSTOCHNY, "unknown", imo=AN_SAN, sighting_id="v")
    s.sighting("2024-03-01T01:00:00Z", KOZMINO, "unknown", imo=AN_SAN, sighting_id="k")
    s.sighting("2024-03-01T02:00:00Z", (42.7330, 133.0500), "unknown", imo=AN_SAN, sighting_id="between")
    s.sighting("2024-03-01T03:00:00Z", AT_SEA, "unknown", imo=AN_SAN, sighting_id="sea")
    s.build()
    ports = dict(s.query("select sighting_id, port_id from int_sightings where reject_reason is null").iter_rows())
    # 'between' is 3.2 km from Vostochny (radius 5) and 3.4 km from Kozmino (radius 3): Vostochny only
    assert ports == {"imagery:v": "vostochny", "imagery:k": "kozmino", "imagery:between": "vostochny", "imagery:sea": None}


def test_laden_state_from_imagery_and_from_ais_draught_thresholds(tmp_path):
    s = Scenario(tmp_path, with_sanctions=False).vessel(AN_SAN, "AN SAN 1")
    for sid, state, fraction in [("laden", "laden", ""), ("empty", "empty", ""), ("partial-hi", "partial", "0.5"),
                                 ("partial-lo", "partial", "0.49"), ("unknown", "unknown", "0.9")]:
        s.sighting("2024-03-01T00:00:00Z", AT_SEA, state, imo=AN_SAN, sighting_id=sid, load_fraction=fraction)
    s.build()
    states = dict(s.query("select sighting_id, state from int_sightings where reject_reason is null").iter_rows())
    assert states == {"imagery:laden": "laden", "imagery:empty": "empty", "imagery:partial-hi": "laden",
                      "imagery:partial-lo": "empty", "imagery:unknown": None}


def test_a_vessels_last_draught_report_stays_in_force_for_24_hours(tmp_path):
    """AIS draught is state evidence for 24 hours after its report, or until the next report: also after
    the vessel's last report (every night's newest), whatever reports of the same draught came before it."""
    registry = generate_fleet_registry(1, seed=1, n_positions=1000)
    [mmsi] = registry["mmsi"].to_list()
    at = datetime(2024, 3, 1, tzinfo=UTC)
    [(summer_draught,)] = registry.filter(pl.col("mmsi") == mmsi).select(pl.col("summer_draught_m").cast(pl.Float64)).rows()
    # laden, then empty reported twice (one run of one draught, the vessel's last)
    reports = [(at, summer_draught * 0.95), (at + timedelta(hours=2), summer_draught * 0.5), (at + timedelta(hours=4), summer_draught * 0.5)]
    positions = [at + timedelta(hours=h) for h in (1, 3, 27, 29)]
    with connect(tmp_path / "warehouse.duckdb") as con:
        load_raw(con, {"raw_registry_vessels": registry})
        con.executemany(
            "insert into raw_ais_static (source_name, snapshot_id, source_row, received_at, msg_type, mmsi, draught_m) "
            "values ('ais', 'd', ?, ?, 5, ?, ?)",
            [[i, t, mmsi, draught] for i, (t, draught) in enumerate(reports)],
        )
        con.executemany(
            "insert into raw_ais_positions (source_name, snapshot_id, source_row, received_at, msg_type, mmsi, latitude, longitude) "
            "values ('ais', 'd', ?, ?, 1, ?, 10.0, -150.0)",
            [[100 + i, t, mmsi] for i, t in enumerate(positions)],
        )
        build_all(con)
        states = fetch_all(con, "select observed_at, state from int_sightings order by observed_at")
    assert [state for _, state in states] == ["laden", "empty", "empty", None]


def test_observed_at_offsets_are_normalised_to_utc_and_missing_offsets_rejected(tmp_path):
    s = Scenario(tmp_path, with_sanctions=False).vessel(AN_SAN, "AN SAN 1")
    s.sighting("2024-03-01T10:00:00+10:00", AT_SEA, "empty", imo=AN_SAN, sighting_id="vladivostok-time")
    s.sighting("2024-03-01T10:00:00", AT_SEA, "empty", imo=AN_SAN, sighting_id="no-offset")
    s.build()
    got = s.query("select sighting_id, strftime(observed_at, '%Y-%m-%dT%H:%M:%SZ') as t from stg_imagery_sightings where reject_reason is null")
    assert got.to_dicts() == [{"sighting_id": "vladivostok-time", "t": "2024-03-01T00:00:00Z"}]
    assert s.query("select reason from rejects")["reason"].to_list() == ["observed_at has no UTC offset: 2024-03-01T10:00:00"]


# --- port calls -------------------------------------------------------------------------


def test_port_calls_split_on_a_sighting_elsewhere_and_on_gaps_over_five_days(tmp_path):
    s = Scenario(tmp_path, with_sanctions=False).vessel(AN_SAN, "AN SAN 1")
    for when, where in [("2024-03-01T00:00:00Z", VOSTOCHNY), ("2024-03-02T00:00:00Z", VOSTOCHNY),
                        ("2024-03-03T00:00:00Z", AT_SEA), ("2024-03-04T00:00:00Z", VOSTOCHNY),
                        ("2024-03-09T00:00:00Z", VOSTOCHNY), ("2024-03-14T00:00:01Z", VOSTOCHNY)]:
        s.sighting(when, where, "unknown", imo=AN_SAN)
    s.build()
    calls = s.query("select strftime(arrival_at, '%d') a, strftime(departure_at, '%d') d, sightings from int_port_calls order by arrival_at")
    # 4th to 9th is exactly 5 days (one call); 9th to 14th is 5 days and a second: a new call
    assert calls.rows() == [("01", "02", 2), ("04", "09", 2), ("14", "14", 1)]


# --- loads, voyages, destinations ---------------------------------------------------------


def test_an_empty_to_laden_transition_at_the_terminal_is_one_confirmed_voyage(tmp_path):
    s = Scenario(tmp_path).vessel(CHON_MA_SAN, "CHON MA SAN", dwt="4000")
    one_voyage(s, CHON_MA_SAN, 5, fractions=(0.88, 0.92, 0.95))
    s.build()
    [v] = voyage_rows(s)
    assert v["load_port"] == "Vostochny" and v["discharge_port"] == "Rajin"
    assert v["destination_status"] == "confirmed" and v["counts_toward_cap"] is True
    assert v["load_fraction"] == pytest.approx(0.92) and v["load_fraction_source"] == "observed_median"
    # published in whole barrels
    assert v["capacity_bbl"] == round(4000 * 0.95 * 7.46)
    assert v["volume_bbl"] == round(4000 * 0.95 * 7.46 * 0.92)
    assert v["volume_bbl_low"] == round(4000 * 0.90 * 7.46 * (0.88 - 0.05))
    assert v["volume_bbl_high"] == round(4000 * 0.95 * 7.46 * (0.95 + 0.05))
    assert v["load_departure_at"].isoformat() == "2024-03-05T12:00:00+00:00"
    assert set(v["evidence_ids"]) == {f"imagery:S00{i}" for i in range(1, 7)}


def test_idling_at_the_terminal_and_being_seen_only_laden_make_no_voyage(tmp_path):
    s = Scenario(tmp_path).vessel(CHON_MA_SAN, "CHON MA SAN").vessel(AN_SAN, "AN SAN 1")
    s.sighting("2024-03-01T00:00:00Z", VOSTOCHNY, "empty", imo=CHON_MA_SAN)
    s.sighting("2024-03-02T00:00:00Z", VOSTOCHNY, "empty", imo=CHON_MA_SAN)
    s.sighting("2024-03-03T00:00:00Z", AT_SEA, "empty", imo=CHON_MA_SAN)
    s.sighting("2024-03-01T00:00:00Z", VOSTOCHNY, "laden", imo=AN_SAN)
    s.sighting("2024-03-03T00:00:00Z", RAJIN, "laden", imo=AN_SAN)
    s.build()
    assert voyage_rows(s) == []
    assert s.query("select count(*) n from int_load_events")["n"][0] == 0


def test_a_load_with_no_terminal_call_in_its_bracket_is_unattributed_not_counted(tmp_path):
    s = Scenario(tmp_path).vessel(AN_SAN, "AN SAN 1")
    s.sighting("2024-03-01T00:00:00Z", VLADIVOSTOK, "empty", imo=AN_SAN)
    s.sighting("2024-03-02T00:00:00Z", AT_SEA, "laden", imo=AN_SAN)
    s.build()
    assert voyage_rows(s) == []
    [load] = s.query("select * from unattributed_loads").to_dicts()
    assert load["attribution"] == "unattributed" and load["imo"] == AN_SAN


def test_destination_other_port_and_unobserved_destination(tmp_path):
    s = Scenario(tmp_path).vessel(CHON_MA_SAN, "CHON MA SAN").vessel(AN_SAN, "AN SAN 1", flag="PA")
    one_voyage(s, CHON_MA_SAN, 5, destination=VLADIVOSTOK)
    one_voyage(s, AN_SAN, 5, destination=None)
    s.build()
    by_imo = {v["imo"]: v for v in voyage_rows(s)}
    assert by_imo[CHON_MA_SAN]["destination_status"] == "other"
    assert by_imo[CHON_MA_SAN]["counts_toward_cap"] is False
    # unobserved destination: counts because OFAC designates AN SAN 1, although not DPRK-flagged here
    assert by_imo[AN_SAN]["destination_status"] == "unconfirmed" and by_imo[AN_SAN]["sanctioned"] is True
    assert by_imo[AN_SAN]["counts_toward_cap"] is True
    assert by_imo[AN_SAN]["load_fraction"] == pytest.approx(0.9)


def test_destination_is_the_first_non_terminal_call_up_to_the_first_empty_sighting(tmp_path):
    s = Scenario(tmp_path).vessel(CHON_MA_SAN, "CHON MA SAN")
    s.sighting("2024-03-01T00:00:00Z", VOSTOCHNY, "empty", imo=CHON_MA_SAN)
    s.sighting("2024-03-02T00:00:00Z", VOSTOCHNY, "laden", imo=CHON_MA_SAN)
    s.sighting("2024-03-03T00:00:00Z", AT_SEA, "empty", imo=CHON_MA_SAN)  # emptied at sea (ship-to-ship?)
    s.sighting("2024-03-05T00:00:00Z", CHONGJIN, "empty", imo=CHON_MA_SAN)
    s.build()
    [v] = voyage_rows(s)
    assert v["destination_status"] == "unconfirmed" and v["discharge_port"] is None


def test_capacity_from_tank_volume_wins_over_dwt_and_unknown_capacity_uses_the_fleet_median(tmp_path):
    s = Scenario(tmp_path, with_sanctions=False)
    s.vessel(CHON_MA_SAN, "CHON MA SAN", cargo_capacity_m3="4000", dwt="9999")
    s.vessel(AN_SAN, "AN SAN 1", dwt="", cargo_capacity_m3="")
    s.build()
    caps = {r["imo"]: r for r in s.query("select * from int_vessel_capacities").to_dicts()}
    assert caps[CHON_MA_SAN]["capacity_bbl"] == pytest.approx(4000 * 6.2898)
    assert caps[CHON_MA_SAN]["capacity_source"] == "cargo_capacity_m3"
    assert caps[AN_SAN]["capacity_source"] == "fleet_median"
    assert caps[AN_SAN]["capacity_bbl"] == pytest.approx(4000 * 6.2898)


# --- sanctions status and the cap ---------------------------------------------------------

UN_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2024-12-01T00:00:00Z"><INDIVIDUALS/><ENTITIES>
<ENTITY><DATAID>1</DATAID><FIRST_NAME>TEST SHIPPING CO</FIRST_NAME><UN_LIST_TYPE>DPRK</UN_LIST_TYPE>
<REFERENCE_NUMBER>KPe.999</REFERENCE_NUMBER><LISTED_ON>2024-03-15</LISTED_ON>
<COMMENTS1>Registered owner of the DPRK tanker TEST TANKER 7. Company Number IMO 5434358.</COMMENTS1></ENTITY>
</ENTITIES></CONSOLIDATED_LIST>
"""


def test_sanctions_status_is_taken_as_of_each_voyage(tmp_path):
    test_imo = "9000003"
    s = Scenario(tmp_path, with_sanctions=False, un_xml=UN_XML).vessel(test_imo, "TEST TANKER 7", flag="PA")
    one_voyage(s, test_imo, 5, destination=None)   # before the UN listing of 2024-03-15
    one_voyage(s, test_imo, 20, destination=None)  # after it
    s.build()
    before, after = voyage_rows(s)
    assert (before["sanctioned"], before["counts_toward_cap"]) == (False, False)
    assert (after["sanctioned"], after["counts_toward_cap"]) == (True, True)
    assert after["sanctions_lists"] == ["UN SC Consolidated List"]


def test_cap_breach_date_is_the_first_day_the_cumulative_volume_exceeds_the_cap(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        from tankerwatch.models import build_model, discover_models
        from tankerwatch.reference import load_volume_assumptions

        load_volume_assumptions(con)
        con.execute(
            "create table voyages as select * from (values "
            "(timestamptz '2024-01-10 00:00:00+00', 200000.0, 150000.0, 250000.0, true),"
            "(timestamptz '2024-02-10 00:00:00+00', 200000.0, 150000.0, 250000.0, true),"
            "(timestamptz '2024-02-11 00:00:00+00', 999999.0, 999999.0, 999999.0, false),"
            "(timestamptz '2024-03-10 00:00:00+00', 100000.0, 150000.0, 250000.0, true),"
            "(timestamptz '2024-03-11 00:00:00+00', 1, 1, 1, true),"
            "(timestamptz '2025-01-05 00:00:00+00', 10.0, 5.0, 20.0, true)"
            ") as t(load_departure_at, volume_bbl, volume_bbl_low, volume_bbl_high, counts_toward_cap)"
        )
        build_model(con, discover_models()["cap_tracker"])
        rows = {r[0]: r for r in fetch_all(con, "select year, voyages, delivered_bbl, breach_date, breach_date_low, breach_date_high from cap_tracker")}
    # central, in whole barrels: 200k, 400k, 500k (not over), 500,001 on 2024-03-11; high: 250k, 500k, 750k on 03-10
    assert rows[2024] == (2024, 4, 500001, date(2024, 3, 11), None, date(2024, 3, 10))
    assert rows[2025] == (2025, 1, 10, None, None, None)


def test_a_hull_reflagged_mid_year_counts_as_dprk_flagged_only_while_it_was(tmp_path):
    test_imo = "9000003"
    s = Scenario(tmp_path, with_sanctions=False)
    s.vessel(test_imo, "OLD NAME", flag="KP", updated_at="2024-01-01")
    s.vessel(test_imo, "NEW NAME", former_names="OLD NAME", flag="PA", updated_at="2024-03-12")
    one_voyage(s, test_imo, 5, destination=None)   # under the DPRK flag
    one_voyage(s, test_imo, 20, destination=None)  # after the reflagging to Panama
    s.build()
    before, after = voyage_rows(s)
    assert (before["flag"], before["vessel_name"], before["counts_toward_cap"]) == ("KP", "OLD NAME", True)
    assert (after["flag"], after["vessel_name"], after["counts_toward_cap"]) == ("PA", "NEW NAME", False)
    assert s.query("select flag, vessel_name from vessels where imo = ?", [test_imo]).row(0) == ("PA", "NEW NAME")
