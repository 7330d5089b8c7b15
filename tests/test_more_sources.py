"""The other source kinds through ingest and the models: OpenSanctions, the UK list, DMA AIS, GFW port visits."""

from __future__ import annotations

import json
from datetime import date

from tankerwatch.settings import REPO_ROOT
from tests.gfw_server import FakeGfw, serve_gfw
from tests.scenario import AT_SEA, RAJIN, VOSTOCHNY, Scenario

TEST_IMO = "9000003"  # check digit valid, not a real hull
UK_IMO = "9000015"
DMA_HEADER = (
    "# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,Name,"
    "Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,Destination,ETA,Data source type,A,B,C,D"
)


def ftm(entity_id: str, schema: str, **properties) -> str:
    return json.dumps({"id": entity_id, "schema": schema, "caption": entity_id, "properties": properties,
                       "datasets": ["test"], "first_seen": "2024-01-01T00:00:00", "last_seen": "2024-12-01T00:00:00"})


def voyage(s: Scenario, imo: str, day: int, **identity) -> None:
    ident = identity or {"imo": imo}
    s.sighting(f"2024-03-{day:02d}T01:00:00Z", VOSTOCHNY, "empty", **ident)
    s.sighting(f"2024-03-{day:02d}T12:00:00Z", VOSTOCHNY, "laden", load_fraction="0.9", **ident)
    s.sighting(f"2024-03-{day + 1:02d}T12:00:00Z", AT_SEA, "laden", **ident)


def test_opensanctions_designations_carry_their_listing_dates_and_aliases_resolve_sightings(tmp_path):
    export = "\n".join([
        ftm("os-vessel-1", "Vessel", name=["TEST TANKER 7"], alias=["TT SEVEN"], imoNumber=[f"IMO{TEST_IMO}"],
            flag=["pa"], deadweightTonnage=["4200"], mmsi=["355000001"]),
        ftm("os-sanction-1", "Sanction", entity=["os-vessel-1"], authority=["US Treasury"], program=["DPRK3"],
            listingDate=["2024-03-15"]),
        ftm("os-person-1", "Person", name=["SOMEONE"]),
    ]) + "\n"
    s = Scenario(tmp_path, with_sanctions=False)
    s.source("opensanctions", "opensanctions_ftm", "entities.ftm.json", export)
    voyage(s, TEST_IMO, 5, vessel_name="tt-seven")  # alias only: resolved through OpenSanctions
    voyage(s, TEST_IMO, 20, mmsi="355000001")  # MMSI only: linked by OpenSanctions
    s.build()
    before, after = s.query("select * from voyages order by load_departure_at").to_dicts()
    assert (before["sanctioned"], before["counts_toward_cap"]) == (False, False)
    assert (after["sanctioned"], after["counts_toward_cap"]) == (True, True)
    assert after["sanctions_lists"] == ["OpenSanctions (US Treasury)"]
    assert after["capacity_bbl"] == round(4200 * 0.95 * 7.46)  # DWT from OpenSanctions: not in the registry; whole bbl
    vessel = s.query("select * from vessels where imo = ?", [TEST_IMO]).to_dicts()[0]
    assert (vessel["vessel_name"], vessel["flag"], vessel["in_registry"]) == ("TEST TANKER 7", "PA", False)


def test_uk_ship_designations_date_the_listing_and_name_the_hull(tmp_path):
    fixture = (REPO_ROOT / "tests" / "fixtures" / "uk" / "uk_sanctions_list_handmade.csv").read_text(encoding="utf-8")
    lines = fixture.splitlines()
    columns = lines[1].split(",")

    def row(**cells):
        return ",".join(cells.get(c, "") for c in columns)

    uk = "\n".join([
        lines[0], lines[1],
        row(**{"Unique ID": "DPR9999", "Name 6": "UK TANKER", "Name type": "Primary Name", "Designation Type": "Ship",
               "Designation source": "UK", "Regime Name": "Test regime", "Date Designated": "01/06/2024", "IMO number": UK_IMO}),
        row(**{"Unique ID": "DPR9999", "Name 6": "BLUE WAVE", "Name type": "Alias", "Designation Type": "Ship",
               "Designation source": "UK", "Regime Name": "Test regime", "Date Designated": "01/06/2024", "IMO number": UK_IMO}),
    ]) + "\n"
    s = Scenario(tmp_path, with_sanctions=False)
    s.source("uk_list", "uk_sanctions_csv", "uk.csv", uk)
    s.sighting("2024-03-01T00:00:00Z", AT_SEA, "unknown", vessel_name="Blue-Wave", sighting_id="alias")
    s.build()
    [designation] = s.query("select * from int_sanctions_designations").to_dicts()
    assert (designation["list_name"], designation["imo"], designation["listed_name"]) == ("UK Sanctions List", UK_IMO, "UK TANKER")
    assert designation["listed_on"] == date(2024, 6, 1)
    assert s.query("select imo from int_sighting_identities")["imo"].to_list() == [UK_IMO]


