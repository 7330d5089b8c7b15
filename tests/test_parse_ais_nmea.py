"""Tests of the AIS NMEA parser: golden decodes of real files, and a hand-made file with tag blocks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from pyais.encode import encode_dict

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.ais_nmea import parse_ais_nmea
from tankerwatch.parsers.sink import parse_in_memory

FIXTURES = Path(__file__).parent / "fixtures" / "ais"
DERIVED = FIXTURES / "derived"
PYAIS_SAMPLE = FIXTURES / "pyais_nmea_data_sample_head300.nmea"
GFW_MULTI = FIXTURES / "gfw_ais-tools_multi-part.nmea"
GFW_MIXED = FIXTURES / "gfw_ais-tools_mixed_types.nmea"
GFW_SINGLE = FIXTURES / "gfw_ais-tools_single-message-type-5.nmea"
GPSD = FIXTURES / "gpsd_type5_golden.nmea"
GOLDEN_POSITIONS = DERIVED / "pyais331_decoded_positions_pyais_sample_head300.jsonl"
GOLDEN_TYPE5 = DERIVED / "pyais331_decoded_type5_from_gfw_multi-part_and_mixed.jsonl"

POS = "raw_ais_positions"
STATIC = "raw_ais_static"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def physical_lines(path: Path) -> list[str]:
    """The file's lines as the parser numbers them (1-based), line ends removed."""
    return path.read_bytes().decode("ascii").splitlines()


def parse(path: Path):
    """A whole parse in memory, with both tables even when one has no rows."""
    return parse_in_memory(parse_ais_nmea, path, tables=(POS, STATIC))


def ignored_types(stats: dict[str, int]) -> dict[int, int]:
    """The ``ignored_type:<n>`` counters as {AIS type: count}."""
    prefix = "ignored_type:"
    return {int(name[len(prefix):]): n for name, n in stats.items() if name.startswith(prefix)}


def assert_contract(result) -> None:
    assert list(result.tables) == [POS, STATIC]
    for name, frame in result.tables.items():
        assert frame.schema == pl.Schema(RAW_TABLE_COLUMNS[name])


# --- the pyais sample: real lines, empty payloads, orphan fragments -------------------------


@pytest.fixture(scope="module")
def pyais_sample():
    return parse(PYAIS_SAMPLE)


def test_pyais_sample_positions_match_golden(pyais_sample) -> None:
    result = pyais_sample
    assert_contract(result)
    golden = read_jsonl(GOLDEN_POSITIONS)
    # The golden file holds the class A reports only; compare the same types, in file order.
    golden_types = sorted({g["msg_type"] for g in golden})
    assert golden_types == [1, 3]
    ours = result.tables[POS].filter(pl.col("msg_type").is_in(golden_types)).to_dicts()

    assert len(ours) == len(golden) == 244
    for i, (row, g) in enumerate(zip(ours, golden, strict=True)):
        expected = {
            "mmsi": f"{g['mmsi']:09d}",
            "latitude": g["lat"],
            "longitude": g["lon"],
            "speed_knots": g["speed"],
            "msg_type": g["msg_type"],
            "course": g["course"],
            "heading": g["heading"],
            "nav_status": g["status"],
        }
        assert {k: row[k] for k in expected} == expected, f"golden record {i}, line {row['source_row']}"


def test_pyais_sample_rows_point_at_their_lines(pyais_sample) -> None:
    result = pyais_sample
    lines = physical_lines(PYAIS_SAMPLE)
    positions = result.tables[POS]
    assert positions["received_at"].null_count() == positions.height  # no tag blocks in this file
    assert positions["source_row"].is_sorted()
    assert all(lines[row - 1].startswith("!AIVDM,1,1,") for row in positions["source_row"])
    # Class B reports have no navigational status.
    class_b = positions.filter(pl.col("msg_type") == 18)
    assert class_b.height == 6
    assert class_b["nav_status"].null_count() == 6
    # Types 4 and 15 are valid AIS we do not need: counted, not returned, not rejected.
    assert ignored_types(result.stats) == {4: 1, 15: 3}
    assert result.tables[STATIC].height == 0


