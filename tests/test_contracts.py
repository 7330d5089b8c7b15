"""Model contracts (sql/<layer>/<model>.yml): what they refuse, what is generated from them, and that the
built models and the published files are what they say."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from tankerwatch import contracts
from tankerwatch.contracts import ContractError, arrow_type, discover_contracts, load_contract
from tankerwatch.models import BASE_TABLES, discover_models
from tankerwatch.publish import resolve_current
from tankerwatch.publish_set import PUBLISHED_TABLES
from tankerwatch.settings import REPO_ROOT, SQL_DIR

# --- the generated files ------------------------------------------------------------------------


def test_no_generated_file_is_stale():
    stale = [str(path.relative_to(REPO_ROOT)) for path in contracts.stale_files()]
    assert stale == [], "run python -m tankerwatch.contracts"


def test_every_model_has_a_suite_generated_from_its_contract():
    models = discover_models()
    assert len(models) >= 40
    for name, model in models.items():
        suite = json.loads((REPO_ROOT / "expectations" / f"{name}.json").read_text())
        assert suite["name"] == name and suite["meta"]["table"] == name and suite["meta"]["stage"] == model.layer
        assert suite["meta"]["notes"] == f"Grain: {model.grain}."
        first = suite["expectations"][0]
        assert first == {
            "type": "expect_table_columns_to_match_ordered_list",
            "kwargs": {"column_list": list(model.columns)},
        }


def test_the_published_tables_are_the_models_whose_contract_says_so(tmp_path):
    assert set(PUBLISHED_TABLES) == {"voyages", "port_calls", "vessels", "sanctioned_vessels", "cap_tracker",
                                     "unattributed_loads", "sts_transfers", "ais_dark_periods", "rejects"}
    assert all(discover_contracts()[name].layer == "marts" for name in PUBLISHED_TABLES)
    write_model(tmp_path / "marts", {**CONTRACT, "published": True})
    write_model(tmp_path / "marts", {**CONTRACT, "model": "gadgets"}, sql="select 'a' as widget_id, 1.0 as size")
    assert contracts.published_tables(tmp_path) == ("widgets",)


def test_published_schema_lists_every_published_column_with_its_description():
    doc = json.loads((REPO_ROOT / "schemas" / "published.json").read_text())
    assert sorted(doc["tables"]) == sorted(PUBLISHED_TABLES)
    voyages = {c["column"]: c for c in doc["tables"]["voyages"]}
    assert voyages["evidence_ids"]["type"] == "list<element: string>"
    assert voyages["load_departure_at"]["type"] == "timestamp[us, tz=UTC]"
    assert voyages["counts_toward_cap"]["description"] == "true when the voyage counts toward the DPRK cap"
    assert all(c["description"] for columns in doc["tables"].values() for c in columns)


def test_the_tables_reference_documents_every_published_column():
    page = (REPO_ROOT / "docs" / "reference" / "tables.md").read_text()
    published = discover_contracts()
    for table in PUBLISHED_TABLES:
        contract = published[table]
        assert f"## {table}\n\n" in page and f"**Grain:** {contract.grain}." in page
        for column in contract.columns:
            key = " (**key**)" if column.name in contract.key_columns else ""
            assert f"| `{column.name}`{key} | `{arrow_type(column.type)}` |" in page
    # ids are described in words: markdown would swallow an <imo> placeholder as a tag
    voyage_id = "the IMO, a hyphen, then the load departure as yyyymmddThhmmss (UTC)"
    assert f"| `voyage_id` (**key**) | `string` | {voyage_id} |" in page
    assert "| `volume_bbl` | `int64` |" in page


def test_arrow_types_of_nested_and_exact_duckdb_types():
    assert arrow_type("VARCHAR[]") == "list<element: string>"
    assert arrow_type("decimal(18,3)") == "decimal128(18, 3)"
    assert arrow_type("struct(sighting_id varchar, observed_at timestamp with time zone)") == (
        "struct<sighting_id: string, observed_at: timestamp[us, tz=UTC]>"
    )
    assert arrow_type("struct(a struct(b integer[]), c date)") == (
        "struct<a: struct<b: list<element: int32>>, c: date32[day]>"
    )
    with pytest.raises(ValueError, match="interval"):
        arrow_type("interval")


# --- what a contract may not say -----------------------------------------------------------------


CONTRACT = {
    "model": "widgets",
    "description": "Widgets sighted.",
    "grain": "one row per widget (widget_id)",
    "materialized": "table",
    "columns": [
        {"name": "widget_id", "type": "varchar", "description": "widget id",
         "expectations": ["expect_column_values_to_not_be_null", "expect_column_values_to_be_unique"]},
        {"name": "size", "type": "double", "description": "size in metres",
         "expectations": [{"expect_column_values_to_be_between": {"min_value": 0, "notes": "sizes are positive"}}]},
    ],
    "expectations": [{"expect_compound_columns_to_be_unique": {"column_list": ["widget_id", "size"]}}],
}


def write_model(folder: Path, contract: dict, sql: str = "select 'a' as widget_id, 1.0 as size") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{contract['model']}.sql").write_text(sql + "\n")
    path = folder / f"{contract['model']}.yml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    return path


def test_a_valid_contract_becomes_the_suite_the_gates_load(tmp_path):
    path = write_model(tmp_path / "sql" / "marts", CONTRACT)
    contract = load_contract(path)
    suite = contracts.suite(contract)
    assert suite["meta"] == {"stage": "marts", "table": "widgets", "notes": "Grain: one row per widget (widget_id)."}
    assert suite["expectations"] == [
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": ["widget_id", "size"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "widget_id"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "widget_id"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "size", "min_value": 0},
         "notes": "sizes are positive"},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["widget_id", "size"]}},
    ]
    # the gates load it, and it runs: a negative size fails
    import pandas as pd

    from tankerwatch.gates import validate_frame

    suite_path = tmp_path / "widgets.json"
    suite_path.write_text(json.dumps(suite))
    assert validate_frame(suite_path, pd.DataFrame({"widget_id": ["a", "b"], "size": [1.0, 2.0]})).success
    result = validate_frame(suite_path, pd.DataFrame({"widget_id": ["a", "b"], "size": [1.0, -2.0]}))
    assert not result.success
    assert [f.expectation_type for f in result.failures] == ["expect_column_values_to_be_between"]


def broken(**changes) -> dict:
    contract = json.loads(json.dumps(CONTRACT))
    for key, value in changes.items():
        if value is None:
            contract.pop(key)
        else:
            contract[key] = value
    return contract


@pytest.mark.parametrize(
    "contract, message",
    [
        (broken(columns=[{**CONTRACT["columns"][0], "expectations": ["expect_column_values_to_be_purple"]}]),
         "unknown expectation type 'expect_column_values_to_be_purple'"),
        (broken(expectations=[{"expect_column_pair_values_to_be_equal": {"column_A": "size", "column_B": "weight"}}]),
         r"names columns \['weight'\] the contract does not list"),
        (broken(expectations=[{"expect_compound_columns_to_be_unique": {"column_list": ["widget_id", "colour"]}}]),
         r"names columns \['colour'\]"),
        (broken(description=None), "must state the model's description"),
        (broken(grain=""), "must state the model's grain"),
        (broken(columns=[{"name": "widget_id", "type": "varchar"}]),
         "column widget_id: the column must state its description"),
        (broken(columns=[{"name": "widget_id", "description": "id"}]),
         "column widget_id: the column must state its type"),
        (broken(owner="someone"), r"unknown keys \['owner'\]"),
        (broken(materialized="snapshot"), "'materialized: snapshot' is not one of"),
        (broken(columns=[{**CONTRACT["columns"][0], "tests": ["unique"]}]),
         r"column widget_id: unknown keys \['tests'\]"),
        (broken(model="gadgets"), "must be the file's name"),
        (broken(published="yes"), "'published' must be true or false"),
        (broken(expectations=[{"expect_table_columns_to_match_ordered_list": {"column_list": ["widget_id"]}}]),
         "generated from the column order"),
        # prose a user reads: the Dagster UI renders it as markdown, where <imo> is an HTML tag and vanishes
        (broken(columns=[{**CONTRACT["columns"][0], "description": "<imo>-<load departure yyyymmddThhmmss>"}]),
         r"column widget_id: its description has .<. \(in .*<imo>-<load departure.*\): descriptions render as"),
        (broken(columns=[{**CONTRACT["columns"][0], "description": "went laden -> empty"}]),
         r"column widget_id: its description has '>'"),
        (broken(description="Widgets. DOMAIN cap rule: a widget counts when it is big."),
         r"the model's description cites 'DOMAIN', which a user of the data cannot look up"),
        (broken(description="Widgets, as DOMAIN §3 says."), r"the model's description cites 'DOMAIN'"),
        (broken(columns=[{**CONTRACT["columns"][0], "description": "the id (see §3 Volume)"}]),
         r"column widget_id: its description cites '§'"),
        (broken(grain="one row per empty -> laden widget"), r"the model's grain has '>'"),
    ],
)
def test_a_bad_contract_is_refused_naming_its_file(tmp_path, contract, message):
    folder = tmp_path / "sql" / "marts"
    folder.mkdir(parents=True)
    (folder / "widgets.sql").write_text("select 1\n")
    path = folder / "widgets.yml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False))
    with pytest.raises(ContractError, match=message) as raised:
        load_contract(path)
    assert str(path) in str(raised.value)


def test_every_description_reads_as_plain_prose():
    """What the UI and the published files show: no angle brackets, no reference to the rule book."""
    for contract in discover_contracts().values():
        texts = [contract.description, contract.grain] + [column.description for column in contract.columns]
        for text in texts:
            assert "<" not in text and ">" not in text, (contract.path, text)
            assert "DOMAIN" not in text and "§" not in text, (contract.path, text)
    voyages = discover_contracts()["voyages"]
    assert voyages.column("voyage_id").description == (
        "the IMO, a hyphen, then the load departure as yyyymmddThhmmss (UTC)"
    )


def test_a_model_without_contract_and_a_contract_without_model_are_refused(tmp_path):
    sql = tmp_path / "sql"
    write_model(sql / "marts", CONTRACT)
    (sql / "marts" / "gadgets.sql").write_text("select 1 as gadget_id\n")
    with pytest.raises(ContractError, match=r"gadgets\.sql: the model has no contract; write gadgets\.yml"):
        discover_contracts(sql)
    (sql / "marts" / "gadgets.sql").unlink()
    orphan = write_model(sql / "staging", {**CONTRACT, "model": "gizmos"})
    orphan.with_suffix(".sql").unlink()
    with pytest.raises(ContractError, match=r"gizmos\.yml: a contract without its model gizmos\.sql"):
        discover_contracts(sql)


def test_a_model_whose_sql_does_not_parse_is_refused_naming_the_file(tmp_path):
    sql = tmp_path / "sql"
    write_model(sql / "marts", CONTRACT, sql="select from where (")
    with pytest.raises(Exception, match=r"widgets\.sql: the SQL does not parse"):
        discover_models.__wrapped__(sql)


# --- dependencies from the SQL parser ------------------------------------------------------------


def test_every_model_parses_and_its_dependencies_are_the_tables_it_reads():
    models = discover_models()
    # $placeholders and macros parse; the CTE `voyages` inside voyages.sql is no dependency on itself
    assert "$rebuild_all" in models["stg_ais_static"].sql and models["stg_ais_static"].deps == ("raw_ais_static",)
    assert models["voyages"].deps == (
        "int_sanctions_designations", "int_vessel_registry_history", "int_vessels", "int_voyage_destinations",
        "int_voyage_volumes", "ref_ports",
    )
    assert models["cap_tracker"].deps == ("ref_volume_assumptions", "voyages")
    for name, model in models.items():
        assert model.deps and set(model.deps) <= set(models) | BASE_TABLES, name


def test_dependencies_ignore_ctes_shadowing_a_table(tmp_path):
    sql = tmp_path / "sql"
    write_model(sql / "staging", {**CONTRACT, "model": "stg_widgets"}, sql="select 'a' as widget_id, 1.0 as size")
    contract = {**CONTRACT}
    write_model(
        sql / "marts", contract,
        sql="with stg_widgets as (select * from raw_ais_dma)\nselect w.* from stg_widgets as w\n"
            "join (select * from stg_widgets) as s using (widget_id) where $rebuild_all and ais_dark_min_gap() > 0",
    )
    models = discover_models.__wrapped__(sql)
    assert models["widgets"].deps == ("raw_ais_dma",)


# --- a newcomer adds a column ----------------------------------------------------------------------


def test_adding_a_column_to_a_contract_regenerates_suite_published_schema_and_reference(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(SQL_DIR, root / "sql")
    assert contracts.main(["--check", "--root", str(root)]) == 1  # nothing generated yet

    assert contracts.write_generated(root, PUBLISHED_TABLES)
    assert contracts.stale_files(root, PUBLISHED_TABLES) == []
    path = root / "sql" / "marts" / "voyages.yml"
    data = yaml.safe_load(path.read_text())
    data["columns"].append({
        "name": "cargo_grade",
        "type": "varchar",
        "description": "refined product grade | as logged",
        "expectations": [{"expect_column_values_to_be_in_set": {"value_set": ["diesel", "gasoline"]}}],
    })
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    stale = contracts.stale_files(root, PUBLISHED_TABLES)
    assert sorted(p.relative_to(root).as_posix() for p in stale) == [
        "docs/reference/tables.md", "expectations/voyages.json", "schemas/published.json",
    ]
    contracts.write_generated(root, PUBLISHED_TABLES)
    assert contracts.stale_files(root, PUBLISHED_TABLES) == []

    suite = json.loads((root / "expectations" / "voyages.json").read_text())
    assert suite["expectations"][0]["kwargs"]["column_list"][-1] == "cargo_grade"
    assert {"type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "cargo_grade", "value_set": ["diesel", "gasoline"]}} in suite["expectations"]
    published = json.loads((root / "schemas" / "published.json").read_text())
    assert published["tables"]["voyages"][-1] == {
        "column": "cargo_grade", "type": "string", "description": "refined product grade | as logged",
    }
    page = (root / "docs" / "reference" / "tables.md").read_text()
    assert "| `cargo_grade` | `string` | refined product grade \\| as logged |" in page
    # the other suites are untouched
    vessels = "expectations/vessels.json"
    assert (root / vessels).read_text() == (REPO_ROOT / vessels).read_text()


def test_check_names_each_stale_file(tmp_path, capsys):
    root = tmp_path / "repo"
    shutil.copytree(SQL_DIR, root / "sql")
    contracts.write_generated(root, PUBLISHED_TABLES)
    suite = root / "expectations" / "port_calls.json"
    suite.write_text(suite.read_text().replace('"port_call_id"', '"port_call"', 1))
    assert contracts.main(["--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"stale: {suite}" in err and err.count("stale:") == 1
    assert contracts.main(["--root", str(root)]) == 0
    assert contracts.main(["--check", "--root", str(root)]) == 0


# --- the built demo and its published files --------------------------------------------------------


@pytest.mark.slow
def test_every_built_demo_model_has_its_contracts_columns_and_types(demo_run):
    code, data_dir = demo_run
    assert code == 0
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        for name, contract in discover_contracts().items():
            built = con.execute(
                "select column_name, lower(data_type) from information_schema.columns "
                "where table_name = ? order by ordinal_position",
                [name],
            ).fetchall()
            assert built == [(c.name, c.type) for c in contract.columns], contract.path
    finally:
        con.close()


@pytest.mark.slow
def test_published_parquet_carries_the_contracts_descriptions(demo_run):
    _, data_dir = demo_run
    current = resolve_current(data_dir / "published")
    published = discover_contracts()
    for table in PUBLISHED_TABLES:
        schema = pq.read_schema(current / f"{table}.parquet")
        contract = published[table]
        assert schema.metadata[b"description"].decode() == contract.description
        assert [(f.name, f.metadata[b"description"].decode()) for f in schema] == [
            (c.name, c.description) for c in contract.columns
        ]
    voyages = pq.read_schema(current / "voyages.parquet")
    assert voyages.field("volume_bbl").metadata[b"description"].startswith(b"central volume estimate: capacity times")
    assert voyages.field("voyage_id").metadata[b"description"] == (
        b"the IMO, a hyphen, then the load departure as yyyymmddThhmmss (UTC)"
    )
    assert pq.read_table(current / "voyages.parquet").num_rows == 43


def test_model_assets_carry_the_contracts_column_schema():
    from assets.models import model_assets

    by_name = {asset.key.to_user_string(): asset for asset in model_assets}
    metadata = by_name["voyages"].specs_by_key[by_name["voyages"].key].metadata
    schema = metadata["dagster/column_schema"]
    columns = discover_contracts()["voyages"].columns
    assert [(c.name, c.type, c.description) for c in schema.columns] == [
        (c.name, c.type, c.description) for c in columns
    ]
    assert len(by_name) == len(discover_models())
