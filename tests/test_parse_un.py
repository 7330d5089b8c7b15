"""Tests of the UN Consolidated List parser against the real excerpt and hostile or broken XML."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.sink import parse_in_memory
from tankerwatch.parsers.un_xml import parse_un_consolidated

UN_XML = Path(__file__).parent / "fixtures" / "un" / "consolidated_dprk_excerpt_20260227.xml"


@pytest.fixture(scope="module")
def un() -> pl.DataFrame:
    result = parse_in_memory(parse_un_consolidated, UN_XML)
    assert result.rejects == []
    return result.tables["raw_un_designations"]


def by_reference(frame: pl.DataFrame, reference: str) -> dict:
    rows = frame.filter(pl.col("reference_number") == reference).to_dicts()
    assert len(rows) == 1, f"{reference}: {len(rows)} rows"
    return rows[0]


def parse_within(path: Path, seconds: float = 20.0):
    """Run the parser in a daemon thread so a hostile file fails the test instead of hanging it."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = parse_in_memory(parse_un_consolidated, path)
        except BaseException as exc:  # handed back to the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"parser still running after {seconds}s on {path.name}"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


# --- the real excerpt -------------------------------------------------------


def test_schema_is_the_contract(un):
    assert un.schema == pl.Schema(RAW_TABLE_COLUMNS["raw_un_designations"])


def test_three_individuals_then_75_entities_in_document_order(un):
    assert un.height == 78
    assert un["source_row"].to_list() == list(range(1, 79))
    assert un["record_type"].to_list() == ["individual"] * 3 + ["entity"] * 75
    assert un["reference_number"].head(4).to_list() == ["KPi.001", "KPi.002", "KPi.003", "KPe.001"]
    assert un["reference_number"].n_unique() == 78
    assert set(un["un_list_type"].to_list()) == {"DPRK"}
    assert un["dataid"].null_count() == 0


def test_list_generated_at_on_every_row(un):
    assert set(un["list_generated_at"].to_list()) == {"2026-02-27T00:00:09.554Z"}


def test_korea_yujong_shipping(un):
    row = by_reference(un, "KPe.066")
    assert row["record_type"] == "entity"
    assert row["dataid"] == "6908680"
    assert row["name"] == "KOREA YUJONG SHIPPING CO LTD"
    assert row["listed_on"] == "2018-03-30"
    assert "DPRK tanker YU JONG 2" in row["comments"]
    assert "Company Number IMO 5434358" in row["comments"]
    # Its only alias element is an empty placeholder.
    assert row["aliases"] == []


def test_individual_names_are_joined_and_comments_collapsed(un):
    row = by_reference(un, "KPi.001")
    assert row["record_type"] == "individual"
    assert row["name"] == "YUN HO-JIN"
    assert row["listed_on"] == "2009-07-16"
    assert row["aliases"] == ["Yun Ho-chin"]
    # The XML breaks this comment over two lines.
    assert row["comments"] == (
        "Director of Namchongang Trading Corporation; oversees the import of items "
        "needed for the uranium enrichment program."
    )
    assert by_reference(un, "KPi.003")["name"] == "HWANG SOK-HWA"
    assert un.filter(pl.col("comments").str.contains(r"\s\s|\n|\r")).height == 0


def test_entity_aliases_in_order(un):
    assert by_reference(un, "KPe.001")["aliases"] == [
        "CHANGGWANG SINYONG CORPORATION",
        "EXTERNAL TECHNOLOGY GENERAL CORPORATION",
        "DPRKN MINING DEVELOPMENT TRADING COOPERATION",
        '"KOMID"',
    ]
    assert by_reference(un, "KPe.073")["aliases"] == ["沈忠國際海運有限公司"]
    assert un.filter(pl.col("aliases").list.len() > 0).height == 46
    assert un.filter(pl.col("aliases").list.contains("")).height == 0


def test_reference_numbers_lose_their_trailing_spaces(un):
    # The real file writes e.g. <REFERENCE_NUMBER>KPe.023 </REFERENCE_NUMBER>.
    assert b"<REFERENCE_NUMBER>KPe.023 </REFERENCE_NUMBER>" in UN_XML.read_bytes()
    assert by_reference(un, "KPe.023")["reference_number"] == "KPe.023"
    assert un.filter(pl.col("reference_number") != pl.col("reference_number").str.strip_chars()).height == 0


