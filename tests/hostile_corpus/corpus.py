"""The hostile corpus: inputs written the way real publishers and operators write them, each derived from the
bundled demo (or from a whole real file under /work/shared/reference), one function per file it makes."""

from __future__ import annotations

import csv
import io
import re
import shutil
from functools import reduce
from pathlib import Path

from pyais import decode as ais_decode
from pyais.encode import encode_dict
from stdnum import imo as stdnum_imo

from tankerwatch.settings import REPO_ROOT

DEMO = REPO_ROOT / "demo"
REFERENCE = Path("/work/shared/reference")
OFAC_FULL = REFERENCE / "ofac" / "sdn_full_2022.csv"
OPENSANCTIONS_SAMPLE = REFERENCE / "opensanctions" / "entities_ftm_sample_eu_fsf_2024.json"

# Values no demo row carries, so a reject, a published row or a leak can be traced to the case that made it.
MARK = "HOSTILE"
THIRTY_BIT_MMSI = 1073741823  # the largest 30-bit AIS user id: a valid field value, not a 9-digit MMSI
SECRET_USER = "twuser0c6d1f2a9b7e4411"  # a token in the URL's user part
SECRET_SIG = "twsig5b3e8c71d04a9f26"  # a token in a secret-named query value


def copy_demo(dst: Path) -> Path:
    """A writable copy of the demo bundle (without its ground truth and generator)."""
    shutil.copytree(DEMO, dst, ignore=shutil.ignore_patterns("truth", "*.py", "__pycache__"))
    return dst


def imo_with_check_digit(six: str) -> str:
    """A valid ship IMO number: six digits and their check digit."""
    return six + stdnum_imo.calc_check_digit(six)


def csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def tag_block(body: str) -> str:
    checksum = reduce(lambda acc, ch: acc ^ ord(ch), body, 0)
    return f"\\{body}*{checksum:02X}\\"


def _ais_lines(demo: Path) -> list[str]:
    return (demo / "sightings" / "ais_2024.nmea").read_text(encoding="utf-8").splitlines()


def _write_ais(demo: Path, lines: list[str]) -> None:
    (demo / "sightings" / "ais_2024.nmea").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _first_position(lines: list[str]) -> tuple[int, int, dict]:
    """(line index, tag-block seconds, decoded fields) of the feed's first single-sentence position report."""
    for index, line in enumerate(lines):
        match = re.fullmatch(r"\\c:(\d+)\*[0-9A-F]{2}\\(!AIVDM,1,1,.*)", line)
        if match:
            fields = ais_decode(match.group(2)).asdict()
            if fields["msg_type"] in (1, 2, 3):
                return index, int(match.group(1)), fields
    raise AssertionError("the demo AIS feed has no single-sentence position report")


def _position_sentence(fields: dict, **changes) -> str:
    data = {"type": 1, "mmsi": fields["mmsi"], "lat": fields["lat"], "lon": fields["lon"], "speed": fields["speed"],
            "course": fields["course"], "heading": fields["heading"], "second": fields["second"], **changes}
    return encode_dict(data, talker_id="AI", sentence_type="VDM", radio_channel="B")[0]


# -- AIS ------------------------------------------------------------------------------------------------


def ais_same_second_repeat(demo: Path) -> int:
    """Two receivers: one MMSI reports a second, different position in the same tag-block second."""
    lines = _ais_lines(demo)
    index, seconds, fields = _first_position(lines)
    repeat = tag_block(f"c:{seconds}") + _position_sentence(fields, lat=fields["lat"] + 0.002,
                                                            lon=fields["lon"] + 0.003)
    lines.insert(index + 1, repeat)
    _write_ais(demo, lines)
    return 1


def ais_thirty_bit_mmsi(demo: Path) -> int:
    """A position from MMSI 1073741823 (30 bits, 10 digits): well-formed AIS, not a plausible ship MMSI."""
    lines = _ais_lines(demo)
    index, seconds, fields = _first_position(lines)
    lines.insert(index + 1, tag_block(f"c:{seconds + 7}") + _position_sentence(
        fields, mmsi=THIRTY_BIT_MMSI, lat=38.5, lon=134.5))
    _write_ais(demo, lines)
    return 1


def ais_implausible_tag_blocks(demo: Path) -> int:
    """A demo tanker's own position re-sent with tag-block times c:0 (1970) and an 11-digit c: (year 5000+)."""
    lines = _ais_lines(demo)
    index, _, _ = _first_position(lines)
    sentence = lines[index].split("\\")[-1]
    lines[index + 1:index + 1] = [tag_block("c:0") + sentence, tag_block("c:17104883780") + sentence]
    _write_ais(demo, lines)
    return 2


