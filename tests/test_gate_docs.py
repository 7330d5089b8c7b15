"""Gate docs: a static HTML page per suite result and an index per run, linked from the check."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import re
import threading
from html.parser import HTMLParser

import dagster as dg
import duckdb
import pytest

from assets.checks import build_suite_check
from assets.resources import TankerwatchResource
from tankerwatch import docs_server, gate_docs, gates, publish
from tankerwatch.warehouse import connect

HOSTILE = "<script>alert('x')</script> & \"YU JONG\""

EXPECTATIONS = [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "imo"}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "flag", "value_set": ["KP", "RU"]}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "dwt", "min_value": 1000, "max_value": 200000}},
    {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "vessel_name", "value_set": ["CHON MA SAN", "YU JONG 2"]},
    },
]


def write_suite(tmp_path, table="tiny_vessels"):
    path = tmp_path / f"{table}.json"
    path.write_text(
        json.dumps({"name": table, "meta": {"stage": "marts", "table": table}, "expectations": EXPECTATIONS}),
        encoding="utf-8",
    )
    return path


def make_table(con, table="tiny_vessels", hostile=True):
    second = HOSTILE if hostile else "YU JONG 2"
    con.execute(f'create or replace table "{table}" (imo varchar, flag varchar, dwt integer, vessel_name varchar)')
    con.execute(
        f'insert into "{table}" values (?, ?, ?, ?), (?, ?, ?, ?)',
        ["9123456", "KP", 5000, "CHON MA SAN", "8654321", "KP", 7000, second],
    )


class _Scripts(HTMLParser):
    """Collects elements a browser would treat as active content."""

    def __init__(self):
        super().__init__()
        self.active: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "link", "img", "iframe", "object", "embed"}:
            self.active.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (name in {"src", "href"} and value and "//" in value):
                self.active.append(f"{tag}[{name}]")

    def handle_data(self, data):
        self.text.append(data)


def parse(page_text):
    parser = _Scripts()
    parser.feed(page_text)
    return parser


def engines(con, suite_path):
    """The same table through both engines: GX on its frame, and SQL as the pipeline runs it."""
    by_gx = gates.validate_table(con, "tiny_vessels", suite_path)
    by_sql = gates.validate_table_auto(con, "tiny_vessels", suite_path)
    assert (by_gx.engine, by_sql.engine) == ("great_expectations", "duckdb_sql")
    return [by_gx, by_sql]


@pytest.mark.parametrize("engine_index", [0, 1], ids=["gx", "sql"])
def test_failing_suite_page_lists_the_failure_with_escaped_samples(tmp_path, engine_index):
    con = duckdb.connect()
    make_table(con, hostile=True)
    suite = write_suite(tmp_path)
    result = engines(con, suite)[engine_index]
    assert not result.success and len(result.failures) == 1

    page = gate_docs.write_gate_docs(result, tmp_path / "data", "run-1", asset="tiny_vessels", suite_path=suite)

    assert page == tmp_path / "data" / "gate_docs" / "run-1" / "tiny_vessels.html"
    text = page.read_text(encoding="utf-8")
    parsed = parse(text)
    # The vessel name is shown as text, never as markup.
    assert parsed.active == []
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; \\&quot;YU JONG\\&quot;" in text
    shown = "".join(parsed.text)
    assert "<script>alert('x')</script>" in shown
    expectations, failing_rows = text.split("<h2>Failing rows: ")
    rows = re.findall(r"<tr[^>]*>.*?</tr>", expectations, flags=re.S)[1:]
    assert len(rows) == 4
    # The failing row itself, named by the table's first column (it has no key or lineage).
    assert re.findall(r"<tr>.*?</tr>", failing_rows.split("<tbody>")[1], flags=re.S) == [
        '<tr><td><code>&quot;8654321&quot;</code></td><td><code>&quot;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;'
        ' &amp; \\&quot;YU JONG\\&quot;&quot;</code></td></tr>'
    ]
    failed = [r for r in rows if 'class="failed"' in r]
    assert len(failed) == 1 and "vessel_name" in failed[0] and "FAILED" in failed[0]
    assert "alert" in failed[0] and "<td>1 (50%)</td>" in failed[0]
    assert all("PASSED" in r for r in rows if r not in failed)
    assert result.engine in shown and "tiny_vessels" in shown and "3 of 4 passed" in shown
    assert "Rows validated" in shown and ">2<" in text

    index = (page.parent / "index.html").read_text(encoding="utf-8")
    assert 'href="tiny_vessels.html"' in index and "FAILED" in index and "1 failing" in index
    assert list(page.parent.glob("*.tmp")) == []


def test_passing_suite_page_lists_every_expectation_as_passed_for_both_engines(tmp_path):
    con = duckdb.connect()
    make_table(con, hostile=False)
    suite = write_suite(tmp_path)
    for result in engines(con, suite):
        assert result.success
        page = gate_docs.write_gate_docs(result, tmp_path / "data", f"run-{result.engine}", suite_path=suite)
        text = page.read_text(encoding="utf-8")
        rows = re.findall(r"<tr[^>]*>.*?</tr>", text, flags=re.S)[1:]
        assert len(rows) == len(EXPECTATIONS)
        assert all("PASSED" in r and "FAILED" not in r for r in rows)
        for entry in EXPECTATIONS:
            assert entry["type"] in text and entry["kwargs"]["column"] in text
        assert result.engine in text and "4 of 4 passed" in text
        assert parse(text).active == []


def test_index_lists_every_suite_of_the_run(tmp_path):
    con = duckdb.connect()
    make_table(con, hostile=True)
    make_table(con, table="other_vessels", hostile=False)
    bad = gates.validate_table(con, "tiny_vessels", write_suite(tmp_path))
    good = gates.validate_table_auto(con, "other_vessels", write_suite(tmp_path, "other_vessels"))
    for result in (good, bad):
        gate_docs.write_gate_docs(result, tmp_path, "run/../x<y>", asset=result.table)

    folders = list((tmp_path / "gate_docs").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("run_.._x_y_-") and folders[0].is_dir()
    index = (folders[0] / "index.html").read_text(encoding="utf-8")
    assert index.index("tiny_vessels.html") < index.index("other_vessels.html")  # failing first
    assert "2 suite result(s), 1 failing" in index
    assert "run/../x&lt;y&gt;" in index and parse(index).active == []


def test_unmatched_failure_does_not_claim_the_rest_passed(tmp_path):
    result = gates.GateResult(
        suite_name="tiny_vessels",
        table="tiny_vessels",
        success=False,
        evaluated=3,
        passed=3,
        failures=[
            gates.ExpectationFailure(
                expectation_type="tankerwatch_all_expectations_evaluated",
                column=None,
                kwargs={},
                exception="GX evaluated 3 of 4 expectations",
            )
        ],
    )
    text = gate_docs.render_result_page(result, suite_path=write_suite(tmp_path))
    assert text.count("NOT CONFIRMED") == 4 and "GX evaluated 3 of 4" in text
    assert ">PASSED<" not in text


def test_writing_failure_is_a_warning_not_an_exception(tmp_path, caplog):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    result = gates.GateResult(suite_name="s", table="t", success=True, evaluated=1, passed=1)
    with caplog.at_level(logging.WARNING):
        assert gate_docs.write_gate_docs_safely(result, blocker, "run-1") is None
    assert "could not write gate docs for suite 's'" in caplog.text


# --- the Dagster check ---------------------------------------------------------------------


def _job(tmp_path, hostile):
    @dg.asset(name="tiny_vessels")
    def tiny_vessels(tankerwatch: TankerwatchResource) -> None:
        with tankerwatch.warehouse() as con:
            make_table(con, hostile=hostile)

    check = build_suite_check("tiny_vessels", write_suite(tmp_path))
    resource = TankerwatchResource(data_dir=str(tmp_path / "data"))
    return tiny_vessels, check, resource


@pytest.mark.parametrize("hostile", [False, True], ids=["passing", "failing"])
def test_check_metadata_links_the_page(tmp_path, hostile, monkeypatch):
    # The base URL is read when the check runs: set after every import, it is the one the links use.
    monkeypatch.setenv(docs_server.BASE_URL_ENV, "https://gates.example.org/tankerwatch/")
    asset, check, resource = _job(tmp_path, hostile)
    outcome = dg.materialize([asset, check], resources={"tankerwatch": resource}, raise_on_error=False)
    [evaluation] = outcome.get_asset_check_evaluations()
    assert evaluation.passed is (not hostile)

    link = evaluation.metadata["data_docs"]
    assert isinstance(link, dg.UrlMetadataValue)
    page = tmp_path / "data" / "gate_docs" / outcome.run_id / "tiny_vessels.html"
    base = f"https://gates.example.org/tankerwatch/gate_docs/{outcome.run_id}"
    assert link.url == f"{base}/tiny_vessels.html" and page.exists()
    assert evaluation.metadata["data_docs_index"].url == f"{base}/index.html"
    text = page.read_text(encoding="utf-8")
    assert ("FAILED" in text) is hostile and "tiny_vessels" in text
    assert parse(text).active == []
    with connect(tmp_path / "data" / "warehouse.duckdb") as con:
        assert con.execute("select success from gate_results").fetchall() == [(not hostile,)]
    # No key, unique column or lineage in this table: its first column names the failing row.
    if hostile:
        table = evaluation.metadata["failing_rows"]
        assert [r.data for r in table.records] == [
            {
                "suite": "tiny_vessels",
                "expectation": "expect_column_values_to_be_in_set(vessel_name)",
                "imo": "8654321",
                "failing_values": "vessel_name=" + json.dumps(HOSTILE),
            }
        ]
    else:
        assert "failing_rows" not in evaluation.metadata


def test_default_links_point_at_the_local_docs_server(tmp_path, monkeypatch):
    monkeypatch.delenv(docs_server.BASE_URL_ENV, raising=False)
    monkeypatch.setenv(docs_server.PORT_ENV, "3123")
    asset, check, resource = _job(tmp_path, hostile=True)
    outcome = dg.materialize([asset, check], resources={"tankerwatch": resource}, raise_on_error=False)
    [evaluation] = outcome.get_asset_check_evaluations()
    assert evaluation.metadata["data_docs"].url == (
        f"http://127.0.0.1:3123/gate_docs/{outcome.run_id}/tiny_vessels.html"
    )


POSITION_SUITE = {
    "name": "tiny_positions",
    "meta": {
        "stage": "staging",
        "table": "tiny_positions",
        "notes": "Grain: one row per AIS message (source_name, snapshot_id, source_row).",
    },
    "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "mmsi"}},
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "speed_kn", "min_value": 0, "max_value": 50},
        },
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
    ],
}


def test_check_metadata_table_holds_each_failing_rows_key_and_line(tmp_path):
    """A table with bad rows among good ones: the check's table names exactly those rows, by their
    source, snapshot and line, with the values refused; a failure without rows (none here) adds none."""
    suite = tmp_path / "tiny_positions.json"
    suite.write_text(json.dumps(POSITION_SUITE), encoding="utf-8")

    @dg.asset(name="tiny_positions")
    def tiny_positions(tankerwatch: TankerwatchResource) -> None:
        with tankerwatch.warehouse() as con:
            con.execute(
                "create or replace table tiny_positions as select 'dma_feed' as source_name, "
                "'2024-07-11T000000Z' as snapshot_id, i::bigint as source_row, "
                "case when i = 40 then null else 440000000 + i end as mmsi, "
                "case when i in (37, 90) then 99.5 else 12.0 end as speed_kn from range(1, 121) t(i)"
            )

    check = build_suite_check("tiny_positions", suite)
    resource = TankerwatchResource(data_dir=str(tmp_path / "data"))
    outcome = dg.materialize([tiny_positions, check], resources={"tankerwatch": resource}, raise_on_error=False)
    [evaluation] = outcome.get_asset_check_evaluations()
    assert not evaluation.passed

    table = evaluation.metadata["failing_rows"]
    assert isinstance(table, dg.TableMetadataValue)
    assert [c.name for c in table.schema.columns] == [
        "suite", "expectation", "source_name", "snapshot_id", "source_row", "failing_values",
    ]
    assert [c.type for c in table.schema.columns][4] == "int"
    rows = [r.data for r in table.records]
    assert [(r["expectation"], r["source_row"], r["failing_values"]) for r in rows] == [
        ("expect_column_values_to_not_be_null(mmsi)", 40, "mmsi=null"),
        ("expect_column_values_to_be_between(speed_kn)", 37, "speed_kn=99.5"),
        ("expect_column_values_to_be_between(speed_kn)", 90, "speed_kn=99.5"),
    ]
    assert {(r["source_name"], r["snapshot_id"]) for r in rows} == {("dma_feed", "2024-07-11T000000Z")}
    # The markdown summary stays beside the table.
    assert "speed_kn" in evaluation.metadata["failing_expectations"].md_str
    # The gate page lists the same rows.
    page = (tmp_path / "data" / "gate_docs" / outcome.run_id / "tiny_positions.html").read_text(encoding="utf-8")
    section = page.split("<h2>Failing rows: <code>expect_column_values_to_be_between</code> speed_kn</h2>")[1]
    assert "<th>source_row</th>" in section and "<td><code>37</code></td>" in section
    assert "<td><code>90</code></td>" in section and "<td><code>40</code></td>" not in section.split("</table>")[0]


def test_failing_rows_are_bounded_and_in_table_order_for_both_engines(tmp_path):
    con = duckdb.connect()
    con.execute(
        "create table tiny_positions as select 'dma_feed' as source_name, 's1' as snapshot_id, "
        "i::bigint as source_row, 440000000 + i as mmsi, "
        "case when i % 3 = 0 then 80.0 else 10.0 end as speed_kn from range(1, 301) t(i)"
    )
    suite = tmp_path / "tiny_positions.json"
    suite.write_text(json.dumps(POSITION_SUITE), encoding="utf-8")
    by_gx = gates.validate_table(con, "tiny_positions", suite)
    by_sql = gates.validate_table_auto(con, "tiny_positions", suite)
    for result in (by_gx, by_sql):
        [failure] = result.failures
        assert failure.unexpected_count == 100
        assert result.key_columns == ["source_name", "snapshot_id", "source_row"]
        assert [r["source_row"] for r in failure.failing_rows] == list(range(3, 61, 3))
        assert all(r == {"source_name": "dma_feed", "snapshot_id": "s1", "source_row": r["source_row"],
                         "speed_kn": 80.0} for r in failure.failing_rows)
    assert by_gx.failures[0].failing_rows == by_sql.failures[0].failing_rows


def test_check_verdict_stands_when_docs_cannot_be_written(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise PermissionError("read-only volume")

    monkeypatch.setattr(gate_docs, "write_gate_docs", broken)
    asset, check, resource = _job(tmp_path, hostile=False)
    instance = dg.DagsterInstance.ephemeral()
    outcome = dg.materialize([asset, check], resources={"tankerwatch": resource}, instance=instance)
    [evaluation] = outcome.get_asset_check_evaluations()
    assert evaluation.passed
    assert "data_docs" not in evaluation.metadata and "expectations_passed" in evaluation.metadata
    warnings = [e.user_message for e in instance.all_logs(outcome.run_id) if e.level == logging.WARNING]
    assert any(
        "could not write gate docs for suite 'tiny_vessels': PermissionError: read-only volume" in m for m in warnings
    )


# --- pruning with the published versions ----------------------------------------------------


def _age(folder, stamp):
    for path in [folder, *folder.iterdir()]:
        os.utime(path, (stamp, stamp), follow_symlinks=False)


def test_pruning_keeps_exactly_the_pages_of_kept_versions_and_newer_runs(tmp_path):
    """Five nightly publishes, keeping two versions: the pages left are those of the runs the kept versions
    rest on (their own run and a backfill run whose gate they list), a failed run since the oldest kept
    version, and a run still going; those of pruned versions and of a failed run before them are gone."""
    root = tmp_path / "data"
    published = root / "published"
    start = 1_720_000_000.0  # 2024-07-03
    result = gates.GateResult(suite_name="voyages", table="voyages", success=True, evaluated=1, passed=1)

    def pages(run_id, at):
        page = gate_docs.write_gate_docs(result, root, run_id, asset="voyages")
        _age(page.parent, at)

    pages("backfill-ingest", start - 50)  # an early run whose gate every version rests on
    pages("failed-1", start + 150)  # failed between the second and third publish
    pages("failed-3", start + 350)  # failed after the fourth publish
    previous = None
    for night in range(5):
        run_id = f"nightly-{night}"
        at = start + night * 100
        pages(run_id, at)
        version = published / "versions" / f"v{night}-{run_id}"
        version.mkdir(parents=True)
        # The backfill's gate has not run since: its result is the newest of that gate in every manifest.
        checks = [{"run_id": run_id, "suite": "voyages"}, {"run_id": "backfill-ingest", "suite": "raw_ais_positions"}]
        manifest = {"run_id": run_id, "version": version.name, "checks": checks, "files": {},
                    "created_at": dt.datetime.fromtimestamp(at + 10, dt.UTC).isoformat(timespec="seconds")}
        (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        previous = publish.switch_current(published, version)
        publish.prune_versions(published, 2, previous=previous)
        gate_docs.prune_gate_docs(root)
    pages("running-5", start + 600)

    assert publish.list_versions(published) == ["v3-nightly-3", "v4-nightly-4"]
    assert sorted(p.name for p in (root / "gate_docs").iterdir()) == [
        "backfill-ingest", "failed-3", "nightly-3", "nightly-4", "running-5",
    ]
    assert (root / "gate_docs" / "nightly-4" / "index.html").is_file()


def test_pruning_removes_nothing_when_nothing_is_published(tmp_path):
    result = gates.GateResult(suite_name="s", table="t", success=False, evaluated=1, passed=0)
    page = gate_docs.write_gate_docs(result, tmp_path, "failed-run")
    _age(page.parent, 1_000_000.0)
    assert gate_docs.prune_gate_docs(tmp_path) == []
    assert page.is_file()


# --- the demo run: every link in its metadata opens ----------------------------------------------


@pytest.mark.slow
def test_every_link_of_the_demo_run_opens_from_the_docs_server(demo_run):
    """After `tankerwatch run`, each gate's page and index and the published report, as linked in the
    run's metadata, are served by the docs server over the data directory."""
    code, data_dir = demo_run
    assert code == 0
    instance = dg.DagsterInstance.get()
    # The session's instance records every test's runs: take the demo run's own, named by what it published.
    run_id = json.loads((data_dir / "published" / "current" / "manifest.json").read_text())["run_id"]
    [published] = [
        e
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        if e.dagster_event.asset_key == dg.AssetKey("published_current")
    ]
    report = published.asset_materialization.metadata["report"]
    version = published.asset_materialization.metadata["version"].value
    base = docs_server.docs_base_url()
    assert report.url == f"{base}/published/versions/{version}/report.html"

    evaluations = [
        e.dagster_event.event_specific_data
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    links = [
        value.url
        for evaluation in evaluations
        for name, value in evaluation.metadata.items()
        if name.startswith("data_docs")
    ]
    suites = [e for e in evaluations if e.check_name == "great_expectations_suite"]
    assert len(suites) > 40 and all(isinstance(e.metadata["data_docs"], dg.UrlMetadataValue) for e in suites)

    server = docs_server.make_server(data_dir, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        for url in [report.url, *links]:
            assert url == report.url or url.startswith(f"{base}/gate_docs/{run_id}/"), url
            conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request("GET", url.removeprefix(base))
            response = conn.getresponse()
            body = response.read().decode("utf-8")
            conn.close()
            assert response.status == 200, url
            # The demo passes every gate; the report names its voyages.
            assert ("43 voyages" in body) if url == report.url else ("PASSED" in body and "FAILED" not in body), url
    finally:
        server.shutdown()
        server.server_close()
