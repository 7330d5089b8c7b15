"""The Global Fishing Watch source kinds: the API client against a fake GFW on 127.0.0.1, and the JSONL parsers."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from tankerwatch.errors import FetchError
from tankerwatch.fetch import STATE_FILE, Fetcher, FetchOptions
from tankerwatch.gfw import fetch_port_visits, fetch_vessels
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.gfw import parse_gfw_port_visits_jsonl, parse_gfw_vessels_jsonl
from tankerwatch.parsers.sink import parse_in_memory
from tests.gfw_server import FakeGfw, serve_gfw

FIXTURES = Path(__file__).parent / "fixtures" / "gfw_api"
VESSEL = json.loads((FIXTURES / "gfwapiclient_fixture_vessel_item.json").read_text())
EVENT = json.loads((FIXTURES / "gfwapiclient_fixture_event_item.json").read_text())
REQUEST_BODY = json.loads((FIXTURES / "gfwapiclient_fixture_event_list_request_body.json").read_text())
REQUEST_PARAMS = json.loads((FIXTURES / "gfwapiclient_fixture_event_list_request_params.json").read_text())

TOKEN = "gfw-test-token-5f1c2e9a"
TOKEN_ENV = "TANKERWATCH_GFW_TOKEN"
LOCAL = FetchOptions(allow_insecure_http=True)


def _frio_aegean_only() -> dict:
    """A second vessel entry of the same shape: the fixture cut down to its 2012-2013 PAN identity."""
    entry = copy.deepcopy(VESSEL)
    entry["selfReportedInfo"] = [VESSEL["selfReportedInfo"][4]]
    entry["combinedSourcesInfo"] = [VESSEL["combinedSourcesInfo"][2]]
    entry["registryInfo"], entry["registryInfoTotalRecords"] = [], 0
    return entry


def _port_visit_only(event_id: str) -> dict:
    """The fixture event as a real port-visit answer carries it: type port_visit, no other event type's block."""
    event = {k: v for k, v in copy.deepcopy(EVENT).items() if k not in ("encounter", "fishing", "gap", "loitering")}
    return {**event, "id": event_id, "type": "port_visit", "end": "2016-12-19T17:53:12.000Z"}


def _without_visit_block(event_id: str) -> dict:
    event = _port_visit_only(event_id)
    del event["port_visit"]
    return event


EVENTS = [EVENT, _port_visit_only("pv-second"), _without_visit_block("pv-third")]


@pytest.fixture
def log() -> list[str]:
    """Every message the fetch layer and the client log, to search for the token."""
    return []


def _fetcher(tmp_path: Path, messages: list[str], sleeps: list[float] | None = None, session=None) -> Fetcher:
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    return Fetcher(tmp_path / "landing", session=session, sleep=sleep, log=messages.append)


def _landed_files(tmp_path: Path) -> list[Path]:
    """Landed data files, without the fetch layer's own state file."""
    return [p for p in (tmp_path / "landing").rglob("*") if p.is_file() and p.name != STATE_FILE]


class _NoNetwork:
    """A requests session that fails the test if anything is sent."""

    def request(self, *args, **kwargs):
        raise AssertionError(f"no request was expected, got {args[:2]}")


def _land_vessels(tmp_path: Path, messages: list[str]):
    fake = FakeGfw(TOKEN, vessel_pages={"9076260": [[VESSEL], [_frio_aegean_only()]], "273379740": [[VESSEL]]})
    with serve_gfw(fake) as base:
        snapshot = fetch_vessels(
            _fetcher(tmp_path, messages),
            "gfw_identity",
            base_url=base,
            token=TOKEN,
            token_env=TOKEN_ENV,
            queries=["9076260", "273379740"],
            options=LOCAL,
            log=messages.append,
        )
    return snapshot, fake


