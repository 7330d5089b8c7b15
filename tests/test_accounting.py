"""Every input record accounted for: parsers count what they read, a cut or undecodable file is an error naming
the source, and a publish whose records do not add up (read = used + rejected + skipped + merged) is stopped."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest

from orchestration.cli import main
from tankerwatch import ingest as ingest_module
from tankerwatch.errors import FetchError, ParseError
from tankerwatch.fetch import Snapshot
from tankerwatch.gates import validate_frame
from tankerwatch.ingest import IngestError, fetch_and_parse, ingest_kind, load_parsed
from tankerwatch.models import build_all
from tankerwatch.parsers.ais_dma import parse_ais_dma_csv
from tankerwatch.parsers.ais_nmea import parse_ais_nmea
from tankerwatch.parsers.gfw import parse_gfw_port_visits_jsonl, parse_gfw_vessels_jsonl
from tankerwatch.parsers.imagery import parse_imagery_csv
from tankerwatch.parsers.opensanctions import parse_opensanctions_ftm
from tankerwatch.parsers.records import count_ofac_records
from tankerwatch.parsers.registry import parse_registry_csv
from tankerwatch.parsers.sink import parse_in_memory
from tankerwatch.parsers.uk_sanctions import parse_uk_sanctions_csv
from tankerwatch.parsers.un_xml import parse_un_consolidated
from tankerwatch.pipeline import load_references
from tankerwatch.publish import resolve_current
from tankerwatch.publish_set import accounting_frame, source_accounting, unaccounted_snapshots
from tankerwatch.settings import EXPECTATIONS_DIR, REPO_ROOT
from tankerwatch.sources import load_sources
from tankerwatch.warehouse import connect, fetch_all
from tests.http_server import serve_folder

FIXTURES = REPO_ROOT / "tests" / "fixtures"
DEMO = REPO_ROOT / "demo"


# Independent counts, made here from the files with other tools than the parsers use.
def csv_data_records(path: Path, preamble: int = 0) -> int:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        records = [r for r in csv.reader(handle) if r and any(cell.strip() for cell in r)]
    return len(records) - 1 - preamble


def nonblank_lines(path: Path, comment: bytes | None = None) -> int:
    lines = [line.strip() for line in path.read_bytes().splitlines()]
    return sum(1 for line in lines if line and not (comment and line.startswith(comment)))


def un_records(path: Path) -> int:
    root = ET.parse(path).getroot()
    return sum(len(section) for section in root)


def gfw_vessels_jsonl(tmp_path: Path) -> Path:
    item = json.loads((FIXTURES / "gfw_api" / "gfwapiclient_fixture_vessel_item.json").read_text())
    lines = [
        {"query": "9076260", "entry": item},
        {"query": "1234567", "entry": {"selfReportedInfo": [], "registryInfo": []}},
        {"query": "7654321", "entry": "not an object"},
    ]
    path = tmp_path / "vessels.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def gfw_events_jsonl(tmp_path: Path) -> Path:
    event = json.loads((FIXTURES / "gfw_api" / "gfwapiclient_fixture_event_item.json").read_text())
    other = {key: value for key, value in event.items() if key != "port_visit"} | {"type": "fishing"}
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(event) + "\n\n" + json.dumps(other) + "\n" + "{broken\n")
    return path


CASES = [
    ("registry", parse_registry_csv, DEMO / "registry" / "tankers.csv", csv_data_records),
    ("imagery", parse_imagery_csv, DEMO / "sightings" / "imagery_2024.csv", csv_data_records),
    ("dma", parse_ais_dma_csv, FIXTURES / "ais" / "aisdk-2023-03-18_head10.csv", csv_data_records),
    ("uk", parse_uk_sanctions_csv, FIXTURES / "uk" / "uk_sanctions_list_handmade.csv",
     lambda p: csv_data_records(p, preamble=1)),
    *[
        (f"nmea-{path.stem}", parse_ais_nmea, path, lambda p: nonblank_lines(p, comment=b"#"))
        for path in sorted((FIXTURES / "ais").glob("*.nmea")) + [DEMO / "sightings" / "ais_2024.nmea"]
    ],
    *[
        (f"ftm-{path.stem}", parse_opensanctions_ftm, path, nonblank_lines)
        for path in (FIXTURES / "opensanctions" / "entities_ftm_sample_eu_fsf_2024.json",
                     FIXTURES / "opensanctions" / "entities_delta_sample_2024.json")
    ],
    ("un", parse_un_consolidated, FIXTURES / "un" / "consolidated_dprk_excerpt_20260227.xml", un_records),
]


def accounted(result) -> int:
    """Records the rows, rejects, skips and merges of one parse stand for, each source_row once."""
    rows = set()
    for frame in result.tables.values():
        rows |= set(frame["source_row"].to_list())
    rows |= {r.source_row for r in result.rejects}
    return len(rows) + sum(result.skipped.values()) + result.records_merged


@pytest.mark.parametrize("name,parser,path,independent", CASES, ids=[c[0] for c in CASES])
def test_each_parser_counts_the_records_of_real_files_and_they_add_up(name, parser, path, independent):
    result = parse_in_memory(parser, path)
    assert result.records_read == independent(path) > 0
    assert accounted(result) == result.records_read


def test_records_skipped_on_purpose_and_merged_sentences_are_counted():
    nmea = parse_in_memory(parse_ais_nmea, FIXTURES / "ais" / "gfw_ais-tools_mixed_types.nmea")
    # 5 messages of each of 20 types: the types tankerwatch does not use are skipped, by type
    assert sum(v for k, v in nmea.skipped.items() if k.startswith("ignored_type:")) > 0
    multi = parse_in_memory(parse_ais_nmea, FIXTURES / "ais" / "gfw_ais-tools_multi-part.nmea")
    assert multi.records_merged > 0
    rows = set(multi.tables["raw_ais_static"]["source_row"].to_list())
    assert multi.records_read == len(rows | {r.source_row for r in multi.rejects}) + multi.records_merged + sum(
        multi.skipped.values()
    )
    uk = parse_in_memory(parse_uk_sanctions_csv, FIXTURES / "uk" / "uk_sanctions_list_handmade.csv")
    assert uk.skipped and all(k.startswith("designation_type:") for k in uk.skipped)


def test_gfw_lines_are_counted(tmp_path):
    vessels = parse_in_memory(parse_gfw_vessels_jsonl, gfw_vessels_jsonl(tmp_path))
    assert vessels.records_read == 3
    assert vessels.skipped == {"vessel_entries_without_identity_records": 1}
    assert [r.source_row for r in vessels.rejects] == [3]
    assert set(vessels.tables["raw_gfw_vessels"]["source_row"]) == {1}
    assert accounted(vessels) == 3
    events = parse_in_memory(parse_gfw_port_visits_jsonl, gfw_events_jsonl(tmp_path))
    assert events.records_read == 3  # the blank line is not a record
    assert events.skipped == {"events_of_other_types_skipped": 1}
    assert [r.source_row for r in events.rejects] == [4]
    assert accounted(events) == 3


def test_ofac_records_are_counted_from_the_file():
    from tankerwatch.parsers.ofac import parse_alt_csv, parse_sdn_comments_csv, parse_sdn_csv

    for parser, name in ((parse_sdn_csv, "sdn_dprk_excerpt_20240503.csv"), (parse_alt_csv, "alt_dprk_excerpt_2025.csv"),
                         (parse_sdn_comments_csv, "sdn_comments_excerpt_2025.csv")):
        path = FIXTURES / "ofac" / name
        lines = [line for line in path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
                 if line.strip()]
        assert lines[-1].strip() == b"\x1a"  # OFAC's end-of-file byte: not a record
        assert count_ofac_records(path) == len(lines) - 1 == accounted(parse_in_memory(parser, path))


# --- a cut file is an error naming the source and the line, never fewer rows --------------------------------

def cut_inside_line(data: bytes, line_index: int, keep: int) -> bytes:
    """The file up to ``keep`` bytes into its line ``line_index`` (0-based), with no line end after it."""
    lines = data.splitlines(keepends=True)
    return b"".join(lines[:line_index]) + lines[line_index][:keep]


TEXT_CASES = [
    ("registry_csv", "registry.csv", DEMO / "registry" / "tankers.csv", 2),
    ("imagery_sightings_csv", "imagery.csv", DEMO / "sightings" / "imagery_2024.csv", 2),
    ("ais_dma_csv", "dma.csv", FIXTURES / "ais" / "aisdk-2023-03-18_head10.csv", 2),
    ("uk_sanctions_csv", "uk.csv", FIXTURES / "uk" / "uk_sanctions_list_handmade.csv", 2),
    ("ais_nmea", "ais.nmea", FIXTURES / "ais" / "gfw_ais-tools_multi-part.nmea", 5),
    ("ais_nmea", "ais.nmea", DEMO / "sightings" / "ais_2024.nmea", 5),
    ("opensanctions_ftm", "ftm.json", FIXTURES / "opensanctions" / "entities_ftm_sample_eu_fsf_2024.json", 5),
]


def source_file(tmp_path: Path, kind: str, file_name: str, data: bytes, name: str = "feed") -> list:
    folder = tmp_path / "in"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_name).write_bytes(data)
    (folder / "sources.yaml").write_text(f"sources:\n  {name}:\n    kind: {kind}\n    url: {file_name}\n")
    return load_sources(folder / "sources.yaml")


@pytest.mark.parametrize("kind,file_name,path,keep", TEXT_CASES, ids=[f"{c[0]}-{c[2].stem}" for c in TEXT_CASES])
def test_a_file_cut_inside_its_last_line_is_an_error_naming_the_source(tmp_path, kind, file_name, path, keep):
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    # cut inside lines near the start, the middle and the end
    for index in sorted({2, len(lines) // 2, len(lines) - 1}):
        if not lines[index].strip() or lines[index].startswith(b"#"):
            continue
        cut = cut_inside_line(data, index, keep)
        with pytest.raises(ParseError) as caught:
            fetch_and_parse(kind, source_file(tmp_path / str(index), kind, file_name, cut), tmp_path / f"landing{index}")
        message = str(caught.value)
        assert message.startswith("source 'feed' (url,"), message
        assert f"({index + 1})" in message and "truncated" in message, message
    # cut just after a line end: a shorter but whole file parses, and its records add up
    whole = b"".join(lines[: len(lines) // 2])
    parsed = fetch_and_parse(kind, source_file(tmp_path / "whole", kind, file_name, whole), tmp_path / "landing-whole")
    sink = parsed.parsed[0].sink
    assert parsed.parsed[0].records_read == sink.records_read > 0


def test_a_csv_cut_inside_a_quoted_field_is_an_error(tmp_path):
    data = b"imo,name,mmsi\n9000001,\"ALPHA, THE FIRST\",273000001\n9000002,\"BRAVO\nline two"
    sources = source_file(tmp_path, "registry_csv", "registry.csv",
                          (DEMO / "registry" / "tankers.csv").read_bytes().splitlines(keepends=True)[0] + data.split(b"\n", 1)[1])
    with pytest.raises(ParseError, match=r"source 'feed'.*ends inside a quoted field of the record starting at line 3"):
        fetch_and_parse("registry_csv", sources, tmp_path / "landing")


def test_a_csv_whose_last_line_has_every_field_but_no_line_end_is_whole(tmp_path):
    data = (DEMO / "registry" / "tankers.csv").read_bytes().rstrip(b"\r\n")
    parsed = fetch_and_parse("registry_csv", source_file(tmp_path, "registry_csv", "r.csv", data), tmp_path / "landing")
    assert parsed.parsed[0].records_read == csv_data_records(DEMO / "registry" / "tankers.csv")
    assert parsed.table("raw_registry_vessels").height == parsed.parsed[0].records_read


def test_an_xml_list_cut_anywhere_is_an_error_naming_the_source(tmp_path):
    data = (FIXTURES / "un" / "consolidated_dprk_excerpt_20260227.xml").read_bytes()
    for fraction in (0.1, 0.5, 0.9, 0.999):
        cut = data[: int(len(data) * fraction)]
        with pytest.raises(ParseError, match=r"^source 'feed' \(url, un.xml\): .*not well-formed XML"):
            fetch_and_parse("un_consolidated_xml", source_file(tmp_path / str(fraction), "un_consolidated_xml", "un.xml", cut),
                            tmp_path / f"landing{fraction}")


# --- undecodable text ------------------------------------------------------------------------------------------

def test_invalid_utf8_is_a_parse_error_naming_the_source_and_the_line(tmp_path):
    lines = (DEMO / "registry" / "tankers.csv").read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b",", b",\xff", 1)
    with pytest.raises(ParseError, match=r"^source 'feed' \(url, r.csv\): .*line 4 is not valid UTF-8"):
        fetch_and_parse("registry_csv", source_file(tmp_path / "a", "registry_csv", "r.csv", b"".join(lines)), tmp_path / "l1")
    ftm = (FIXTURES / "opensanctions" / "entities_ftm_sample_eu_fsf_2024.json").read_bytes().splitlines(keepends=True)
    ftm[2] = ftm[2].replace(b'"', b'"\xc3\x28', 1)
    with pytest.raises(ParseError, match=r"^source 'feed' \(url, f.json\): .*line 3 is not valid UTF-8"):
        fetch_and_parse("opensanctions_ftm", source_file(tmp_path / "b", "opensanctions_ftm", "f.json", b"".join(ftm)),
                        tmp_path / "l2")


def ftm_vessel(entity_id: str, name: str) -> str:
    return '{"id": "%s", "schema": "Vessel", "properties": {"name": ["%s"]}}' % (entity_id, name)


def parse_landed(tmp_path: Path, kind: str, file_name: str, data: bytes, name: str = "feed"):
    """Parse bytes as if ``name`` had landed them (for the API kinds, which land pages the ingest fetched)."""
    path = tmp_path / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    snapshot = Snapshot(name, "url", file_name, hashlib.sha256(data).hexdigest(), len(data), "2024-05-10T00:00:00+00:00",
                        str(path))
    return ingest_module.parse_kind(kind, [snapshot], None)


GFW_LINE = '{"query": "1", "entry": {"selfReportedInfo": [{"id": "a", "ssvid": "1", "shipname": "%s"}]}}\n'


@pytest.mark.parametrize("kind,file_name,make,line", [
    ("opensanctions_ftm", "f.json", lambda name: ftm_vessel("v1", "GOOD") + "\n" + ftm_vessel("v2", name) + "\n", 2),
    ("gfw_vessels_api", "v.jsonl", lambda name: GFW_LINE % "GOOD" + GFW_LINE % name, 2),
])
def test_a_lone_surrogate_in_json_is_a_parse_error_naming_the_source_and_the_line(tmp_path, kind, file_name, make, line):
    with pytest.raises(ParseError, match=rf"^source 'feed' \(url, {file_name}\): .*line {line} holds a lone UTF-16 surrogate"):
        parse_landed(tmp_path / "bad", kind, file_name, make("BAD \\ud800 NAME").encode())
    # an escaped pair is a real character and parses
    good = parse_landed(tmp_path / "good", kind, file_name, make("OK \\ud83d\\ude00").encode())
    values = [v for t in ingest_module.KIND_TABLES[kind] for v in good.table(t).to_dicts()]
    assert len(values) == 2 and good.parsed[0].records_read == 2
    assert "OK \U0001F600" in json.dumps(values, ensure_ascii=False)


# --- every ingest error names the source ----------------------------------------------------------------------

def test_a_refused_xml_dtd_names_the_source(tmp_path):
    bomb = (b'<?xml version="1.0"?>\n<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY a "aaaa">]>\n'
            b"<CONSOLIDATED_LIST><INDIVIDUALS>&a;</INDIVIDUALS></CONSOLIDATED_LIST>\n")
    with pytest.raises(ParseError, match=r"^source 'un_list' \(url, un.xml\): .*refused: the XML declares a DTD"):
        fetch_and_parse("un_consolidated_xml", source_file(tmp_path, "un_consolidated_xml", "un.xml", bomb, name="un_list"),
                        tmp_path / "landing")


class _FullDisk:
    """A file object whose writes fail as on a full disk."""

    def __init__(self, real):
        self._real = real

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._real.close()


def test_a_full_disk_while_landing_names_the_source(tmp_path, monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _FullDisk(real_fdopen(fd, *a, **k)))
    sources = source_file(tmp_path, "registry_csv", "r.csv", (DEMO / "registry" / "tankers.csv").read_bytes(), name="reg")
    with pytest.raises(FetchError, match=r"source 'reg'.*No space left on device"):
        fetch_and_parse("registry_csv", sources, tmp_path / "landing")
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(DEMO / "registry" / "tankers.csv", served / "r.csv")
    with serve_folder(served) as base:
        (tmp_path / "http.yaml").write_text(f"sources:\n  reg_http:\n    kind: registry_csv\n    url: {base}/r.csv\n")
        with pytest.raises(FetchError, match=r"source 'reg_http'.*No space left on device") as caught:
            fetch_and_parse("registry_csv", load_sources(tmp_path / "http.yaml"), tmp_path / "landing2")
    assert caught.value.transient is False


def test_a_full_disk_while_spilling_parsed_rows_names_the_source(tmp_path, monkeypatch):
    sources = source_file(tmp_path, "registry_csv", "r.csv", (DEMO / "registry" / "tankers.csv").read_bytes(), name="reg")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[0]))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(IngestError, match=r"^source 'reg' \(url, .*\): cannot parse .*No space left on device"):
        ingest_kind(lambda: connect(tmp_path / "w.duckdb"), "registry_csv", sources, tmp_path / "landing", tmp_path / "work")
    with connect(tmp_path / "w.duckdb") as con:
        assert fetch_all(con, "select count(*) from raw_source_snapshots")[0][0] == 0


# --- the accounting in the warehouse and its gate ------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    """The demo sources ingested and every model built, with a bad registry row and a cut-off AIS sentence."""
    root = tmp_path_factory.mktemp("accounting")
    folder = root / "demo"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("truth", "*.py"))
    registry = folder / "registry" / "tankers.csv"
    with registry.open("ab") as handle:
        handle.write(b"9999999,TOO FEW FIELDS\n")
    ais = folder / "sightings" / "ais_2024.nmea"
    with ais.open("ab") as handle:
        handle.write(b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*FF\n")  # bad checksum: a parse reject
    sources = load_sources(folder / "sources.yaml")
    warehouse = root / "w.duckdb"
    with connect(warehouse) as con:
        for kind in ingest_module.KIND_TABLES:
            load_parsed(con, fetch_and_parse(kind, sources, root / "landing"))
        load_references(con)
        build_all(con)
    return warehouse, folder


def test_every_demo_snapshot_adds_up_with_real_counts(demo_warehouse):
    warehouse, folder = demo_warehouse
    with connect(warehouse) as con:
        accounting = {entry["source"] + "/" + "+".join(entry["roles"]): entry for entry in source_accounting(con)}
        staging_rejects = fetch_all(
            con, "select count(distinct source_row) from rejects where source_name = 'tanker_registry' and stage = 'staging'"
        )[0][0]
    assert set(accounting) == {"ofac_sdn/alt_url", "ofac_sdn/comments_url", "ofac_sdn/url", "un_consolidated/url",
                               "tanker_registry/url", "imagery_log/url", "ais_feed/url"}
    assert all(entry["unaccounted"] == 0 for entry in accounting.values()), accounting
    registry = accounting["tanker_registry/url"]
    assert registry["read"] == csv_data_records(folder / "registry" / "tankers.csv")
    assert registry["rejected_at_parse"] == 1  # the short row
    assert registry["rejected_later"] == staging_rejects
    assert registry["used"] == registry["read"] - 1 - staging_rejects
    ais = accounting["ais_feed/url"]
    assert ais["read"] == nonblank_lines(folder / "sightings" / "ais_2024.nmea", comment=b"#")
    assert ais["rejected_at_parse"] >= 1
    assert ais["used"] + ais["rejected"] + ais["skipped"] + ais["merged"] == ais["read"]
    un = accounting["un_consolidated/url"]
    assert un["read"] == un_records(folder / "sanctions" / "un_consolidated_dprk_20260227.xml") == un["used"] + un["rejected"]
    sdn = accounting["ofac_sdn/url"]
    assert sdn["read"] == count_ofac_records(folder / "sanctions" / "ofac_sdn_dprk_20240503.csv")


def test_a_record_lost_after_the_parse_fails_the_accounting_gate_naming_the_source(demo_warehouse, tmp_path):
    warehouse, _ = demo_warehouse
    copy = tmp_path / "w.duckdb"
    shutil.copy(warehouse, copy)
    with connect(copy) as con:
        con.execute("delete from raw_imagery_sightings where source_row = 2")
        entries = source_accounting(con)
    (tmp_path / "manifest.json").write_text(json.dumps({"accounting": entries}))
    frame = accounting_frame(tmp_path)
    result = validate_frame(EXPECTATIONS_DIR / "publish_accounting.json", frame)
    assert not result.success
    lost = unaccounted_snapshots(frame)
    assert len(lost) == 1 and lost[0].startswith("source 'imagery_log' snapshot ")
    assert "records read, but" in lost[0]
    imagery = next(e for e in entries if e["source"] == "imagery_log")
    assert imagery["unaccounted"] == 1


def test_a_snapshot_loaded_without_its_count_is_reloaded_or_blocks(demo_warehouse, tmp_path):
    warehouse, folder = demo_warehouse
    copy = tmp_path / "w.duckdb"
    shutil.copy(warehouse, copy)
    with connect(copy) as con:
        con.execute("delete from raw_snapshot_records where source_name = 'tanker_registry'")
        entries = source_accounting(con)
    (tmp_path / "manifest.json").write_text(json.dumps({"accounting": entries}))
    frame = accounting_frame(tmp_path)
    assert not validate_frame(EXPECTATIONS_DIR / "publish_accounting.json", frame).success
    assert unaccounted_snapshots(frame)[0].endswith("loaded without a record count (load it again)")
    # the next ingest loads that snapshot again, since its count is missing, and then it adds up
    ingest_kind(lambda: connect(copy), "registry_csv", load_sources(folder / "sources.yaml"), tmp_path / "landing",
                tmp_path / "work")
    with connect(copy) as con:
        registry = next(e for e in source_accounting(con) if e["source"] == "tanker_registry")
    assert registry["read"] == csv_data_records(folder / "registry" / "tankers.csv")
    assert registry["unaccounted"] == 0


# --- the whole run ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_published_manifest_accounts_for_every_record(demo_run):
    code, data_dir = demo_run
    assert code == 0
    manifest = json.loads((resolve_current(data_dir / "published") / "manifest.json").read_text())
    accounting = {(e["source"], tuple(e["roles"])): e for e in manifest["accounting"]}
    assert len(accounting) == 7
    assert all(e["unaccounted"] == 0 for e in accounting.values())
    registry = accounting[("tanker_registry", ("url",))]
    assert registry["read"] == csv_data_records(DEMO / "registry" / "tankers.csv") == registry["used"] + registry["rejected"]
    ais = accounting[("ais_feed", ("url",))]
    assert ais["read"] == nonblank_lines(DEMO / "sightings" / "ais_2024.nmea", comment=b"#")
    assert sum(e["read"] for e in accounting.values()) > 0
    assert any(c["suite"] == "publish_accounting" and c["success"] for c in manifest["checks"])


@pytest.mark.slow
def test_a_parser_that_drops_a_record_silently_stops_the_publish(tmp_path, monkeypatch, capsys):
    real = ingest_module.KIND_PARSERS["imagery_sightings_csv"]["url"]

    def losing_parser(path, sink):
        # reads every record but never writes the one on line 3: no row, no reject
        buffer = sink.buffer("raw_imagery_sightings")
        append = buffer.append
        buffer.append = lambda **values: None if values.get("source_row") == 3 else append(**values)
        real(path, sink)

    monkeypatch.setitem(ingest_module.KIND_PARSERS["imagery_sightings_csv"], "url", losing_parser)
    data_dir = tmp_path / "data"
    assert main(["run", "--data-dir", str(data_dir)]) != 0
    assert resolve_current(data_dir / "published") is None
    err = capsys.readouterr().err
    assert "GATE FAILED: publish_candidate / records_accounted" in err
    assert "records not accounted for: source 'imagery_log' snapshot" in err
    assert "records read, but" in err


def test_an_ofac_file_cut_inside_its_last_record_is_an_error_naming_the_source(tmp_path):
    sdn = FIXTURES / "ofac" / "sdn_dprk_excerpt_20240503.csv"
    lines = sdn.read_bytes().splitlines(keepends=True)
    for index in (5, len(lines) // 2, len(lines) - 2):
        cut = b"".join(lines[:index]) + lines[index][:40]
        folder = tmp_path / str(index)
        folder.mkdir()
        for name in ("sdn.csv", "alt.csv", "comments.csv"):
            source = {"sdn.csv": sdn, "alt.csv": FIXTURES / "ofac" / "alt_dprk_excerpt_2025.csv",
                      "comments.csv": FIXTURES / "ofac" / "sdn_comments_excerpt_2025.csv"}[name]
            (folder / name).write_bytes(cut if name == "sdn.csv" else source.read_bytes())
        (folder / "sources.yaml").write_text(
            "sources:\n  ofac:\n    kind: ofac_sdn_csv\n    url: sdn.csv\n    alt_url: alt.csv\n    comments_url: comments.csv\n"
        )
        with pytest.raises(ParseError, match=rf"^source 'ofac' \(url, sdn.csv\): .*last line \({index + 1}\).*truncated"):
            fetch_and_parse("ofac_sdn_csv", load_sources(folder / "sources.yaml"), tmp_path / f"landing{index}")
