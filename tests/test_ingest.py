"""Ingest as the nightly run does it: unchanged sources are not reloaded, a down source can reuse its last good snapshot."""

from __future__ import annotations

import shutil

import dagster as dg

from assets.ingest import FRESH_SNAPSHOTS_CHECK, build_ingest_asset
from assets.resources import TankerwatchResource
from orchestration.cli import root_cause
from tankerwatch.ingest import ingest_kind
from tankerwatch.settings import REPO_ROOT
from tankerwatch.sources import load_sources
from tankerwatch.warehouse import connect, fetch_all
from tests.http_server import serve_folder

SANCTIONS = REPO_ROOT / "demo" / "sanctions"


def sources_file(tmp_path, base: str, **settings) -> object:
    extra = "".join(f"    {key}: {value}\n" for key, value in settings.items())
    (tmp_path / "sources.yaml").write_text(
        f"sources:\n  un:\n    kind: un_consolidated_xml\n    url: {base}/un_consolidated_dprk_20260227.xml\n{extra}"
    )
    return tmp_path / "sources.yaml"


def run_ingest(tmp_path, sources):
    return ingest_kind(
        lambda: connect(tmp_path / "w.duckdb"), "un_consolidated_xml", load_sources(sources),
        tmp_path / "landing", tmp_path / "work",
    )


def test_an_unchanged_source_is_neither_downloaded_nor_reloaded(tmp_path):
    with serve_folder(SANCTIONS) as base:
        first = run_ingest(tmp_path, sources_file(tmp_path, base))
        with connect(tmp_path / "w.duckdb") as con:
            con.execute("update raw_un_designations set name = 'MARKER' where source_row = 1")
        second = run_ingest(tmp_path, sources_file(tmp_path, base))
    assert (first.unchanged, second.unchanged) == (False, True)
    assert first.row_counts == second.row_counts == {"raw_un_designations": 78}
    with connect(tmp_path / "w.duckdb") as con:
        # not reloaded: the marker written between the runs is still there
        assert fetch_all(con, "select name from raw_un_designations where source_row = 1") == [("MARKER",)]
    assert not list((tmp_path / "work").iterdir())  # parquet parts of the first load were cleaned up


def test_a_changed_source_is_reloaded(tmp_path):
    served = tmp_path / "served"
    shutil.copytree(SANCTIONS, served)
    with serve_folder(served) as base:
        run_ingest(tmp_path, sources_file(tmp_path, base))
        xml = served / "un_consolidated_dprk_20260227.xml"
        xml.write_text(xml.read_text().replace("KOREA YUJONG SHIPPING CO LTD", "KOREA YUJONG SHIPPING CO LTD (RENAMED)"))
        report = run_ingest(tmp_path, sources_file(tmp_path, base))
    assert report.unchanged is False
    with connect(tmp_path / "w.duckdb") as con:
        names = {n for n, in fetch_all(con, "select name from raw_un_designations")}
    assert "KOREA YUJONG SHIPPING CO LTD (RENAMED)" in names


def test_a_down_source_reuses_its_last_good_snapshot_and_the_check_warns(tmp_path):
    served = tmp_path / "served"
    shutil.copytree(SANCTIONS, served)
    resource = TankerwatchResource(sources_file=str(tmp_path / "sources.yaml"), data_dir=str(tmp_path / "data"))
    ingest = build_ingest_asset("un_consolidated_xml")
    with serve_folder(served) as base:
        sources_file(tmp_path, base, on_fetch_error="reuse_last_good", retries=0)
        assert dg.materialize([ingest], resources={"tankerwatch": resource}).success
        (served / "un_consolidated_dprk_20260227.xml").unlink()  # the publisher now answers 404
        result = dg.materialize([ingest], resources={"tankerwatch": resource})
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == FRESH_SNAPSHOTS_CHECK and check.passed is False
    assert check.severity == dg.AssetCheckSeverity.WARN
    [stale] = check.metadata["stale"].value
    assert stale["source"] == "un" and "404" in stale["reason"]
    [materialization] = result.asset_materializations_for_node("ingest_un_consolidated_xml")
    assert materialization.metadata["dagster/row_count"].value == 78


def test_a_down_source_fails_the_ingest_by_default(tmp_path):
    resource = TankerwatchResource(sources_file=str(tmp_path / "sources.yaml"), data_dir=str(tmp_path / "data"))
    ingest = build_ingest_asset("un_consolidated_xml")
    with serve_folder(tmp_path) as base:
        sources_file(tmp_path, base, retries=0)
        result = dg.materialize([ingest], resources={"tankerwatch": resource}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = root_cause(failure.event_specific_data.error)
    assert message.startswith("tankerwatch.errors.FetchError: source 'un' (url): GET http://127.0.0.1")
    assert "answered HTTP 404" in message


def test_a_renamed_column_fails_the_ingest_naming_the_source_and_the_column(tmp_path):
    import pytest

    from tankerwatch.errors import ParseError
    from tankerwatch.ingest import fetch_and_parse

    (tmp_path / "registry.csv").write_text(
        "imo,vessel,former_names,mmsi,call_sign,flag,vessel_type,dwt,gross_tonnage,cargo_capacity_m3,"
        "summer_draught_m,build_year,owner,updated_at\n8604917,YU JONG 2,,,,KP,,,,,,,,\n"
    )
    (tmp_path / "sources.yaml").write_text("sources:\n  registry:\n    kind: registry_csv\n    url: registry.csv\n")
    with pytest.raises(ParseError, match=r"^source 'registry' \(url, registry.csv\): .*name"):
        fetch_and_parse("registry_csv", load_sources(tmp_path / "sources.yaml"), tmp_path / "landing")


def test_a_body_that_only_fails_to_parse_never_becomes_the_copy_a_down_source_falls_back_to(tmp_path):
    """Plausible on the wire (XML, the right size, no HTML), garbage to the parser: the run fails, and the
    next night, with the publisher down, the last copy that parsed is used, not the garbage."""
    import pytest

    from tankerwatch.errors import ParseError

    served = tmp_path / "served"
    shutil.copytree(SANCTIONS, served)
    xml = served / "un_consolidated_dprk_20260227.xml"
    good = xml.read_bytes()
    with serve_folder(served) as base:
        sources = sources_file(tmp_path, base, on_fetch_error="reuse_last_good", retries=0)
        first = run_ingest(tmp_path, sources)
        xml.write_text("<?xml version='1.0'?><NOT_THE_UN_LIST><ROW/></NOT_THE_UN_LIST>")
        with pytest.raises(ParseError, match="source 'un'"):
            run_ingest(tmp_path, sources)
        xml.unlink()  # the next night the publisher is down
        fallback = run_ingest(tmp_path, sources)
    [snapshot] = fallback.snapshots
    assert snapshot.stale and "404" in snapshot.stale_reason
    assert snapshot.sha256 == first.snapshots[0].sha256
    assert open(snapshot.path, "rb").read() == good
    assert fallback.row_counts == {"raw_un_designations": 78}