def _land_port_visits(tmp_path: Path, messages: list[str]):
    fake = FakeGfw(TOKEN, events=EVENTS)
    with serve_gfw(fake) as base:
        snapshot = fetch_port_visits(
            _fetcher(tmp_path, messages),
            "gfw_ports",
            base_url=base,
            token=TOKEN,
            token_env=TOKEN_ENV,
            start_date="2016-01-01",
            end_date="2017-01-01",
            vessel_ids=["126570026-6217-2a10-f383-a42f66f78ea7"],
            page_size=2,
            options=LOCAL,
            log=messages.append,
        )
    return snapshot, fake


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


# --- vessels/search -----------------------------------------------------------------------------


def test_vessel_search_follows_the_since_cursor_and_lands_every_entry_once(tmp_path, log):
    snapshot, fake = _land_vessels(tmp_path, log)

    calls = [(r.method, r.path, r.params.get("query"), r.params.get("since")) for r in fake.requests]
    assert calls == [
        ("GET", "/v3/vessels/search", "9076260", None),
        ("GET", "/v3/vessels/search", "9076260", "cursor-9076260-1"),
        ("GET", "/v3/vessels/search", "273379740", None),
    ]
    for request in fake.requests:
        assert request.authorization == f"Bearer {TOKEN}"
        assert request.params["datasets[0]"] == "public-global-vessel-identity:latest"
        assert request.params["limit"] == "50"

    landed = _lines(snapshot.path)
    assert [(line["query"], line["entry"]) for line in landed] == [
        ("9076260", VESSEL),
        ("9076260", _frio_aegean_only()),
        ("273379740", VESSEL),
    ]
    assert Path(snapshot.path).suffix == ".jsonl" and _landed_files(tmp_path) == [Path(snapshot.path)]


def test_landed_vessel_answers_parse_into_one_row_per_identity_record(tmp_path, log):
    snapshot, _ = _land_vessels(tmp_path, log)
    result = parse_in_memory(parse_gfw_vessels_jsonl, Path(snapshot.path))
    assert result.rejects == [] and result.stats == {}
    rows = result.tables["raw_gfw_vessels"]
    assert rows.columns == list(RAW_TABLE_COLUMNS["raw_gfw_vessels"])
    # 5 self-reported + 2 registry records per full entry; the cut-down entry has 1.
    assert rows.height == 15
    assert rows.group_by("source_row").len().sort("source_row").rows() == [(1, 7), (2, 1), (3, 7)]

    first = rows.filter(rows["source_row"] == 1).to_dicts()
    assert [(r["info_kind"], r["ssvid"], r["flag"], r["callsign"]) for r in first] == [
        ("selfReportedInfo", "273379740", "RUS", "UCRZ"),
        ("selfReportedInfo", "511101495", "PLW", "T8A4891"),
        ("selfReportedInfo", "210631000", "CYP", "5BWC3"),
        ("selfReportedInfo", "341346000", "KNA", "V4JQ3"),
        ("selfReportedInfo", "354666000", "PAN", "3FGY4"),
        ("registryInfo", "273379740", "RUS", "UCRZ"),
        ("registryInfo", "210631000", "CYP", "5BWC3"),
    ]
    assert first[0] == {
        "source_row": 1,
        "query": "9076260",
        "info_kind": "selfReportedInfo",
        "gfw_vessel_id": "da1cd7e1b-b8d0-539c-6581-2b3df8d0a6af",
        "ssvid": "273379740",
        "imo": "9076260",
        "shipname": "FRIO FORWIN",
        "callsign": "UCRZ",
        "flag": "RUS",
        "ship_types": ["CARRIER"],
        "transmission_from": "2015-02-27T10:59:21Z",
        "transmission_to": "2025-03-02T23:51:32Z",
        "tonnage_gt": None,
    }
    # A registry record's own id is a record id; it is tied to the AIS identity with its ssvid.
    assert first[6] == {
        "source_row": 1,
        "query": "9076260",
        "info_kind": "registryInfo",
        "gfw_vessel_id": "8c7304226-6c71-edbe-0b63-c246734b3c01",
        "ssvid": "210631000",
        "imo": "9076260",
        "shipname": "FRIO FORWIN",
        "callsign": "5BWC3",
        "flag": "CYP",
        "ship_types": ["CARRIER"],
        "transmission_from": "2013-05-15T20:19:43Z",
        "transmission_to": "2024-07-04T14:19:36Z",
        "tonnage_gt": "6963.6",
    }
    second = rows.filter(rows["source_row"] == 2).to_dicts()
    assert [(r["shipname"], r["gfw_vessel_id"], r["transmission_from"]) for r in second] == [
        ("FRIO AEGEAN", "0cb77880e-ee49-2ce4-a849-c0b413b6ec89", "2012-01-01T00:32:48Z")
    ]
    assert set(rows["query"]) == {"9076260", "273379740"} and set(rows["imo"]) == {"9076260"}