def test_pyais_sample_empty_payloads_and_orphans_are_rejects(pyais_sample) -> None:
    result = pyais_sample
    lines = physical_lines(PYAIS_SAMPLE)

    assert len(result.rejects) == 46
    for reject in result.rejects:
        assert reject.raw == lines[reject.source_row - 1]

    empty = [r for r in result.rejects if r.reason.startswith("Empty payload")]
    orphans = [r for r in result.rejects if r.reason.startswith("Orphan fragment")]
    assert len(empty) == 40
    assert all(",,0*2" in r.raw for r in empty)
    # Six part-1 fragments whose part 2 never comes.
    assert [r.source_row for r in orphans] == [96, 110, 118, 133, 145, 213]
    assert all(r.raw.startswith("!AIVDM,2,1,") for r in orphans)
    assert all("never completed" in r.reason for r in orphans)


# --- type 5 goldens: GFW multi-part and mixed, gpsd ------------------------------------------


@pytest.mark.parametrize("path", [GFW_MULTI, GFW_MIXED, GPSD], ids=lambda p: p.name)
def test_type5_matches_golden(path: Path) -> None:
    result = parse(path)
    assert_contract(result)
    assert result.rejects == []
    golden = [g for g in read_jsonl(GOLDEN_TYPE5) if g["_source_file"] == path.name]
    ours = result.tables[STATIC].filter(pl.col("msg_type") == 5).to_dicts()

    assert len(ours) == len(golden) > 0
    for row, g in zip(ours, golden, strict=True):
        assert row["mmsi"] == f"{g['mmsi']:09d}"
        assert row["imo"] == (str(g["imo"]) if g["imo"] else None)
        assert row["ship_name"] == (g["shipname"] or None)
        assert row["call_sign"] == (g["callsign"] or None)
        assert row["draught_m"] == g["draught"]
        assert row["ship_type"] == g["ship_type"]
        assert row["destination"] == (g["destination"] or None)


def test_gfw_multi_part_tankers() -> None:
    static = parse(GFW_MULTI).tables[STATIC]
    assert static.height == 10
    # A tanker (ship type 80-89) with IMO and draught; source_row is the line of its last part.
    palu = static.filter(pl.col("mmsi") == "229582000").row(0, named=True)
    assert palu["imo"] == "9636735"
    assert palu["ship_name"] == "PALU LNG"
    assert palu["ship_type"] == 81
    assert palu["draught_m"] == 9.5
    assert palu["source_row"] == 83
    assert physical_lines(GFW_MULTI)[82].startswith("!AIVDM,2,2,")
    # draught 0 means "not available" and is kept as transmitted; IMO 0 becomes null.
    yuanyang = static.filter(pl.col("mmsi") == "413773184").row(0, named=True)
    assert yuanyang["draught_m"] == 0.0
    assert yuanyang["imo"] is None


def test_gpsd_golden_type5() -> None:
    result = parse(GPSD)
    assert result.rejects == []
    assert result.stats["blank_or_comment_lines"] == 6  # gpsd's '#' comment lines are skipped
    assert result.tables[STATIC].to_dicts() == [
        {
            "source_row": 8,
            "received_at": None,
            "msg_type": 5,
            "mmsi": "351759000",
            "imo": "9134270",
            "call_sign": "3FOF8",
            "ship_name": "EVER DIADEM",
            "ship_type": 70,
            "draught_m": 12.2,
            "destination": "NEW YORK",
        }
    ]


