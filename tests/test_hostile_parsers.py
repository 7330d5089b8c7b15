"""Property-based tests: whatever bytes a publisher or analyst sends, every parser either parses them or raises
tankerwatch's own clear error (ParseError, SourcesFileError), never a bare KeyError, UnicodeDecodeError or worse.

Derandomized with bounded examples, so CI explores the same inputs on every run.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from functools import reduce
from operator import xor
from pathlib import Path

import polars as pl
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tankerwatch.errors import ParseError, SourcesFileError, TankerwatchError
from tankerwatch.ingest import KIND_PARSERS
from tankerwatch.parsers import RAW_TABLE_COLUMNS
from tankerwatch.parsers.ais_nmea import parse_ais_nmea
from tankerwatch.parsers.imagery import IMAGERY_COLUMNS, parse_imagery_csv
from tankerwatch.parsers.ofac import parse_alt_csv, parse_sdn_comments_csv, parse_sdn_csv
from tankerwatch.parsers.registry import REGISTRY_COLUMNS, parse_registry_csv
from tankerwatch.parsers.sink import parse_in_memory
from tankerwatch.sources import KINDS, load_sources

PROPERTY = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text that hurts CSV and line-based parsers: separators, quotes, line breaks of every kind, NUL, BOM,
# the DOS end-of-file byte, non-Latin letters, a lone surrogate's UTF-8 neighbours.
NASTY_CHARS = st.sampled_from(list(',"\'\r\n\t\x00\x1a\ufeff\u2028\\!$*<>-0 ;') + ["é", "Ж", "\u0085", "😀"])
CELL = st.text(alphabet=st.one_of(NASTY_CHARS, st.characters(codec="utf-8")), max_size=30)
RAW_BYTES = st.binary(max_size=600)


def _parse(parser, data: bytes):
    """Parse ``data`` as a file; return the result, or None when the parser refused it with a ParseError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "landed"
        path.write_bytes(data)
        try:
            result = parse_in_memory(parser, path)
        except ParseError as exc:
            assert str(exc), "a ParseError must say what is wrong"
            return None
    for table, frame in result.tables.items():
        assert frame.schema == pl.Schema(RAW_TABLE_COLUMNS[table])
    return result


