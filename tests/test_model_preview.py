"""The markdown preview in model materialisations: present, bounded, and cheap even on a large view."""

from __future__ import annotations

import dagster as dg

from assets.models import PREVIEW_CHARS, PREVIEW_COLUMNS, PREVIEW_ROWS, _metadata, preview_markdown
from tankerwatch.models import Model, build_model
from tankerwatch.warehouse import connect


def _model(tmp_path, sql: str, materialized: str) -> Model:
    return Model(
        name="preview_probe", layer="marts", path=tmp_path / "sql" / "marts" / "preview_probe.sql", sql=sql,
        grain="one row per i", description="A probe.", materialized=materialized,
    )


WIDE = (
    "select i, 'vessel | ' || repeat('x', 500) || ' ' || i as long_name, i * 2 as c3, i * 3 as c4, "
    "i * 4 as c5, i * 5 as c6, i * 6 as c7, i * 7 as c8 from range(1000) t(i)"
)


def test_model_metadata_has_a_bounded_markdown_preview(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        for materialized in ("table", "view"):
            model = _model(tmp_path, WIDE, materialized)
            build_model(con, model)
            preview = _metadata(con, model)["preview"]
            assert isinstance(preview, dg.MarkdownMetadataValue)
            lines = preview.value.splitlines()
            table = [line for line in lines if line.startswith("|")]
            assert len(table) == 2 + PREVIEW_ROWS  # header, rule, rows
            assert table[0] == "| i | long_name | c3 | c4 | c5 | c6 |"
            assert all(line.count(" | ") == PREVIEW_COLUMNS - 1 for line in table[2:])  # an escaped \| is no separator
            assert "_first 6 of 8 columns_" in preview.value
            long_cells = [line.split(" | ")[1] for line in table[2:]]
            assert all(len(cell.replace("\\|", "|")) <= PREVIEW_CHARS for cell in long_cells)
            assert all(cell.startswith("vessel \\| xxx") and cell.endswith("…") for cell in long_cells)
            assert len(preview.value) < 2000


def test_the_preview_of_a_view_computes_only_the_rows_it_shows(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        con.execute("set threads = 2")
        con.execute("create table big as select range as i from range(3000000)")
        # Any row past the first 2,000,000 raises when computed: a preview that computed the whole view fails.
        con.execute(
            "create view big_view as select i, case when i > 2000000 then error('computed too far') else i end as v "
            "from big"
        )
        preview = preview_markdown(con, "big_view", ["i", "v"])
    assert len([line for line in preview.splitlines() if line.startswith("|")]) == 2 + PREVIEW_ROWS


def test_an_empty_model_says_so(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        model = _model(tmp_path, "select 1 as i where false", "table")
        build_model(con, model)
        assert "_no rows_" in _metadata(con, model)["preview"].value