# --- events (port visits) -----------------------------------------------------------------------


def test_port_visits_page_by_offset_until_next_offset_is_null_and_land_each_event_once(tmp_path, log):
    snapshot, fake = _land_port_visits(tmp_path, log)

    assert [(r.method, r.path, r.params) for r in fake.requests] == [
        ("POST", "/v3/events", {"limit": "2", "offset": "0", "sort": "+start"}),
        ("POST", "/v3/events", {"limit": "2", "offset": "2", "sort": "+start"}),
    ]
    landed = _lines(snapshot.path)
    assert landed == EVENTS
    assert [e["id"] for e in landed] == ["3ca9b73aee21fbf278a636709e0f8f03", "pv-second", "pv-third"]


def test_the_events_body_has_the_documented_camelcase_fields(tmp_path, log):
    _, fake = _land_port_visits(tmp_path, log)
    expected = {
        "datasets": ["public-global-port-visits-events:latest"],
        "types": ["PORT_VISIT"],
        "startDate": "2016-01-01",
        "endDate": "2017-01-01",
        "confidences": ["2", "3", "4"],
        "vessels": ["126570026-6217-2a10-f383-a42f66f78ea7"],
    }
    for request in fake.requests:
        assert request.body == expected
        assert request.content_type.startswith("application/json")
        assert request.authorization == f"Bearer {TOKEN}"
    # The python client's fixture holds the same request in its snake_case model
    # names; on the wire they are camelCase. Every field we send is one of them,
    # and every query parameter is one the client sends.
    snake = {re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower() for key in expected}
    assert snake <= set(REQUEST_BODY)
    assert expected["confidences"] == REQUEST_BODY["confidences"]
    assert set(fake.requests[0].params) == set(REQUEST_PARAMS)


def test_a_region_goes_into_the_body_as_given(tmp_path, log):
    region = {"dataset": "public-eez-areas", "id": "5690"}
    fake = FakeGfw(TOKEN, events=[EVENT])
    with serve_gfw(fake) as base:
        fetch_port_visits(
            _fetcher(tmp_path, log),
            "gfw_ports",
            base_url=base,
            token=TOKEN,
            start_date="2024-01-01",
            end_date="2024-02-01",
            region=region,
            options=LOCAL,
        )
    body = fake.requests[0].body
    assert body["region"] == region == REQUEST_BODY["region"] and "vessels" not in body