def _csv_bytes(rows: list[list[str]], newline: str = "\n", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows(rows)
    return buffer.getvalue().encode(encoding, errors="surrogatepass")


# -- headed CSVs: imagery log and registry ------------------------------------------------------------


@PROPERTY
@given(rows=st.lists(st.lists(CELL, min_size=0, max_size=16), max_size=8), bom=st.booleans(),
       newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_imagery_csv_with_any_cells_parses_or_is_refused_clearly(rows, bom, newline):
    data = _csv_bytes([list(IMAGERY_COLUMNS), *rows], newline)
    _parse(parse_imagery_csv, (b"\xef\xbb\xbf" if bom else b"") + data)


@PROPERTY
@given(rows=st.lists(st.lists(CELL, min_size=len(IMAGERY_COLUMNS), max_size=len(IMAGERY_COLUMNS)), max_size=6))
def test_imagery_cells_round_trip_stripped_with_empty_as_null(rows):
    # csv.writer quotes what needs quoting; every cell must come back as written (stripped, '' -> null).
    # (CRLF line ends: with a bare LF terminator csv.writer leaves a lone CR unquoted, which is not CSV.)
    result = _parse(parse_imagery_csv, _csv_bytes([list(IMAGERY_COLUMNS), *rows], "\r\n"))
    assert result is not None and result.rejects == []
    frame = result.tables.get("raw_imagery_sightings", pl.DataFrame(schema=list(IMAGERY_COLUMNS)))
    assert frame.select(IMAGERY_COLUMNS).rows() == [
        tuple(cell.strip() or None for cell in row) for row in rows
    ]


@PROPERTY
@given(data=RAW_BYTES)
def test_imagery_csv_of_random_bytes_parses_or_is_refused_clearly(data):
    _parse(parse_imagery_csv, data)


@PROPERTY
@given(header=st.lists(st.sampled_from([*REGISTRY_COLUMNS, "", "IMO ", "extra", "name"]), max_size=18),
       rows=st.lists(st.lists(CELL, max_size=16), max_size=6))
def test_registry_csv_with_any_header_and_cells_parses_or_is_refused_clearly(header, rows):
    _parse(parse_registry_csv, _csv_bytes([header, *rows]))


@PROPERTY
@given(data=RAW_BYTES)
def test_registry_csv_of_random_bytes_parses_or_is_refused_clearly(data):
    _parse(parse_registry_csv, b"imo,name\n" + data)


# -- OFAC legacy CSVs ---------------------------------------------------------------------------------

OFAC_FIELD = st.one_of(st.just("-0- "), st.just("-0-"), st.from_regex(r"[0-9]{1,20}", fullmatch=True), CELL)


@PROPERTY
@given(rows=st.lists(st.lists(OFAC_FIELD, min_size=10, max_size=13), max_size=6),
       encoding=st.sampled_from(["utf-8", "cp1252"]), eof=st.booleans())
def test_ofac_files_with_any_fields_parse_or_are_refused_clearly(rows, encoding, eof):
    data = _csv_bytes(rows, "\r\n", "utf-8")
    if encoding == "cp1252":
        data = data.decode("utf-8", "surrogatepass").encode("cp1252", errors="replace")
    data += b"\x1a" if eof else b""
    for parser in (parse_sdn_csv, parse_alt_csv, parse_sdn_comments_csv):
        _parse(parser, data)


# Any text but line breaks (OFAC's records are lines) and the end-of-file byte.
REMARKS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x1a\x00"), max_size=200)


@PROPERTY
@given(remarks=REMARKS)
def test_ofac_remarks_of_any_text_are_kept_exactly(remarks):
    # Remarks carry the IMO ("Vessel Registration Identification IMO 8604917") and may be anything else.
    row = ["12345", "CHONG RIM 2", "vessel", "DPRK", "-0- ", "-0- ", "Oil Tanker", "-0- ", "-0- ", "Korea, North",
           "-0- ", remarks]
    result = _parse(parse_sdn_csv, _csv_bytes([row], "\r\n") + b"\x1a")
    assert result is not None and result.rejects == []
    [got] = result.tables["raw_ofac_sdn"]["remarks"].to_list()
    assert got == (None if remarks.strip() == "-0-" else remarks)


@PROPERTY
@given(data=RAW_BYTES)
def test_ofac_random_bytes_parse_or_are_refused_clearly(data):
    _parse(parse_sdn_csv, data)


# -- AIS NMEA: sentences and tag blocks ---------------------------------------------------------------

PAYLOAD_CHARS = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"


def _checksum(text: str) -> str:
    return f"{reduce(xor, text.encode('latin-1', 'replace'), 0):02X}"


@st.composite
def nmea_lines(draw) -> str:
    count = draw(st.integers(0, 10))
    fields = [
        draw(st.sampled_from(["AIVDM", "AIVDO", "BSVDM", "GPGGA", "AIVD"])),
        str(count),
        str(draw(st.integers(0, count + 1))),
        draw(st.sampled_from(["", "1", "9", "x"])),
        draw(st.sampled_from(["A", "B", "", "AB"])),
        draw(st.text(alphabet=PAYLOAD_CHARS + "xyz!*,", max_size=90)),
        str(draw(st.integers(0, 7))),
    ]
    if draw(st.booleans()):
        fields = draw(st.lists(st.text(alphabet=PAYLOAD_CHARS + ",", max_size=12), max_size=9))
    body = ",".join(fields)
    checksum = _checksum(body) if draw(st.integers(0, 9)) else draw(st.text(max_size=3))
    sentence = f"!{body}*{checksum}"
    if draw(st.booleans()):
        tags = draw(st.lists(st.one_of(
            st.builds(lambda v: f"c:{v}", st.one_of(st.integers(-10, 2**70), st.text(max_size=6))),
            st.builds(lambda v: f"s:{v}", st.text(alphabet="abc:,*\\", max_size=6)),
            st.text(max_size=6),
        ), max_size=3))
        block = ",".join(tags)
        tag_checksum = _checksum(block) if draw(st.integers(0, 5)) else draw(st.text(max_size=3))
        sentence = f"\\{block}*{tag_checksum}\\" + sentence
    return sentence


@PROPERTY
@given(lines=st.lists(st.one_of(nmea_lines(), CELL), min_size=1, max_size=12))
def test_nmea_logs_of_any_sentences_and_tag_blocks_parse_or_are_refused_clearly(lines):
    _parse(parse_ais_nmea, "\n".join(lines).encode("utf-8", errors="surrogatepass"))


@PROPERTY
@given(data=RAW_BYTES)
def test_nmea_random_bytes_parse_or_are_refused_clearly(data):
    _parse(parse_ais_nmea, b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\n" + data)


# -- the sources file ---------------------------------------------------------------------------------

YAML_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), CELL,
              st.sampled_from(sorted(KINDS)), st.sampled_from(["../../etc/passwd", "file:///etc/passwd", "a.csv"])),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.one_of(CELL, st.sampled_from(["kind", "url", "retries", "max_bytes",
                                                                               "on_fetch_error", "allow_insecure_http",
                                                                               "read_timeout_s", "alt_url"])),
                                               children, max_size=5)),
    max_leaves=12,
)