def test_gfw_mixed_types_class_b_and_type24() -> None:
    result = parse(GFW_MIXED)
    positions, static = result.tables[POS], result.tables[STATIC]
    assert positions.group_by("msg_type").len().sort("msg_type").rows() == [
        (1, 5), (2, 5), (3, 5), (18, 5), (19, 5)
    ]
    assert static.group_by("msg_type").len().sort("msg_type").rows() == [(5, 5), (19, 5), (24, 5)]
    # Type 19 gives a position and a static row from the same line.
    t19 = static.filter(pl.col("msg_type") == 19).row(2, named=True)
    assert (t19["source_row"], t19["mmsi"], t19["ship_name"], t19["ship_type"]) == (31, "257528390", "SEADREAM", 36)
    assert t19["imo"] is None and t19["draught_m"] is None and t19["call_sign"] is None
    assert positions.filter(pl.col("source_row") == 31)["nav_status"].to_list() == [None]
    # Type 24: part A carries only the name, part B the call sign and ship type.
    t24 = static.filter(pl.col("msg_type") == 24).select("source_row", "ship_name", "call_sign", "ship_type").rows()
    assert t24 == [
        (43, "OCEAN LIFE", None, None),
        (44, None, None, 36),
        (45, "YACTHSEA", None, None),  # spelled as transmitted
        (46, None, "VM4869", 30),
        (47, None, "ZDDP6", 37),
    ]
    # 20 types of 5 messages each (type 8 has 4): the 13 types we do not need are only counted.
    assert sum(ignored_types(result.stats).values()) == 64
    assert result.stats["messages"] == 99


def test_gfw_single_type5_has_a_bad_checksum() -> None:
    # The GFW sample's only tag-block line carries checksum 60 where its content gives 62.
    # pyais decodes it anyway (it does not check by default), so the golden file has a record
    # for it; this parser rejects it as the contract asks.
    golden = [g for g in read_jsonl(GOLDEN_TYPE5) if g["_source_file"] == GFW_SINGLE.name]
    assert len(golden) == 1

    result = parse(GFW_SINGLE)

    assert result.tables[STATIC].height == 0
    assert len(result.rejects) == 1
    reject = result.rejects[0]
    assert reject.source_row == 1
    assert reject.raw == physical_lines(GFW_SINGLE)[0]
    assert "checksum" in reject.reason and "60" in reject.reason and "62" in reject.reason


# --- a hand-made file with tag blocks --------------------------------------------------------


def xor_hex(text: str) -> str:
    value = 0
    for ch in text:
        value ^= ord(ch)
    return f"{value:02X}"


def tag(fields: str) -> str:
    """An NMEA 4.0 tag block: checksum = XOR of the characters between '\\' and '*'."""
    return f"\\{fields}*{xor_hex(fields)}\\"


def sentence(body: str) -> str:
    """'!' + body + '*' + checksum, for sentences built by hand."""
    return f"!{body}*{xor_hex(body)}"


def vdm(data: dict, seq_id: int | None = None) -> list[str]:
    return encode_dict(data, talker_id="AI", sentence_type="VDM", radio_channel="A", seq_id=seq_id)


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


T_MOORED = 1709800000  # 2024-03-07 08:26:40 UTC

TYPE1_MOORED = {
    "msg_type": 1, "mmsi": 445280000, "status": 5, "speed": 0.1, "lon": 133.0712, "lat": 42.7452,
    "course": 12.3, "heading": 45,
}
TYPE1_SENTINELS = {
    "msg_type": 1, "mmsi": 2579999, "status": 15, "speed": 102.3, "lon": 181, "lat": 91,
    "course": 360.0, "heading": 511,
}
TYPE5_TANKER = {
    "msg_type": 5, "mmsi": 445123000, "imo": 8660313, "callsign": "HMZE", "shipname": "CHON MA SAN",
    "ship_type": 80, "draught": 5.5, "destination": "VOSTOCHNY",
}
TYPE5_NO_IMO = {
    "msg_type": 5, "mmsi": 445000444, "imo": 0, "callsign": "", "shipname": "SAEBYOL  ",
    "ship_type": 84, "draught": 0, "destination": "",
}