def test_landed_port_visits_parse_with_the_fixture_values(tmp_path, log):
    snapshot, _ = _land_port_visits(tmp_path, log)
    result = parse_in_memory(parse_gfw_port_visits_jsonl, Path(snapshot.path))
    assert result.rejects == []
    # The composite fixture says type 'fishing' but carries a port_visit block.
    assert result.stats == {"port_visit_blocks_on_other_event_types": 1}
    rows = result.tables["raw_gfw_port_visits"]
    assert rows.columns == list(RAW_TABLE_COLUMNS["raw_gfw_port_visits"])
    first, second, third = rows.to_dicts()
    assert first == {
        "source_row": 1,
        "event_id": "3ca9b73aee21fbf278a636709e0f8f03",
        "start": "2016-12-17T20:57:49.000Z",
        "end": None,  # "" in the fixture
        "latitude": 54.9204,
        "longitude": -5.5465,
        "gfw_vessel_id": "126570026-6217-2a10-f383-a42f66f78ea7",
        "ssvid": "235063795",
        "vessel_name": "NORTHERN VIKING",
        "vessel_flag": "GBR",
        "visit_id": "a92fe2cfe6637cade94506b00d4584fd",
        "confidence": "2",
        "duration_hrs": 44933.07305555556,
        "anchorage_id": "548671b3",
        "anchorage_name": "VANCOUVER",
        "anchorage_flag": "CAN",
        "anchorage_lat": 49.309889830493304,
        "anchorage_lon": -123.08353899884875,
    }
    assert second == {**first, "source_row": 2, "event_id": "pv-second", "end": "2016-12-19T17:53:12.000Z"}
    no_visit = (
        "visit_id", "confidence", "duration_hrs",
        "anchorage_id", "anchorage_name", "anchorage_flag", "anchorage_lat", "anchorage_lon",
    )
    assert third == {**second, "source_row": 3, "event_id": "pv-third", **{name: None for name in no_visit}}


# --- the token ----------------------------------------------------------------------------------


def test_a_refused_token_is_a_fetch_error_that_does_not_contain_it(tmp_path, log):
    wrong = "wrong-token-0c93d1e7"
    fake = FakeGfw(TOKEN, events=EVENTS)
    with serve_gfw(fake) as base, pytest.raises(FetchError) as error:
        fetch_port_visits(
            _fetcher(tmp_path, log),
            "gfw_ports",
            base_url=base,
            token=wrong,
            token_env=TOKEN_ENV,
            start_date="2016-01-01",
            end_date="2017-01-01",
            options=LOCAL,
            log=log.append,
        )
    text = str(error.value)
    assert "HTTP 401" in text and "source 'gfw_ports'" in text and TOKEN_ENV in text
    assert wrong not in text and wrong not in repr(error.value)
    assert error.value.__cause__ is None or wrong not in str(error.value.__cause__)
    assert fake.requests and fake.requests[0].authorization == f"Bearer {wrong}"
    assert not any(wrong in message for message in log)
    assert _landed_files(tmp_path) == []


def test_the_token_never_reaches_the_landed_files_the_log_or_any_url(tmp_path, log):
    vessels, vessel_fake = _land_vessels(tmp_path, log)
    visits, visit_fake = _land_port_visits(tmp_path, log)
    assert log, "the fetch should have logged its pages"
    for snapshot in (vessels, visits):
        assert TOKEN not in snapshot.url and TOKEN not in json.dumps(snapshot.to_dict())
    # Every file under the landing folder: the JSONL and the fetch layer's state.
    written = [p for p in (tmp_path / "landing").rglob("*") if p.is_file()]
    assert {Path(vessels.path), Path(visits.path)} < set(written)
    assert not any(TOKEN.encode() in p.read_bytes() for p in written)
    assert not any(TOKEN in message for message in log)
    for request in vessel_fake.requests + visit_fake.requests:
        assert TOKEN not in request.target


@pytest.mark.parametrize("token", ["", "   ", None])
@pytest.mark.parametrize("which", ["vessels", "port_visits"])
def test_an_empty_token_is_refused_before_any_request(tmp_path, log, token, which):
    fake = FakeGfw(TOKEN, vessel_pages={"9076260": [[VESSEL]]}, events=EVENTS)
    with serve_gfw(fake) as base, pytest.raises(FetchError, match=TOKEN_ENV):
        if which == "vessels":
            fetch_vessels(
                _fetcher(tmp_path, log), "gfw_identity", base_url=base, token=token, token_env=TOKEN_ENV,
                queries=["9076260"], options=LOCAL,
            )
        else:
            fetch_port_visits(
                _fetcher(tmp_path, log), "gfw_ports", base_url=base, token=token, token_env=TOKEN_ENV,
                start_date="2016-01-01", end_date="2017-01-01", options=LOCAL,
            )
    assert fake.requests == [] and _landed_files(tmp_path) == []