def _load(text: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sources.yaml"
        path.write_bytes(text)
        try:
            sources = load_sources(path)
            for source in sources:
                source.fetch_options()
        except SourcesFileError as exc:
            assert str(exc)


@PROPERTY
@given(document=st.dictionaries(st.sampled_from(["sources", "other"]),
                                st.dictionaries(CELL, YAML_VALUES, max_size=3), max_size=2))
def test_any_sources_document_loads_or_is_refused_clearly(document):
    _load(yaml.safe_dump(document, allow_unicode=True).encode("utf-8"))


@PROPERTY
@given(data=st.one_of(RAW_BYTES, CELL.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_any_sources_bytes_load_or_are_refused_clearly(data):
    _load(data)


def test_every_error_class_is_a_tankerwatch_error():
    assert issubclass(ParseError, TankerwatchError) and issubclass(SourcesFileError, TankerwatchError)


# -- every other parser, on random bytes ----------------------------------------------------------------

OTHER_PARSERS = sorted(
    {parser for parsers in KIND_PARSERS.values() for parser in parsers.values()}
    - {parse_imagery_csv, parse_registry_csv, parse_ais_nmea, parse_sdn_csv},
    key=lambda parser: parser.__name__,
)


@PROPERTY
@given(data=RAW_BYTES, parser=st.sampled_from(OTHER_PARSERS))
def test_every_other_parser_on_random_bytes_parses_or_is_refused_clearly(data, parser):
    _parse(parser, data)


JSON_KEYS = st.sampled_from(["id", "schema", "caption", "properties", "entity", "name", "imoNumber", "datasets",
                             "first_seen", "registryInfo", "selfReportedInfo", "vessel", "ssvid", "start", "end",
                             "position", "lat", "lon", "port_visit", "type", "query", "entries", "startAnchorage"])
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False), CELL,
              st.sampled_from(["Vessel", "Sanction", "port_visit", "IMO8604917"])),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(JSON_KEYS, children, max_size=5)),
    max_leaves=15,
)
JSON_PARSERS = sorted(
    {parser for kind, parsers in KIND_PARSERS.items() if kind.startswith(("opensanctions", "gfw"))
     for parser in parsers.values()},
    key=lambda parser: parser.__name__,
)


@PROPERTY
@given(lines=st.lists(JSON_VALUES, min_size=1, max_size=6), parser=st.sampled_from(JSON_PARSERS))
def test_json_line_parsers_on_any_json_parse_or_are_refused_clearly(lines, parser):
    _parse(parser, "\n".join(json.dumps(line) for line in lines).encode("utf-8", "surrogatepass"))