@pytest.fixture(scope="module")
def hand_file(tmp_path_factory) -> Path:
    (t1_moored,) = vdm(TYPE1_MOORED)
    (t1_sentinels,) = vdm(TYPE1_SENTINELS)
    t5a_1, t5a_2 = vdm(TYPE5_TANKER, seq_id=3)
    t5b_1, t5b_2 = vdm(TYPE5_NO_IMO, seq_id=4)
    t5c_1, _ = vdm(TYPE5_TANKER, seq_id=9)
    _, t5d_2 = vdm(TYPE5_TANKER, seq_id=7)
    (t18,) = vdm({"msg_type": 18, "mmsi": 445000333, "lat": 42.7, "lon": 133.1, "speed": 0.3,
                  "course": 10.0, "heading": 511})
    (t24a,) = vdm({"msg_type": 24, "mmsi": 445000111, "partno": 0, "shipname": "SAEBYOL"})
    (t24b,) = vdm({"msg_type": 24, "mmsi": 445000111, "partno": 1, "callsign": "HMAB", "ship_type": 80})
    (t19,) = vdm({"msg_type": 19, "mmsi": 445000222, "shipname": "KUM UN SAN 3", "ship_type": 84,
                  "lat": 42.0, "lon": 130.0, "speed": 3.5, "course": 90.0, "heading": 91})
    (t4,) = vdm({"msg_type": 4, "mmsi": 2734449, "year": 2024})
    t1_payload = t1_moored.split(",")[5]
    bad_checksum = t1_moored[:-2] + ("00" if not t1_moored.endswith("00") else "11")

    lines = [
        tag(f"c:{T_MOORED},s:rORBCOMM000") + t1_moored,  # 1
        "",  # 2
        t1_sentinels,  # 3
        tag("g:1-2-42,c:1709800100") + t5a_1,  # 4  part 1 of seq 3
        tag("g:1-2-43,s:terrestrial") + t5b_1,  # 5  part 1 of seq 4 (no c:)
        tag("g:2-2-42,c:1709800101") + t5a_2,  # 6  seq 3 complete
        tag("g:2-2-43,c:1709800200") + t5b_2,  # 7  seq 4 complete
        tag("c:1709800250") + bad_checksum,  # 8  reject: NMEA checksum
        "\\c:1709800260*00\\" + t1_moored,  # 9  reject: tag block checksum
        "\\c:1709800270*" + t1_moored,  # 10 reject: tag block not closed
        t5d_2,  # 11 reject: part 2 without part 1
        tag("c:1709800400") + t18,  # 12
        tag("c:1709800500") + t24a,  # 13
        tag("c:1709800501") + t24b,  # 14
        t19,  # 15
        t4,  # 16 ignored type
        sentence("GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,"),  # 17 other NMEA
        "hello, I am not NMEA",  # 18 reject
        sentence(f"AIVDM,1,1,,A,{t1_payload[:16]},0"),  # 19 reject: truncated type 1
        sentence("AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00S~,0"),  # 20 reject: '~' not 6-bit
        tag("c:1709800000000") + t1_moored,  # 21 reject: c: in milliseconds
        t5c_1,  # 22 reject at end of file: never completed
    ]
    path = tmp_path_factory.mktemp("ais") / "hand.nmea"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    return path


@pytest.fixture(scope="module")
def hand(hand_file):
    return parse(hand_file)