def test_a_token_with_a_line_break_is_refused_without_echoing_it(tmp_path, log):
    fake = FakeGfw(TOKEN)
    with serve_gfw(fake) as base, pytest.raises(FetchError, match=TOKEN_ENV) as error:
        fetch_vessels(
            _fetcher(tmp_path, log), "gfw_identity", base_url=base, token="secret-part\nrest", token_env=TOKEN_ENV,
            queries=["9076260"], options=LOCAL,
        )
    assert "secret-part" not in str(error.value) and fake.requests == []


def test_the_token_is_not_sent_over_plain_http_to_another_host(tmp_path, log):
    with pytest.raises(FetchError, match="plain http"):
        fetch_vessels(
            _fetcher(tmp_path, log, session=_NoNetwork()), "gfw_identity",
            base_url="http://gateway.example.invalid/v3/", token=TOKEN, queries=["9076260"],
        )


# --- a misbehaving server -----------------------------------------------------------------------


def test_a_server_that_never_ends_its_pages_is_stopped_at_max_pages(tmp_path, log):
    fake = FakeGfw(TOKEN, events=[EVENT], endless_events=True)
    with serve_gfw(fake) as base, pytest.raises(FetchError, match="after 3"):
        fetch_port_visits(
            _fetcher(tmp_path, log), "gfw_ports", base_url=base, token=TOKEN,
            start_date="2016-01-01", end_date="2017-01-01", page_size=5, max_pages=3, options=LOCAL,
        )
    assert [r.params["offset"] for r in fake.requests] == ["0", "5", "10"]
    assert _landed_files(tmp_path) == []


def test_a_503_between_pages_is_retried_after_its_retry_after_and_paging_goes_on(tmp_path, log):
    fake = FakeGfw(TOKEN, events=EVENTS, fail_once_at_offset=2)
    sleeps: list[float] = []
    with serve_gfw(fake) as base:
        snapshot = fetch_port_visits(
            _fetcher(tmp_path, log, sleeps), "gfw_ports", base_url=base, token=TOKEN,
            start_date="2016-01-01", end_date="2017-01-01", page_size=2, options=LOCAL,
        )
    assert [r.params["offset"] for r in fake.requests] == ["0", "2", "2"]
    assert sleeps == [7.0]
    assert [e["id"] for e in _lines(snapshot.path)] == [e["id"] for e in EVENTS]


def test_a_publisher_still_failing_after_the_retries_is_transient_and_a_refused_token_is_not(tmp_path, log):
    no_retries = FetchOptions(allow_insecure_http=True, retries=0)
    with serve_gfw(FakeGfw(TOKEN, events=EVENTS, fail_once_at_offset=0)) as base:
        with pytest.raises(FetchError) as unavailable:
            fetch_port_visits(
                _fetcher(tmp_path, log), "gfw_ports", base_url=base, token=TOKEN,
                start_date="2016-01-01", end_date="2017-01-01", page_size=2, options=no_retries,
            )
        with pytest.raises(FetchError) as refused:
            fetch_port_visits(
                _fetcher(tmp_path, log), "gfw_ports", base_url=base, token="revoked-token-77e0aa41",
                start_date="2016-01-01", end_date="2017-01-01", page_size=2, options=no_retries,
            )
    assert "503" in str(unavailable.value) and unavailable.value.transient  # the ingest step asks for a retry
    assert "HTTP 401" in str(refused.value) and not refused.value.transient
    assert TOKEN not in str(unavailable.value) and "revoked-token-77e0aa41" not in str(refused.value)