def test_dma_ais_positions_and_draught_make_a_voyage_without_imagery(tmp_path):
    mmsi = "273000001"
    rows = [DMA_HEADER]
    # static row (latitude 91): IMO and an empty draught, then positions at the terminal
    rows.append(f"01/03/2024 00:00:00,Class A,{mmsi},91,0,Unknown value,,,,,{TEST_IMO},UBCD,TEST TANKER 7,Tanker,,10,80,GPS,2.7,VOSTOCHNY,,AIS,,,,")
    for hour in (1, 5, 9):
        rows.append(f"01/03/2024 {hour:02d}:00:00,Class A,{mmsi},{VOSTOCHNY[0]},{VOSTOCHNY[1]},Moored,0,0.0,0,0,Unknown,,,Tanker,,,,GPS,,,,AIS,,,,")
    rows.append(f"01/03/2024 12:00:00,Class A,{mmsi},91,0,Unknown value,,,,,{TEST_IMO},UBCD,TEST TANKER 7,Tanker,,10,80,GPS,5.7,NAMPO,,AIS,,,,")
    rows.append(f"01/03/2024 13:00:00,Class A,{mmsi},{VOSTOCHNY[0]},{VOSTOCHNY[1]},Moored,0,0.1,0,0,Unknown,,,Tanker,,,,GPS,,,,AIS,,,,")
    rows.append(f"02/03/2024 10:00:00,Class A,{mmsi},{AT_SEA[0]},{AT_SEA[1]},Under way using engine,0,11.0,200,200,Unknown,,,Tanker,,,,GPS,,,,AIS,,,,")
    rows.append(f"02/03/2024 10:00:00,Class A,{mmsi},{AT_SEA[0]},{AT_SEA[1]},Under way using engine,0,11.0,200,200,Unknown,,,Tanker,,,,GPS,,,,AIS,,,,")
    s = Scenario(tmp_path, with_sanctions=False).vessel(TEST_IMO, "TEST TANKER 7", summer_draught_m="6.0", dwt="3000")
    s.source("dma", "ais_dma_csv", "aisdk-2024-03-01.csv", "\n".join(rows) + "\n")
    s.build()
    states = s.query("select strftime(observed_at, '%H') h, state from int_sightings where reject_reason is null order by observed_at").rows()
    # the last position is 22 h after the laden draught report: still within the 24 h it holds; the 05:00
    # position, one more empty one within the call, is counted but not stored (no rule reads it)
    assert states == [("01", "empty"), ("09", "empty"), ("13", "laden"), ("10", "laden")]
    assert s.query("select sightings from vessels where imo = ?", [TEST_IMO]).item() == 5
    [v] = s.query("select * from voyages").to_dicts()
    assert v["imo"] == TEST_IMO and v["load_port"] == "Vostochny"
    assert v["load_departure_at"].isoformat() == "2024-03-01T13:00:00+00:00"
    assert v["destination_status"] == "unconfirmed" and v["counts_toward_cap"] is True  # flag KP in the scenario
    duplicates = s.query("select reason from rejects where table_name = 'stg_ais_dma'")["reason"].to_list()
    assert duplicates == ["duplicate AIS row (same MMSI, time and position as an earlier row)"]


def test_gfw_port_visits_confirm_a_destination(tmp_path):
    mmsi = "445000077"
    event = {
        "id": "visit-1", "type": "port_visit", "start": "2024-03-08T00:00:00.000Z", "end": "2024-03-09T06:00:00.000Z",
        "position": {"lat": RAJIN[0], "lon": RAJIN[1]},
        "vessel": {"id": "gfw-vessel-77", "ssvid": mmsi, "name": "TEST TANKER 7", "flag": "PRK"},
        "port_visit": {"visitId": "v1", "confidence": "4", "durationHrs": 30.0,
                       "startAnchorage": {"anchorageId": "s2cell", "id": "prk-rajin", "name": "RAJIN", "flag": "PRK",
                                          "lat": RAJIN[0], "lon": RAJIN[1]}},
    }
    fake = FakeGfw(token="secret-token-123", events=[event])
    s = Scenario(tmp_path, with_sanctions=False).vessel(TEST_IMO, "TEST TANKER 7", mmsi=mmsi)
    voyage(s, TEST_IMO, 5)
    with serve_gfw(fake) as base:
        s.source("gfw_visits", "gfw_port_visits_api", url=base, token_env="TEST_GFW_TOKEN",
                 start_date="2024-01-01", end_date="2024-12-31", vessel_ids=["gfw-vessel-77"])
        s.build(secrets={"TEST_GFW_TOKEN": "secret-token-123"}.get)
    [v] = s.query("select * from voyages").to_dicts()
    assert (v["destination_status"], v["discharge_port"]) == ("confirmed", "Rajin")
    assert {"gfw_visits:visit-1:start", "gfw_visits:visit-1:end"} <= set(v["evidence_ids"])
    assert all(r.authorization == "Bearer secret-token-123" for r in fake.requests)
    landed = b"".join(p.read_bytes() for p in (tmp_path / "landing").rglob("*") if p.is_file())
    assert b"secret-token-123" not in landed