def test_hand_file_positions(hand) -> None:
    result = hand
    assert_contract(result)
    rows = {r["source_row"]: r for r in result.tables[POS].to_dicts()}
    assert sorted(rows) == [1, 3, 12, 15]
    assert rows[1] == {
        "source_row": 1, "received_at": utc(T_MOORED), "msg_type": 1, "mmsi": "445280000",
        "latitude": 42.7452, "longitude": 133.0712, "speed_knots": 0.1, "course": 12.3,
        "heading": 45, "nav_status": 5,
    }
    assert rows[1]["received_at"] == datetime(2024, 3, 7, 8, 26, 40, tzinfo=UTC)
    # Not-available sentinels are kept as transmitted; no tag block leaves received_at null.
    assert rows[3] == {
        "source_row": 3, "received_at": None, "msg_type": 1, "mmsi": "002579999",
        "latitude": 91.0, "longitude": 181.0, "speed_knots": 102.3, "course": 360.0,
        "heading": 511, "nav_status": 15,
    }
    assert (rows[12]["msg_type"], rows[12]["nav_status"], rows[12]["heading"]) == (18, None, 511)
    assert rows[12]["received_at"] == utc(1709800400)
    assert (rows[15]["msg_type"], rows[15]["nav_status"], rows[15]["speed_knots"]) == (19, None, 3.5)


def test_hand_file_static(hand) -> None:
    result = hand
    rows = result.tables[STATIC].to_dicts()
    assert [r["source_row"] for r in rows] == [6, 7, 13, 14, 15]
    # Two-part type 5, each part with its own tag block: received_at is the first part's c:.
    assert rows[0] == {
        "source_row": 6, "received_at": utc(1709800100), "msg_type": 5, "mmsi": "445123000",
        "imo": "8660313", "call_sign": "HMZE", "ship_name": "CHON MA SAN", "ship_type": 80,
        "draught_m": 5.5, "destination": "VOSTOCHNY",
    }
    # Its first part has a tag block but no c:, so the second part's c: applies. IMO 0 is null,
    # trailing spaces go, draught 0 stays, and empty text fields are null.
    assert rows[1] == {
        "source_row": 7, "received_at": utc(1709800200), "msg_type": 5, "mmsi": "445000444",
        "imo": None, "call_sign": None, "ship_name": "SAEBYOL", "ship_type": 84,
        "draught_m": 0.0, "destination": None,
    }
    assert {k: rows[2][k] for k in ("msg_type", "mmsi", "ship_name", "call_sign", "ship_type")} == {
        "msg_type": 24, "mmsi": "445000111", "ship_name": "SAEBYOL", "call_sign": None, "ship_type": None,
    }
    assert {k: rows[3][k] for k in ("msg_type", "ship_name", "call_sign", "ship_type", "received_at")} == {
        "msg_type": 24, "ship_name": None, "call_sign": "HMAB", "ship_type": 80, "received_at": utc(1709800501),
    }
    assert {k: rows[4][k] for k in ("msg_type", "mmsi", "ship_name", "ship_type", "imo", "received_at")} == {
        "msg_type": 19, "mmsi": "445000222", "ship_name": "KUM UN SAN 3", "ship_type": 84, "imo": None,
        "received_at": None,
    }


def test_hand_file_rejects(hand, hand_file) -> None:
    result = hand
    lines = physical_lines(hand_file)
    by_row = {r.source_row: r for r in result.rejects}

    assert sorted(by_row) == [8, 9, 10, 11, 18, 19, 20, 21, 22]
    assert len(result.rejects) == 9
    for row, reject in by_row.items():
        assert reject.raw == lines[row - 1]
    assert by_row[8].reason.startswith("Bad NMEA checksum")
    assert by_row[9].reason.startswith("Malformed tag block") and "checksum" in by_row[9].reason
    assert by_row[10].reason.startswith("Malformed tag block") and "backslash" in by_row[10].reason
    assert by_row[11].reason.startswith("Orphan fragment") and "without its part 1" in by_row[11].reason
    assert by_row[18].reason.startswith("Not an NMEA sentence")
    assert by_row[19].reason.startswith("Undecodable payload") and "bits" in by_row[19].reason
    assert by_row[20].reason.startswith("Undecodable payload") and "'~'" in by_row[20].reason
    assert by_row[21].reason.startswith("Malformed tag block") and "milliseconds" in by_row[21].reason
    assert by_row[22].reason.startswith("Orphan fragment") and "end of the file" in by_row[22].reason

    assert ignored_types(result.stats) == {4: 1}
    assert result.stats["other_nmea_sentences"] == 1
    assert result.stats["blank_or_comment_lines"] == 1


