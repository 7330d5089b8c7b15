"""Tests of the OFAC legacy CSV parsers against real excerpts and hand-made faulty files."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.ofac import parse_alt_csv, parse_sdn_comments_csv, parse_sdn_csv
from tankerwatch.parsers.sink import parse_in_memory

FIXTURES = Path(__file__).parent / "fixtures" / "ofac"
SDN = FIXTURES / "sdn_dprk_excerpt_20240503.csv"
ALT = FIXTURES / "alt_dprk_excerpt_2025.csv"
COMMENTS = FIXTURES / "sdn_comments_excerpt_2025.csv"

# Two real SDN.CSV lines, as OFAC writes them.
GOOD_LINE_1 = (
    '36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- '
)
GOOD_LINE_2 = (
    '4238,"MAR AZUL","vessel","CUBA",-0- ,"CL2192","Tug",-0- ,"212","Cuba",'
    '"Samir de Navegacion S.A.",-0- '
)


@pytest.fixture(scope="module")
def sdn() -> pl.DataFrame:
    result = parse_in_memory(parse_sdn_csv, SDN)
    assert result.rejects == []
    return result.tables["raw_ofac_sdn"]


def one(frame: pl.DataFrame, ent_num: int) -> dict:
    rows = frame.filter(pl.col("ent_num") == ent_num).to_dicts()
    assert len(rows) == 1, f"ent_num {ent_num}: {len(rows)} rows"
    return rows[0]


def write_sdn(tmp_path: Path, lines: list[str], *, eof_marker: bool = True) -> Path:
    path = tmp_path / "sdn.csv"
    body = "".join(line + "\r\n" for line in lines)
    path.write_bytes(body.encode("utf-8") + (b"\x1a" if eof_marker else b""))
    return path


# --- the real SDN excerpt ---------------------------------------------------


def test_fixtures_are_the_real_bytes():
    data = SDN.read_bytes()
    assert data.endswith(b"\r\n\x1a")
    assert data.count(b"\r\n") == 495
    assert b"-0- ," in data


def test_sdn_schema_is_the_contract(sdn):
    assert sdn.schema == pl.Schema(RAW_TABLE_COLUMNS["raw_ofac_sdn"])


def test_sdn_has_495_records_and_the_eof_byte_is_not_one(sdn):
    assert sdn.height == 495
    assert sdn["source_row"].to_list() == list(range(1, 496))
    assert sdn["ent_num"].null_count() == 0
    assert sdn["ent_num"].n_unique() == 495
    # The last line before the 0x1A byte is a real record.
    last = sdn.row(-1, named=True)
    assert (last["source_row"], last["ent_num"]) == (495, 48907)
    assert last["sdn_name"] == "UZAY GROUP DIS TICARET LIMITED SIRKETI"


def test_sdn_vessel_counts(sdn):
    vessels = sdn.filter(pl.col("sdn_type") == "vessel")
    assert vessels.height == 112
    assert vessels.filter(pl.col("program").str.contains("DPRK", literal=True)).height == 105
    assert sdn.filter(pl.col("program").str.contains("DPRK", literal=True)).height == 484
    assert dict(sdn["sdn_type"].value_counts().iter_rows()) == {
        None: 203,
        "individual": 164,
        "vessel": 112,
        "aircraft": 16,
    }


def test_sdn_nulls_are_null_not_the_marker(sdn):
    for column, dtype in sdn.schema.items():
        if dtype == pl.String:
            leftover = sdn.filter(pl.col(column).str.strip_chars() == "-0-")
            assert leftover.height == 0, column
    first = one(sdn, 36)
    assert first["sdn_name"] == "AEROCARIBBEAN AIRLINES"
    assert first["program"] == "CUBA"
    for column in ("sdn_type", "title", "call_sign", "vessel_type", "tonnage", "grt",
                   "vessel_flag", "vessel_owner", "remarks"):
        assert first[column] is None, column


def test_sdn_cells_are_stripped_and_quoted_commas_kept(sdn):
    row = one(sdn, 173)
    assert row["sdn_name"] == "ANGLO-CARIBBEAN CO., LTD."
    tug = one(sdn, 4238)
    assert (tug["call_sign"], tug["vessel_type"], tug["grt"], tug["vessel_owner"]) == (
        "CL2192", "Tug", "212", "Samir de Navegacion S.A.",
    )
    assert tug["tonnage"] is None


def test_ryong_gun_bong_imo_without_prefix_is_left_in_remarks(sdn):
    row = one(sdn, 17104)
    assert row["sdn_name"] == "RYONG GUN BONG"
    assert row["sdn_type"] == "vessel"
    assert row["program"] == "DPRK"
    assert row["vessel_type"] == "General Cargo"
    assert row["vessel_flag"] == "Democratic People's Republic of Korea"
    assert row["remarks"].startswith("Secondary sanctions risk: North Korea Sanctions Regulations")
    assert row["remarks"].endswith("Vessel Registration Identification 8606173.")


def test_bonu_5_with_its_invalid_imo_is_kept(sdn):
    row = one(sdn, 23424)
    assert row["sdn_name"] == "BONU 5"
    assert row["sdn_type"] == "vessel"
    assert row["program"] == "LIBYA3"
    assert row["vessel_flag"] == "Malta"
    assert row["remarks"] == (
        "Vessel Registration Identification 15411 (Malta); Linked To: ANDREA MARTINA LIMITED."
    )


def test_tonnage_strings_are_kept_as_written(sdn):
    # The excerpt has no HERMANN row (see the report); these are its filled tonnages.
    hua_fu = one(sdn, 23764)
    assert (hua_fu["sdn_name"], hua_fu["program"], hua_fu["tonnage"], hua_fu["grt"]) == (
        "HUA FU", "DPRK4", "10,030", None,
    )
    diamond = one(sdn, 15042)
    assert (diamond["tonnage"], diamond["grt"]) == ("297,013", "160,576")
    filled = sdn.filter(pl.col("tonnage").is_not_null())["tonnage"].to_list()
    assert sorted(filled) == sorted(
        ["297,013", "319,988", "296,803", "10,030", "9,038", "11,658", "13,500", "7,067",
         "8,015", "5,515"]
    )


def test_multi_program_string_is_kept_whole(sdn):
    assert one(sdn, 27200)["program"] == "UKRAINE-EO13661] [CYBER2] [ELECTION-EO13848"
    assert one(sdn, 9345)["program"] == "NPWMD] [DPRK2"


def test_company_imo_in_entity_remarks_is_left_alone(sdn):
    # IMO extraction belongs to staging; the parser must not touch remarks text.
    entities_with_company_imo = sdn.filter(
        pl.col("sdn_type").is_null() & pl.col("remarks").str.contains("Company Number IMO", literal=True)
    )
    assert entities_with_company_imo.height > 0


# --- a whole real SDN.CSV -----------------------------------------------------


FULL_SDN = FIXTURES / "sdn_full_2022.csv"


def test_whole_real_sdn_file_parses_every_record_as_written():
    data = FULL_SDN.read_bytes()
    records = [line for line in data.split(b"\r\n") if line.strip() and line.strip() != b"\x1a"]
    started = time.monotonic()
    result = parse_in_memory(parse_sdn_csv, FULL_SDN)
    elapsed = time.monotonic() - started
    sdn = result.tables["raw_ofac_sdn"]
    assert result.rejects == []
    assert sdn.height == len(records)
    assert sdn["source_row"].to_list() == list(range(1, len(records) + 1))
    assert sdn.filter(pl.col("sdn_type") == "vessel").height == sum(b',"vessel",' in r for r in records)
    # the parser keeps Remarks as written, two spaces after IMO included; staging reads the number
    chizhovka = one(sdn, 37032)
    assert "Vessel Registration Identification IMO  8730455;" in chizhovka["remarks"]
    assert elapsed < 20, f"parsing {len(records)} records took {elapsed:.1f} s"


# --- ALT and SDN_COMMENTS ---------------------------------------------------


def test_alt_excerpt():
    result = parse_in_memory(parse_alt_csv, ALT)
    alt = result.tables["raw_ofac_alt"]
    assert result.rejects == []
    assert alt.schema == pl.Schema(RAW_TABLE_COLUMNS["raw_ofac_alt"])
    assert alt.height == 416
    assert alt["source_row"].to_list() == list(range(1, 417))
    assert dict(alt["alt_type"].value_counts().iter_rows()) == {"aka": 405, "fka": 11}
    assert alt["alt_remarks"].null_count() == 416
    assert alt["alt_num"].n_unique() == 416
    first = alt.row(0, named=True)
    assert (first["ent_num"], first["alt_num"], first["alt_name"]) == (36, 12, "AERO-CARIBBEAN")
    komid = alt.filter((pl.col("ent_num") == 9345) & (pl.col("alt_num") == 8816)).to_dicts()
    assert komid[0]["alt_name"] == "NORTH KOREAN MINING DEVELOPMENT TRADING CORPORATION"
    last = alt.row(-1, named=True)
    assert (last["source_row"], last["ent_num"], last["alt_name"]) == (416, 48269, "CHO'NG, So'ng-ho")


def test_comments_excerpt():
    result = parse_in_memory(parse_sdn_comments_csv, COMMENTS)
    comments = result.tables["raw_ofac_sdn_comments"]
    assert result.rejects == []
    assert comments.schema == pl.Schema(RAW_TABLE_COLUMNS["raw_ofac_sdn_comments"])
    assert comments.height == 12
    # The real file repeats three lines; the parser keeps what the file says.
    assert comments["ent_num"].value_counts().filter(pl.col("count") == 2)["ent_num"].sort().to_list() == [
        27307, 28263, 28264,
    ]
    assert comments.filter(pl.col("ent_num") == 28263)["remarks_continuation"].to_list() == [
        "hn'; Linked To: LAZARUS GROUP.",
    ] * 2


def test_remarks_split_across_files_keeps_the_boundary_space(sdn):
    # OFAC cut ent 44718's remarks at 1000 characters right after a space, and ent 42496's
    # continuation starts with one; stripping either would glue two words together.
    comments = parse_in_memory(parse_sdn_comments_csv, COMMENTS).tables["raw_ofac_sdn_comments"]
    head = one(sdn, 44718)["remarks"]
    tail = comments.filter(pl.col("ent_num") == 44718)["remarks_continuation"].item()
    assert len(head) == 1000
    assert head.endswith("Controlled By U.S. ")
    assert tail.startswith("Financial Institutions: North Korea Sanctions Regulations")
    assert "Controlled By U.S. Financial Institutions: North Korea" in head + tail
    assert comments.filter(pl.col("ent_num") == 42496)["remarks_continuation"].item().startswith(
        " alt. Digital Currency Address"
    )


# --- faulty files -----------------------------------------------------------


def test_line_with_five_fields_is_rejected_and_the_rest_parse(tmp_path):
    bad = '999,"SHORT LINE","vessel","DPRK",-0- '
    path = write_sdn(tmp_path, [GOOD_LINE_1, bad, GOOD_LINE_2])
    result = parse_in_memory(parse_sdn_csv, path)
    table = result.tables["raw_ofac_sdn"]
    assert table["ent_num"].to_list() == [36, 4238]
    assert table["source_row"].to_list() == [1, 3]
    assert len(result.rejects) == 1
    reject = result.rejects[0]
    assert reject.source_row == 2
    assert reject.raw == bad
    assert "12" in reject.reason and "5" in reject.reason


def test_non_integer_ent_num_is_rejected(tmp_path):
    bad = GOOD_LINE_2.replace("4238,", "42X8,", 1)
    result = parse_in_memory(parse_sdn_csv, write_sdn(tmp_path, [GOOD_LINE_1, bad]))
    assert result.tables["raw_ofac_sdn"]["ent_num"].to_list() == [36]
    [reject] = result.rejects
    assert (reject.source_row, reject.raw) == (2, bad)
    assert "ent_num" in reject.reason and "42X8" in reject.reason


def test_broken_quoting_is_rejected_on_its_own_line(tmp_path):
    bad = '500,"UNCLOSED "QUOTE",-0- ,"DPRK",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- '
    result = parse_in_memory(parse_sdn_csv, write_sdn(tmp_path, [GOOD_LINE_1, bad, GOOD_LINE_2]))
    assert result.tables["raw_ofac_sdn"]["source_row"].to_list() == [1, 3]
    [reject] = result.rejects
    assert reject.source_row == 2


def test_eof_marker_in_the_middle_is_rejected_not_skipped(tmp_path):
    result = parse_in_memory(parse_sdn_csv, write_sdn(tmp_path, [GOOD_LINE_1, "\x1a", GOOD_LINE_2]))
    assert result.tables["raw_ofac_sdn"]["ent_num"].to_list() == [36, 4238]
    [reject] = result.rejects
    assert (reject.source_row, reject.raw) == (2, "\x1a")


def test_file_without_eof_marker_still_parses(tmp_path):
    result = parse_in_memory(parse_sdn_csv, write_sdn(tmp_path, [GOOD_LINE_1, GOOD_LINE_2], eof_marker=False))
    assert result.tables["raw_ofac_sdn"].height == 2
    assert result.rejects == []


def test_cp1252_bytes_fall_back_without_crashing(tmp_path):
    path = tmp_path / "sdn.csv"
    line = '7,"CAF\xc9 \x81 NOIR",-0- ,"DPRK",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"\x93quoted\x94"'
    path.write_bytes((GOOD_LINE_1 + "\r\n").encode() + line.encode("latin-1") + b"\r\n\x1a")
    table = parse_in_memory(parse_sdn_csv, path).tables["raw_ofac_sdn"]
    row = one(table, 7)
    assert row["sdn_name"] == "CAF\u00c9 \x81 NOIR"
    assert row["remarks"] == "\u201cquoted\u201d"


def test_utf8_is_decoded_as_utf8(tmp_path):
    line = '8,"ŠKODA 沈忠",-0- ,"DPRK",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- '
    table = parse_in_memory(parse_sdn_csv, write_sdn(tmp_path, [GOOD_LINE_1, line])).tables["raw_ofac_sdn"]
    assert one(table, 8)["sdn_name"] == "ŠKODA 沈忠"


def test_html_page_is_a_parse_error(tmp_path):
    path = tmp_path / "sdn.csv"
    path.write_text(
        "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\n"
        "<body><p>The request could not be satisfied, please try again, later.</p></body></html>\n"
    )
    with pytest.raises(ParseError) as error:
        parse_in_memory(parse_sdn_csv, path)
    message = str(error.value)
    assert str(path) in message
    assert "HTML" in message


def test_header_row_is_a_parse_error(tmp_path):
    header = ("ent_num,SDN_Name,SDN_Type,Program,Title,Call_Sign,Vess_type,Tonnage,GRT,"
              "Vess_flag,Vess_owner,Remarks")
    with pytest.raises(ParseError, match="header"):
        parse_in_memory(parse_sdn_csv, write_sdn(tmp_path, [header, GOOD_LINE_1, GOOD_LINE_2]))


def test_alt_file_given_to_the_sdn_parser_is_a_parse_error():
    with pytest.raises(ParseError, match="expected 12 comma-separated fields, found 5"):
        parse_in_memory(parse_sdn_csv, ALT)


def test_sdn_file_given_to_the_alt_parser_is_a_parse_error():
    with pytest.raises(ParseError, match="ALT.CSV"):
        parse_in_memory(parse_alt_csv, SDN)


@pytest.mark.parametrize("parser", [parse_sdn_csv, parse_alt_csv, parse_sdn_comments_csv])
def test_zero_byte_file_is_a_parse_error(tmp_path, parser):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ParseError) as error:
        parse_in_memory(parser, path)
    assert str(path) in str(error.value)
    assert "empty" in str(error.value)


def test_file_holding_only_the_eof_marker_is_a_parse_error(tmp_path):
    path = tmp_path / "sdn.csv"
    path.write_bytes(b"\x1a")
    with pytest.raises(ParseError, match="empty"):
        parse_in_memory(parse_sdn_csv, path)
