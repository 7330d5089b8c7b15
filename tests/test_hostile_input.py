"""Hostile input: XML bombs and external entities, SQL in vessel names, path traversal in source names and URLs,
huge bodies, and secrets that must never show up in logs, metadata, the warehouse, the manifest or an exception."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest import build_ingest_asset
from assets.resources import TankerwatchResource
from tankerwatch.errors import FetchError, ParseError, SourcesFileError
from tankerwatch.fetch import Fetcher, FetchOptions
from tankerwatch.ingest import fetch_and_parse
from tankerwatch.parsers.sink import parse_in_memory
from tankerwatch.parsers.un_xml import parse_un_consolidated
from tankerwatch.pipeline import build_warehouse
from tankerwatch.settings import ALLOWED_ROOTS_ENV, REPO_ROOT
from tankerwatch.sources import load_sources
from tankerwatch.warehouse import connect, fetch_all
from tests.http_server import Reply, serve_script

DEMO = REPO_ROOT / "demo"
UN_XML = (DEMO / "sanctions" / "un_consolidated_dprk_20260227.xml").read_bytes()
INJECTION = "'); drop table voyages; --"
QUOTED_INJECTION = 'X" ; drop table vessels; --'
SECRET = "tw-secret-9c1e77d2b5f04a"


def write_sources(folder: Path, body: str) -> Path:
    path = folder / "sources.yaml"
    path.write_text("sources:\n" + body, encoding="utf-8")
    return path


# -- XML ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prologue, reference",
    [
        # billion laughs, with the entity used in the document
        ('<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
         '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>', "&d;"),
        # an external DTD, a parameter entity and an external entity: each would make the parser fetch a URL
        ('<!DOCTYPE CONSOLIDATED_LIST SYSTEM "{base}/evil.dtd">', None),
        ('<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY % p SYSTEM "{base}/evil.dtd"> %p;]>', None),
        ('<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY e SYSTEM "{base}/secret.txt">]>', "&e;"),
    ],
    ids=["billion-laughs", "external-dtd", "parameter-entity", "external-entity"],
)
def test_xml_bombs_and_external_entities_are_refused_without_any_request(tmp_path, prologue, reference):
    with serve_script() as server:
        server.script("/evil.dtd", Reply(200, b'<!ENTITY leak "LEAKED">'))
        server.script("/secret.txt", Reply(200, b"LEAKED"))
        body = UN_XML.decode("utf-8").replace(
            "<CONSOLIDATED_LIST", prologue.format(base=server.base_url) + "\n<CONSOLIDATED_LIST", 1
        )
        if reference:
            body = body.replace("KOREA YUJONG SHIPPING CO LTD", reference, 1)
        served = tmp_path / "served"
        served.mkdir()
        (served / "un.xml").write_text(body, encoding="utf-8")
        with pytest.raises(ParseError, match="refused"):
            parse_in_memory(parse_un_consolidated, served / "un.xml")
        # And through the whole ingest path, naming the source.
        sources = write_sources(tmp_path, "  un:\n    kind: un_consolidated_xml\n    url: served/un.xml\n")
        with pytest.raises(ParseError, match="source 'un'.*refused"):
            fetch_and_parse("un_consolidated_xml", load_sources(sources), tmp_path / "landing")
        assert server.seen == []


# -- SQL values are bound, identifiers never come from input -------------------------------------------


def test_sql_in_vessel_names_is_stored_as_text_and_runs_nothing(tmp_path):
    demo = tmp_path / "demo"
    shutil.copytree(DEMO, demo, ignore=shutil.ignore_patterns("truth", "*.py"))
    registry = demo / "registry" / "tankers.csv"
    rows = list(csv.DictReader(registry.open(newline="", encoding="utf-8")))
    rows[0]["name"], rows[0]["former_names"] = INJECTION, QUOTED_INJECTION
    with registry.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    imagery = demo / "sightings" / "imagery_2024.csv"
    lines = imagery.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    first = next(csv.reader([lines[1]]))
    first[header.index("vessel_name")], first[header.index("imo")], first[header.index("mmsi")] = INJECTION, "", ""
    first[header.index("notes")] = "1; DELETE FROM raw_imagery_sightings"
    out = [lines[0], _csv_line(first), *lines[2:]]
    imagery.write_text("\n".join(out) + "\n", encoding="utf-8")

    warehouse = tmp_path / "w.duckdb"
    build_warehouse(warehouse, load_sources(demo / "sources.yaml"), tmp_path / "landing")
    with connect(warehouse) as con:
        tables = {name for name, in fetch_all(con, "select table_name from information_schema.tables")}
        assert {"voyages", "vessels", "raw_imagery_sightings"} <= tables
        names = fetch_all(con, "select name, former_names from raw_registry_vessels where imo = ?", [rows[0]["imo"]])
        assert names == [(INJECTION, QUOTED_INJECTION)]
        assert fetch_all(con, "select count(*) from raw_imagery_sightings where vessel_name = ?", [INJECTION]) == [(1,)]
        assert fetch_all(con, "select count(*) from raw_imagery_sightings")[0][0] == len(lines) - 1
        assert fetch_all(con, "select count(*) from voyages")[0][0] > 0


def _csv_line(cells: list[str]) -> str:
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


# -- where sources may read from, and what they may name ----------------------------------------------


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "..", "x\n", "Upper", "a" * 65, "_hidden", "a b", "ünïcode"],
)
def test_source_names_that_could_name_a_path_are_refused(tmp_path, name):
    document = {"sources": {name: {"kind": "registry_csv", "url": "r.csv"}}}
    (tmp_path / "sources.yaml").write_text(json.dumps(document), encoding="utf-8")  # JSON is YAML
    with pytest.raises(SourcesFileError, match="names are lower-case"):
        load_sources(tmp_path / "sources.yaml")


@pytest.fixture
def outside(tmp_path):
    """A private file beside, not inside, the folder of the sources file."""
    secret = tmp_path / "private" / "id_rsa"
    secret.parent.mkdir()
    header = (DEMO / "registry" / "tankers.csv").read_text(encoding="utf-8").splitlines()[0]
    row = ",".join(["9999999", "PRIVATE KEY"] + [""] * (len(header.split(",")) - 2))
    secret.write_text(f"{header}\n{row}\n")
    config = tmp_path / "config"
    (config / "drops").mkdir(parents=True)
    (config / "drops" / "2024-01-01.csv").write_text("imo,name\n")
    return config, secret


@pytest.mark.parametrize(
    "url",
    [
        "../private/id_rsa",
        "drops/../../private/id_rsa",
        "{secret}",
        "file://{secret}",
        "file://localhost{secret}",
        "../private/*",
        "drops/escape.csv",  # a link inside an allowed folder that points outside it
        "drops/",  # the same link, as a member of a drop folder
        "drops/*.csv",
        "/etc/passwd",
        "file:///etc/passwd",
        "~/.ssh/id_rsa",
    ],
)
def test_local_paths_outside_the_allowed_folders_are_refused(outside, url):
    config, secret = outside
    (config / "drops" / "escape.csv").symlink_to(secret)
    sources = write_sources(config, f"  registry:\n    kind: registry_csv\n    url: '{url.format(secret=secret)}'\n"
                                    f"    on_fetch_error: reuse_last_good\n")
    with pytest.raises(FetchError, match="refusing to read .* outside the folders sources may read") as error:
        fetch_and_parse("registry_csv", load_sources(sources), config.parent / "landing")
    assert "PRIVATE KEY" not in str(error.value)
    assert not list((config.parent / "landing").rglob("*.csv"))


def test_an_operator_can_allow_another_folder_but_a_sources_file_cannot(outside, monkeypatch):
    config, secret = outside
    sources = write_sources(config, f"  registry:\n    kind: registry_csv\n    url: file://{secret}\n")
    with pytest.raises(SourcesFileError, match="unknown settings"):
        load_sources(write_sources(config.parent, f"  r:\n    kind: registry_csv\n    url: a.csv\n"
                                                  f"    allowed_roots: ['{secret.parent}']\n"))
    monkeypatch.setenv(ALLOWED_ROOTS_ENV, str(secret.parent))
    parsed = fetch_and_parse("registry_csv", load_sources(sources), config.parent / "landing")
    assert parsed.table("raw_registry_vessels")["name"].to_list() == ["PRIVATE KEY"]
    monkeypatch.setenv(ALLOWED_ROOTS_ENV, "relative/path")
    with pytest.raises(SourcesFileError, match="absolute paths"):
        load_sources(sources)


def test_a_huge_local_file_is_refused_before_it_is_copied(tmp_path):
    (tmp_path / "big.nmea").write_bytes(b"!" + b"x" * 5_000_000)
    sources = write_sources(tmp_path, "  ais:\n    kind: ais_nmea\n    url: big.nmea\n    max_bytes: 1000000\n")
    with pytest.raises(FetchError, match="more than the 1,000,000 byte limit"):
        fetch_and_parse("ais_nmea", load_sources(sources), tmp_path / "landing")
    assert not [p for p in (tmp_path / "landing").rglob("*") if p.is_file()]


# -- secrets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "http://reader:{secret}@{host}{path}?api_key={secret}&x=1",
        "http://{secret}@{host}{path}",
        "http://{host}{path}?code={secret}&x=1",
        "http://{host}{path}?X-Amz-Date=20260227&X-Amz-Signature={secret}",
        "http://{host}{path}?AccessToken={secret}",
    ],
    ids=["user-password-and-api-key", "token-as-user", "code", "x-amz-signature", "access-token"],
)
def test_a_token_in_a_url_reaches_no_log_metadata_warehouse_manifest_state_or_exception(tmp_path, caplog, template):
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line, query string included, at DEBUG
    served = tmp_path / "served"
    served.mkdir()
    url_path = "/un.xml"
    with serve_script() as server:
        server.script(url_path, Reply(200, UN_XML), Reply(404, f"bad key {SECRET}".encode()))
        host = f"127.0.0.1:{server.base_url.rsplit(':', 1)[1]}"
        url = template.format(secret=SECRET, host=host, path=url_path)
        write_sources(tmp_path, f"  un:\n    kind: un_consolidated_xml\n    url: '{url}'\n"
                                "    on_fetch_error: reuse_last_good\n    retries: 0\n")
        resource = TankerwatchResource(sources_file=str(tmp_path / "sources.yaml"), data_dir=str(tmp_path / "data"))
        ingest = build_ingest_asset("un_consolidated_xml")
        results = [dg.materialize([ingest], resources={"tankerwatch": resource}) for _ in range(2)]  # 2nd: a 404
        with pytest.raises(FetchError) as error:
            Fetcher(tmp_path / "other").fetch("un", "url", url, tmp_path, FetchOptions(retries=0, expect="xml"))
    assert all(result.success for result in results)
    seen = [str(error.value), repr(error.value), caplog.text]
    for result in results:
        seen += [repr(event) for event in result.all_events]
        seen += [repr(m.metadata) for m in result.asset_materializations_for_node("ingest_un_consolidated_xml")]
        seen += [repr(c.metadata) for c in result.get_asset_check_evaluations()]
    with connect(tmp_path / "data" / "warehouse.duckdb") as con:
        stored = fetch_all(con, "select url from raw_source_snapshots")
        seen.append(repr(fetch_all(con, "select * from raw_source_snapshots")))
        from tankerwatch.publish_set import source_snapshots

        seen.append(json.dumps(source_snapshots(con)))  # what the manifest lists
    seen += [p.read_text(errors="replace") for p in (tmp_path / "data" / "landing").rglob("_state.json")]
    assert "404" in str(error.value) and "***" in str(error.value) and host in str(error.value)
    # The URL is still recognisable where it is stored: host, path and the harmless parameters stay.
    assert stored and all(host in row[0] and url_path in row[0] and "***" in row[0] for row in stored)
    assert host in caplog.text
    leaks = [text[max(0, text.find(SECRET) - 80): text.find(SECRET) + 40] for text in seen if SECRET in text]
    assert leaks == []