# --- name rules on a small hand-made list -----------------------------------


def test_four_name_parts_join_with_single_spaces(tmp_path):
    path = tmp_path / "list.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<CONSOLIDATED_LIST dateGenerated="2026-01-01T00:00:00Z">'
        "<INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME> KIM </FIRST_NAME>"
        "<SECOND_NAME>JONG</SECOND_NAME><THIRD_NAME/><FOURTH_NAME>IL\n</FOURTH_NAME>"
        "<INDIVIDUAL_ALIAS><QUALITY/><ALIAS_NAME/></INDIVIDUAL_ALIAS>"
        "<INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>K. J. I.</ALIAS_NAME></INDIVIDUAL_ALIAS>"
        "</INDIVIDUAL></INDIVIDUALS>"
        "<ENTITIES><ENTITY><DATAID>2</DATAID><FIRST_NAME>ACME  SHIPPING</FIRST_NAME>"
        "<SECOND_NAME>IGNORED</SECOND_NAME></ENTITY></ENTITIES>"
        "</CONSOLIDATED_LIST>",
        encoding="utf-8",
    )
    table = parse_in_memory(parse_un_consolidated, path).tables["raw_un_designations"]
    rows = table.to_dicts()
    assert [r["name"] for r in rows] == ["KIM JONG IL", "ACME SHIPPING"]
    assert rows[0]["aliases"] == ["K. J. I."]
    assert rows[1]["aliases"] == []
    assert rows[1]["listed_on"] is None and rows[1]["comments"] is None


# --- hostile and broken files -----------------------------------------------


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE CONSOLIDATED_LIST [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<CONSOLIDATED_LIST dateGenerated="2026-01-01T00:00:00Z"><ENTITIES><ENTITY>
<FIRST_NAME>&lol9;</FIRST_NAME></ENTITY></ENTITIES></CONSOLIDATED_LIST>
"""


def test_billion_laughs_is_refused(tmp_path):
    path = tmp_path / "laughs.xml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(ParseError) as error:
        parse_within(path)
    assert str(path) in str(error.value)


def test_external_entity_is_refused_and_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    path = tmp_path / "xxe.xml"
    path.write_text(
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY leak SYSTEM "{secret.as_uri()}">]>\n'
        '<CONSOLIDATED_LIST dateGenerated="2026-01-01T00:00:00Z"><ENTITIES><ENTITY>'
        "<FIRST_NAME>&leak;</FIRST_NAME></ENTITY></ENTITIES></CONSOLIDATED_LIST>\n",
        encoding="utf-8",
    )
    with pytest.raises(ParseError) as error:
        parse_within(path)
    assert "TOP-SECRET-CONTENT" not in str(error.value)


def test_malformed_xml_is_a_parse_error(tmp_path):
    path = tmp_path / "cut.xml"
    # A download cut off half-way.
    path.write_bytes(UN_XML.read_bytes()[:5000])
    with pytest.raises(ParseError, match="not well-formed"):
        parse_in_memory(parse_un_consolidated, path)


def test_zero_byte_file_is_a_parse_error(tmp_path):
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    with pytest.raises(ParseError) as error:
        parse_in_memory(parse_un_consolidated, path)
    assert str(path) in str(error.value)


def test_wrong_root_element_is_a_parse_error(tmp_path):
    path = tmp_path / "page.xml"
    path.write_text("<html><body><p>Service unavailable</p></body></html>", encoding="utf-8")
    with pytest.raises(ParseError, match="CONSOLIDATED_LIST"):
        parse_in_memory(parse_un_consolidated, path)


def test_root_without_sections_is_a_parse_error(tmp_path):
    path = tmp_path / "bare.xml"
    path.write_text('<CONSOLIDATED_LIST dateGenerated="x"><OTHER/></CONSOLIDATED_LIST>', encoding="utf-8")
    with pytest.raises(ParseError, match="INDIVIDUALS"):
        parse_in_memory(parse_un_consolidated, path)