def test_with_reuse_last_good_a_refused_page_gives_back_the_last_snapshot_as_stale(tmp_path, log):
    wrong = "revoked-token-77e0aa41"
    options = FetchOptions(allow_insecure_http=True, on_fetch_error="reuse_last_good")
    fake = FakeGfw(TOKEN, events=EVENTS)
    with serve_gfw(fake) as base:

        def fetch(token: str):
            return fetch_port_visits(
                _fetcher(tmp_path, log), "gfw_ports", base_url=base, token=token,
                start_date="2016-01-01", end_date="2017-01-01", page_size=2, options=options,
            )

        # The last good snapshot is found by the request it answered: same server, same body.
        good = fetch(TOKEN)
        stale = fetch(wrong)
    assert not good.stale and stale.stale and stale.path == good.path and stale.sha256 == good.sha256
    assert "HTTP 401" in stale.stale_reason and wrong not in stale.stale_reason
    assert not any(wrong in message for message in log)
    assert _landed_files(tmp_path) == [Path(good.path)]


# --- parsers on their own -----------------------------------------------------------------------


def _write(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_bad_vessel_lines_are_rejected_with_their_line_numbers(tmp_path):
    good = json.dumps({"query": "9076260", "entry": VESSEL})
    path = _write(
        tmp_path / "vessels.jsonl",
        [
            good,
            '{"query": "1", "entry": ',
            "",
            "[1, 2]",
            json.dumps({"query": "2"}),
            json.dumps({"query": "3", "entry": {"selfReportedInfo": "not a list"}}),
            json.dumps({"query": "4", "entry": {}}),
        ],
    )
    result = parse_in_memory(parse_gfw_vessels_jsonl, path)
    assert [(r.source_row, r.reason.split(":")[0]) for r in result.rejects] == [
        (2, "not JSON"),
        (4, "expected a JSON object, got a list"),
        (5, "line has no 'entry' object"),
        (6, "'selfReportedInfo' is not a list of objects"),
    ]
    assert result.rejects[0].raw == '{"query": "1", "entry": '
    assert result.tables["raw_gfw_vessels"].height == 7
    assert result.stats == {"vessel_entries_without_identity_records": 1}


def test_bad_event_lines_are_rejected_and_other_event_types_are_counted(tmp_path):
    fishing = {k: v for k, v in EVENT.items() if k != "port_visit"}
    bad_lat = copy.deepcopy(_port_visit_only("pv-bad"))
    bad_lat["position"]["lat"] = "north"
    path = _write(
        tmp_path / "events.jsonl",
        [
            json.dumps(_port_visit_only("pv-1")),
            json.dumps(fishing),
            "not json",
            json.dumps(bad_lat),
            json.dumps({**_port_visit_only("pv-x"), "id": None}),
            json.dumps(_without_visit_block("pv-2")),
        ],
    )
    result = parse_in_memory(parse_gfw_port_visits_jsonl, path)
    assert [(r.source_row, r.reason) for r in result.rejects] == [
        (3, "not JSON: Expecting value at column 1"),
        (4, "position.lat is not a number: 'north'"),
        (5, "event has no id"),
    ]
    rows = result.tables["raw_gfw_port_visits"]
    assert rows.select("source_row", "event_id").rows() == [(1, "pv-1"), (6, "pv-2")]
    assert result.stats == {"events_of_other_types_skipped": 1}


def test_a_registry_record_whose_ssvid_matches_no_single_ais_identity_has_no_vessel_id(tmp_path):
    entry = copy.deepcopy(VESSEL)
    entry["registryInfo"][0]["ssvid"] = "999999999"
    twin = dict(entry["selfReportedInfo"][0], id="another-vessel-id")
    entry["selfReportedInfo"].append(twin)  # ssvid 273379740 now has two AIS identities
    entry["registryInfo"][1]["ssvid"] = "273379740"
    path = _write(tmp_path / "vessels.jsonl", [json.dumps({"query": "9076260", "entry": entry})])
    rows = parse_in_memory(parse_gfw_vessels_jsonl, path).tables["raw_gfw_vessels"]
    registry = rows.filter(rows["info_kind"] == "registryInfo")
    assert registry.select("ssvid", "gfw_vessel_id", "ship_types").rows() == [
        ("999999999", None, None),
        ("273379740", None, None),
    ]