# -- imagery --------------------------------------------------------------------------------------------

IMAGERY = ("sightings", "imagery_2024.csv")


def _imagery_rows(demo: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (demo / Path(*IMAGERY)).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _append_imagery(demo: Path, rows: list[dict[str, str]]) -> None:
    header, existing = _imagery_rows(demo)
    template = dict(existing[0])
    with (demo / Path(*IMAGERY)).open("a", encoding="utf-8", newline="") as handle:
        for row in rows:
            handle.write(csv_line([{**template, "notes": MARK, **row}.get(name, "") for name in header]))


def imagery_rows_staging_rejects(demo: Path) -> dict[str, str]:
    """Analyst rows of a demo tanker with a bad IMO, a short MMSI, a load fraction above 1 and off-globe coordinates."""
    _, rows = _imagery_rows(demo)
    base = {"observed_at": "2024-08-20T03:00:00Z", "imo": rows[0]["imo"], "mmsi": rows[0]["mmsi"],
            "latitude": "39.0", "longitude": "134.0", "laden_state": "laden", "load_fraction": "0.9"}
    bad = {
        "HOSTILE-IMO": ({"imo": "1234568"}, r"imo"),
        "HOSTILE-MMSI": ({"mmsi": "12345"}, r"mmsi"),
        "HOSTILE-LOAD": ({"load_fraction": "1.7"}, r"load.?fraction|fraction"),
        "HOSTILE-LAT": ({"latitude": "91.5"}, r"latitude|coordinate|position"),
        "HOSTILE-LON": ({"longitude": "181.0"}, r"longitude|coordinate|position"),
    }
    _append_imagery(demo, [{**base, "sighting_id": key, **change} for key, (change, _) in bad.items()])
    return {key: reason for key, (_, reason) in bad.items()}


def imagery_implausible_times(demo: Path) -> dict[str, str]:
    """Analyst rows of a demo tanker timed +99:00, in the year 0001 and in the year 3024."""
    _, rows = _imagery_rows(demo)
    base = {"imo": rows[0]["imo"], "mmsi": rows[0]["mmsi"], "latitude": "39.0", "longitude": "134.0",
            "laden_state": "laden", "load_fraction": "0.9"}
    bad = {
        "HOSTILE-OFFSET": "2024-08-20T03:00:00+99:00",
        "HOSTILE-YEAR-0001": "0001-08-20T03:00:00Z",
        "HOSTILE-YEAR-3024": "3024-08-20T03:00:00Z",
    }
    _append_imagery(demo, [{**base, "sighting_id": key, "observed_at": value} for key, value in bad.items()])
    return {key: r"observed_at|offset|time|year|date" for key in bad}


# -- registry -------------------------------------------------------------------------------------------

REGISTRY = ("registry", "tankers.csv")


def _registry(demo: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (demo / Path(*REGISTRY)).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write_registry(demo: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    text = csv_line(header) + "".join(csv_line([row.get(name) or "" for name in header]) for row in rows)
    (demo / Path(*REGISTRY)).write_text(text, encoding="utf-8")


def registry_rows_staging_rejects(demo: Path) -> dict[str, str]:
    """New tankers (valid IMOs) with a short MMSI, a negative dwt and capacity, a zero draught, a worded build year."""
    header, rows = _registry(demo)
    base = {"flag": "KP", "vessel_type": "tanker", "dwt": "3000", "cargo_capacity_m3": "3500",
            "summer_draught_m": "5.5", "build_year": "1995", "updated_at": "2024-11-27"}
    bad = {
        "HOSTILE MMSI": ({"mmsi": "12345"}, r"mmsi"),
        "HOSTILE DWT": ({"dwt": "-100"}, r"dwt"),
        "HOSTILE CAPACITY": ({"cargo_capacity_m3": "-5"}, r"cargo_capacity|capacity"),
        "HOSTILE DRAUGHT": ({"summer_draught_m": "0"}, r"draught"),
        "HOSTILE BUILD YEAR": ({"build_year": "nineteen ninety"}, r"build.?year|year"),
    }
    for number, (name, (change, _)) in enumerate(bad.items()):
        rows.append({**base, "imo": imo_with_check_digit(f"99{number:04d}"), "name": name, **change})
    _write_registry(demo, header, rows)
    return {name: reason for name, (_, reason) in bad.items()}


def registry_dwt_nan(demo: Path) -> dict[str, str]:
    """A new tanker whose dwt is the float text NaN (not a number, yet a valid float parse)."""
    header, rows = _registry(demo)
    rows.append({"imo": imo_with_check_digit("990100"), "name": "HOSTILE DWT NAN", "flag": "KP",
                 "vessel_type": "tanker", "dwt": "NaN", "summer_draught_m": "5.5", "updated_at": "2024-11-27"})
    _write_registry(demo, header, rows)
    return {"HOSTILE DWT NAN": r"dwt"}


def registry_invalid_utf8(demo: Path) -> int:
    """The registry with one vessel name in Latin-1 (byte 0xC9) among UTF-8 text; returns that physical line."""
    path = demo / Path(*REGISTRY)
    lines = path.read_bytes().splitlines(keepends=True)
    lines.append("{},H\xc9STILE LATIN1,,,,KP,tanker,3000,,,5.5,1995,,2024-11-27\n".format(
        imo_with_check_digit("990200")).encode("latin-1"))
    path.write_bytes(b"".join(lines))
    return len(lines)


def registry_cut_last_line(demo: Path) -> None:
    """The registry as a copy interrupted mid-way would leave it: the last record cut inside a field, no newline."""
    path = demo / Path(*REGISTRY)
    data = path.read_bytes().rstrip(b"\n")
    last = data.rfind(b"\n")
    path.write_bytes(data[:last + 1 + (len(data) - last) // 2])


# -- sanctions -------------------------------------------------------------------------------------------


def ofac_full(demo: Path) -> Path:
    """The whole real OFAC SDN.CSV of 2022 (every program, 509 vessels) in place of the DPRK excerpt."""
    target = demo / "sanctions" / "sdn_full_2022.csv"
    shutil.copyfile(OFAC_FULL, target)
    return target


def _check_digit_ok(number: str) -> bool:
    return len(number) == 7 and stdnum_imo.is_valid(number)


def ofac_vessel_identifiers(path: Path) -> tuple[set[str], set[str]]:
    """Independently of tankerwatch: (every valid ship IMO in a vessel row's remarks, the MMSIs of vessel rows
    that carry no valid IMO at all)."""
    imos, mmsis = set(), set()
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        for row in csv.reader(handle):
            if len(row) < 12 or row[2].strip().lower() != "vessel":
                continue
            remarks = row[11]
            found = {m for m in re.findall(r"IMO\W{0,5}(\d{7})(?!\d)", remarks) if _check_digit_ok(m)}
            imos |= found
            if not found:
                mmsis |= set(re.findall(r"MMSI\W{0,5}(\d{9})(?!\d)", remarks))
    return imos, mmsis


def opensanctions_lone_surrogate(folder: Path) -> tuple[Path, int]:
    """The real OpenSanctions FtM sample with one name escaped as a lone UTF-16 surrogate (\\ud800); returns the line."""
    lines = OPENSANCTIONS_SAMPLE.read_text(encoding="utf-8").splitlines()
    line = 2
    lines[line - 1] = lines[line - 1].replace('"name":["', '"name":["\\ud800', 1)
    assert "\\ud800" in lines[line - 1]
    target = folder / "entities_lone_surrogate.ftm.json"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target, line


def un_with_external_entity(demo: Path) -> None:
    """The demo UN list with an external entity declared and used: defusedxml must refuse it."""
    path = demo / "sanctions" / "un_consolidated_dprk_20260227.xml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("<CONSOLIDATED_LIST", '<!DOCTYPE CONSOLIDATED_LIST [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
                                              "\n<CONSOLIDATED_LIST", 1)
    path.write_text(text.replace("KOREA YUJONG SHIPPING CO LTD", "&e;", 1), encoding="utf-8")


# -- sources files -----------------------------------------------------------------------------------------


def sources_with_anchors(demo: Path) -> None:
    """The demo sources file sharing fetch settings through a YAML anchor, an alias and a merge key."""
    path = demo / "sources.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("    kind: registry_csv\n", "    kind: registry_csv\n    <<: &patient\n"
                                                     "      retries: 2\n      read_timeout_s: 30\n", 1)
    text = text.replace("    kind: imagery_sightings_csv\n", "    kind: imagery_sightings_csv\n    <<: *patient\n", 1)
    path.write_text(text, encoding="utf-8")


def sources_with_duplicate_name(demo: Path) -> None:
    """The demo sources file naming `tanker_registry` twice; YAML keeps only the last one silently."""
    path = demo / "sources.yaml"
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text + "\n  tanker_registry:\n    kind: registry_csv\n    url: registry/tankers.csv\n",
                    encoding="utf-8")