def test_bom_before_first_sentence(tmp_path: Path) -> None:
    (line,) = vdm(TYPE1_MOORED)
    path = tmp_path / "bom.nmea"
    path.write_bytes(b"\xef\xbb\xbf" + tag("c:1709800000").encode() + line.encode() + b"\n")
    result = parse(path)
    assert result.rejects == []
    assert result.tables[POS]["received_at"].to_list() == [utc(1709800000)]


def test_out_of_order_part_rejects_the_whole_message(tmp_path: Path) -> None:
    part1, part2 = vdm(TYPE5_TANKER, seq_id=1)
    part3 = sentence("AIVDM,3,3,1,A,00000000000,2")
    first_of_3 = sentence("AIVDM,3,1,1,A," + part1.split(",")[5] + ",0")
    path = tmp_path / "gap.nmea"
    path.write_text("\n".join([first_of_3, part3, part1, part2]) + "\n")

    result = parse(path)

    assert [r.source_row for r in result.rejects] == [1, 2]
    assert all("part 2 is missing" in r.reason for r in result.rejects)
    assert result.tables[STATIC]["source_row"].to_list() == [4]


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n", "HTML"),
        (b"mmsi,lat,lon\n445280000,42.7,133.1\n", "not an NMEA log"),
        (b"# only a comment\n", "empty"),
        (b"$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76\n", "not an NMEA log"),
    ],
)
def test_file_that_is_not_nmea_raises(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "landed.nmea"
    path.write_bytes(content)
    with pytest.raises(ParseError, match=match):
        parse(path)


def test_garbage_lines_never_raise_when_the_file_is_nmea(tmp_path: Path) -> None:
    (line,) = vdm(TYPE1_MOORED)
    path = tmp_path / "noisy.nmea"
    path.write_bytes(b"\x00\xff\xfe binary junk\n" + line.encode() + b"\n<br>\n!AIVDM,1,1\n\\\n")
    result = parse(path)
    assert result.tables[POS].height == 1
    assert [r.source_row for r in result.rejects] == [1, 3, 4, 5]


@pytest.mark.parametrize("bits, destination", [(424, "VOSTOCHNY RUSSIA XYZ"), (422, "VOSTOCHNY RUSSIA XYZ"),
                                                (420, "VOSTOCHNY RUSSIA XY"), (418, None)])
def test_short_type5_keeps_whole_characters_only(tmp_path: Path, bits: int, destination: str | None) -> None:
    # gpsd: many transmitters send type 5 with 420 or 422 bits instead of 424; the IMO,
    # name and draught are all there, only the destination's last character may be cut.
    data = dict(TYPE5_TANKER, destination="VOSTOCHNY RUSSIA XYZ")
    full = "".join(s.split(",")[5] for s in vdm(data))
    chars = (bits + 5) // 6
    line = sentence(f"AIVDM,1,1,,A,{full[:chars]},{chars * 6 - bits}")
    path = tmp_path / "short5.nmea"
    path.write_text(line + "\n")

    result = parse(path)

    if destination is None:
        assert result.tables[STATIC].height == 0
        assert [r.reason for r in result.rejects] == [
            "Undecodable payload: type 5 needs at least 420 bits, this one has 418."
        ]
        return
    assert result.rejects == []
    row = result.tables[STATIC].row(0, named=True)
    assert (row["imo"], row["ship_name"], row["draught_m"]) == ("8660313", "CHON MA SAN", 5.5)
    assert row["destination"] == destination
