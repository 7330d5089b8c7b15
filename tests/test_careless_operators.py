"""Careless operators: a sources file with anchors, merge keys or a name twice, a mistyped sources path and an
unusable data directory are each one clear message before anything runs, never a traceback or a half run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest import build_ingest_asset
from assets.resources import TankerwatchResource
from orchestration.cli import EXIT_CONFIG, main
from tankerwatch.errors import SourcesFileError
from tankerwatch.settings import REPO_ROOT
from tankerwatch.sources import load_sources

REGISTRY = "    kind: registry_csv\n    url: registry.csv\n"


def write(folder: Path, text: str) -> Path:
    path = folder / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- the sources file -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        (f"sources:\n  registry:\n{REGISTRY}  imagery:\n    kind: imagery_sightings_csv\n    url: i.csv\n"
         f"  registry:\n{REGISTRY}", "line 8: the key 'registry' appears twice (first on line 2)"),
        (f"sources:\n  registry:\n{REGISTRY}    url: other.csv\n",
         "line 5: the key 'url' appears twice (first on line 4)"),
        (f"sources:\n  registry:\n{REGISTRY}sources:\n  other:\n{REGISTRY}",
         "line 5: the key 'sources' appears twice (first on line 1)"),
        (f"sources:\n  registry: &base\n{REGISTRY}  copy: *base\n", "line 2: the anchor &base is not allowed"),
        ("defaults: &d {retries: 2}\nsources:\n  registry:\n" + REGISTRY, "line 1: the anchor &d is not allowed"),
        ("sources:\n  registry:\n    <<: {kind: registry_csv}\n    url: registry.csv\n",
         "line 3: the merge key '<<' is not allowed"),
    ],
    ids=["source-name-twice", "setting-twice", "top-level-twice", "anchor-and-alias", "anchor-alone", "merge-key"],
)
def test_the_sources_file_refuses_anchors_merge_keys_and_repeated_keys_naming_the_line(tmp_path, text, message):
    with pytest.raises(SourcesFileError) as error:
        load_sources(write(tmp_path, text))
    assert message in str(error.value) and str(tmp_path / "sources.yaml") in str(error.value)


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    rows = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    rows += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    with pytest.raises(SourcesFileError, match="line 1: the anchor &a is not allowed"):
        load_sources(write(tmp_path, "\n".join(rows) + "\nsources: {}\n"))


def test_a_plain_sources_file_with_the_deadline_option_loads(tmp_path):
    def options(extra: str = ""):
        (source,) = load_sources(write(tmp_path, f"sources:\n  registry:\n{REGISTRY}{extra}"))
        return source.fetch_options()

    assert options("    total_timeout_s: 120\n").total_timeout_s == 120
    assert options().total_timeout_s == 1800
    for bad in ("0", "'soon'", "true"):
        with pytest.raises(SourcesFileError, match="total_timeout_s"):
            options(f"    total_timeout_s: {bad}\n")


# -- the command line -------------------------------------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["run", *args])
    captured = capsys.readouterr()
    return code, [line for line in (captured.out + captured.err).splitlines() if line.strip()]


def test_a_data_directory_without_its_parent_is_one_line_and_nothing_is_created(tmp_path, capsys):
    data = tmp_path / "mistyped" / "data"
    code, lines = run_cli(capsys, "--data-dir", str(data))
    assert code == EXIT_CONFIG
    assert lines == [
        f"tankerwatch: data directory {data} cannot be created: its parent {data.parent} does not exist; "
        "nothing was run"
    ]
    assert not (tmp_path / "mistyped").exists()


def test_a_data_directory_that_is_a_file_is_one_line(tmp_path, capsys):
    data = tmp_path / "data"
    data.write_text("not a folder")
    code, lines = run_cli(capsys, "--data-dir", str(data))
    assert code == EXIT_CONFIG
    assert lines == [f"tankerwatch: data directory {data} is a file, not a folder; nothing was run"]
    assert data.read_text() == "not a folder"


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder this process cannot write: mode 555, made immutable as well when running as root."""
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_a_read_only_data_directory_is_one_line(read_only_folder, capsys):
    code, lines = run_cli(capsys, "--data-dir", str(read_only_folder))
    assert code == EXIT_CONFIG and len(lines) == 1
    assert lines[0].startswith(f"tankerwatch: data directory {read_only_folder} is not writable: ")
    assert lines[0].endswith("; nothing was run") and "Traceback" not in lines[0]
    assert list(read_only_folder.iterdir()) == []


def test_a_mistyped_sources_path_is_reported_once_before_the_data_directory_is_touched(tmp_path, capsys):
    data = tmp_path / "data"
    missing = tmp_path / "sourcse.yaml"
    code, lines = run_cli(capsys, "--sources", str(missing), "--data-dir", str(data))
    assert code == EXIT_CONFIG and len(lines) == 1
    assert lines == [f"tankerwatch: cannot read sources file {missing}: No such file or directory; nothing was run"]
    assert not data.exists()


def test_a_broken_sources_file_is_one_line_from_the_command(tmp_path, capsys):
    sources = write(tmp_path, f"sources:\n  registry:\n{REGISTRY}  registry:\n{REGISTRY}")
    code, lines = run_cli(capsys, "--sources", str(sources), "--data-dir", str(tmp_path / "data"))
    assert code == EXIT_CONFIG
    assert lines == [
        f"tankerwatch: sources file {sources}: line 5: the key 'registry' appears twice (first on line 2); "
        "nothing was run"
    ]


# -- the Dagster resource ----------------------------------------------------------------------------------


def test_the_dagster_resource_reports_a_mistyped_sources_path_once_before_any_step(tmp_path):
    missing = tmp_path / "sourcse.yaml"
    resource = TankerwatchResource(sources_file=str(missing), data_dir=str(tmp_path / "data"))
    assets = [build_ingest_asset(kind) for kind in ("registry_csv", "un_consolidated_xml", "ofac_sdn_csv")]
    result = dg.materialize(assets, resources={"tankerwatch": resource}, raise_on_error=False)
    assert not result.success
    assert [e for e in result.all_events if e.event_type_value == "STEP_START"] == []
    failures = [e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    assert len(failures) == 1
    assert str(missing) in repr(failures[0].event_specific_data.error)
    assert not (tmp_path / "data").exists()


def test_the_dagster_resource_still_runs_with_a_good_sources_file(tmp_path):
    shutil.copytree(REPO_ROOT / "demo" / "registry", tmp_path / "registry")
    registry = next((tmp_path / "registry").glob("*.csv")).name
    sources = write(tmp_path, f"sources:\n  registry:\n    kind: registry_csv\n    url: registry/{registry}\n")
    resource = TankerwatchResource(sources_file=str(sources), data_dir=str(tmp_path / "data"))
    result = dg.materialize([build_ingest_asset("registry_csv")], resources={"tankerwatch": resource})
    assert result.success
    assert (tmp_path / "data" / "warehouse.duckdb").is_file()
