"""Parsers for landed Global Fishing Watch API v3 JSONL (kinds ``gfw_vessels_api`` and ``gfw_port_visits_api``)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tankerwatch.parsers.jsonlines import check_cut_last_line, check_surrogates, decode_line
from tankerwatch.parsers.sink import TableSink

VESSELS_TABLE = "raw_gfw_vessels"
PORT_VISITS_TABLE = "raw_gfw_port_visits"
IDENTITY_BLOCKS = ("selfReportedInfo", "registryInfo")
# A reject keeps enough of a broken line to recognise it; the landed file has the rest.
REJECT_RAW_CHARS = 4000


class _BadRecord(ValueError):
    """A line that is JSON but not a usable record; the message is the reason."""


def parse_gfw_vessels_jsonl(path: Path, sink: TableSink) -> None:
    """One row per ``selfReportedInfo`` and per ``registryInfo`` record of each ``{"query", "entry"}`` line.

    ``gfw_vessel_id`` and ``ship_types`` come from the AIS identity the record
    belongs to: its own ``id`` for self-reported records; for registry records
    (whose ``id`` is a registry record id, not a vessel id) the one
    self-reported identity of the same entry with the same ssvid, null when
    there is none or more than one.
    """
    rows = sink.buffer(VESSELS_TABLE)
    for line_no, raw, record in _json_lines(path, sink):
        try:
            line_rows = _vessel_rows(line_no, record)
        except _BadRecord as exc:
            sink.reject(line_no, raw, str(exc))
            continue
        if not line_rows:
            sink.skip("vessel_entries_without_identity_records")
        for values in line_rows:
            rows.append(**values)


def parse_gfw_port_visits_jsonl(path: Path, sink: TableSink) -> None:
    """One row per event line; a missing ``vessel``, ``position``, ``port_visit`` or ``startAnchorage`` block gives nulls.

    Lines of another event type that carry no ``port_visit`` block are counted
    and skipped: the dataset asked for holds port visits only.
    """
    rows = sink.buffer(PORT_VISITS_TABLE)
    for line_no, raw, event in _json_lines(path, sink):
        try:
            if not isinstance(event, dict):
                raise _BadRecord(f"expected a JSON object, got a {type(event).__name__}")
            event_type = event.get("type")
            if event_type != "port_visit" and "port_visit" not in event:
                sink.skip("events_of_other_types_skipped")
                continue
            event_id = _text(event.get("id"))
            if event_id is None:
                raise _BadRecord("event has no id")
            position = _block(event, "position")
            vessel = _block(event, "vessel")
            visit = _block(event, "port_visit")
            anchorage = _block(visit, "startAnchorage")
            values = dict(
                source_row=line_no,
                event_id=event_id,
                start=_text(event.get("start")),
                end=_text(event.get("end")),
                latitude=_float(position, "lat", "position.lat"),
                longitude=_float(position, "lon", "position.lon"),
                gfw_vessel_id=_text(vessel.get("id")),
                ssvid=_text(vessel.get("ssvid")),
                vessel_name=_text(vessel.get("name")),
                vessel_flag=_text(vessel.get("flag")),
                visit_id=_text(visit.get("visitId")),
                confidence=_text(visit.get("confidence")),
                duration_hrs=_float(visit, "durationHrs", "port_visit.durationHrs"),
                anchorage_id=_text(anchorage.get("anchorageId")),
                anchorage_name=_text(anchorage.get("name")),
                anchorage_flag=_text(anchorage.get("flag")),
                anchorage_lat=_float(anchorage, "lat", "startAnchorage.lat"),
                anchorage_lon=_float(anchorage, "lon", "startAnchorage.lon"),
            )
        except _BadRecord as exc:
            sink.reject(line_no, raw, str(exc))
            continue
        if event_type != "port_visit":
            sink.count("port_visit_blocks_on_other_event_types")
        rows.append(**values)


def _json_lines(path: Path, sink: TableSink) -> Iterator[tuple[int, str, Any]]:
    """(line number, text, decoded JSON) per non-blank line; a line that is not JSON becomes a reject here.

    Undecodable text (invalid UTF-8, a lone surrogate escape) and a cut last line stop the parse."""
    path = Path(path)
    with path.open("rb") as handle:
        for line_no, data in enumerate(handle, start=1):
            if not data.strip():
                continue
            sink.record()
            text = decode_line(path, line_no, data).rstrip("\r\n")
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                check_cut_last_line(path, line_no, data, f"{exc.msg} at column {exc.colno}")
                sink.reject(line_no, _shorten(text), f"not JSON: {exc.msg} at column {exc.colno}")
                continue
            check_surrogates(path, line_no, data, value)
            yield line_no, _shorten(text), value


def _vessel_rows(line_no: int, record: Any) -> list[dict[str, Any]]:
    """Every row of one line, built before any is appended so a bad line leaves no partial rows."""
    query, entry = _vessel_line(record)
    ship_types = _ship_types_by_vessel_id(entry)
    vessel_id_by_ssvid = _unique_vessel_id_by_ssvid(entry)
    line_rows = []
    for kind in IDENTITY_BLOCKS:
        for info in _records(entry, kind):
            ssvid = _text(info.get("ssvid"))
            vessel_id = _text(info.get("id")) if kind == "selfReportedInfo" else vessel_id_by_ssvid.get(ssvid)
            line_rows.append(
                dict(
                    source_row=line_no,
                    query=query,
                    info_kind=kind,
                    gfw_vessel_id=vessel_id,
                    ssvid=ssvid,
                    imo=_text(info.get("imo")),
                    shipname=_text(info.get("shipname")),
                    callsign=_text(info.get("callsign")),
                    flag=_text(info.get("flag")),
                    ship_types=ship_types.get(vessel_id) if vessel_id else None,
                    transmission_from=_text(info.get("transmissionDateFrom")),
                    transmission_to=_text(info.get("transmissionDateTo")),
                    tonnage_gt=_text(info.get("tonnageGt")),
                )
            )
    return line_rows


def _vessel_line(record: Any) -> tuple[str | None, dict[str, Any]]:
    if not isinstance(record, dict):
        raise _BadRecord(f"expected a JSON object, got a {type(record).__name__}")
    entry = record.get("entry")
    if not isinstance(entry, dict):
        raise _BadRecord("line has no 'entry' object")
    return _text(record.get("query")), entry


def _records(entry: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    value = entry.get(kind)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _BadRecord(f"'{kind}' is not a list of objects")
    return value


def _ship_types_by_vessel_id(entry: dict[str, Any]) -> dict[str, list[str]]:
    """combinedSourcesInfo[].shiptypes[].name per vesselId, in the API's order, without repeats."""
    found: dict[str, list[str]] = {}
    combined = entry.get("combinedSourcesInfo")
    if not isinstance(combined, list):
        return found
    for info in combined:
        if not isinstance(info, dict) or not isinstance(info.get("vesselId"), str):
            continue
        names = found.setdefault(info["vesselId"], [])
        for ship_type in info.get("shiptypes") or []:
            name = ship_type.get("name") if isinstance(ship_type, dict) else None
            if isinstance(name, str) and name and name not in names:
                names.append(name)
    return found


def _unique_vessel_id_by_ssvid(entry: dict[str, Any]) -> dict[str | None, str]:
    ids: dict[str | None, set[str]] = {}
    for info in _records(entry, "selfReportedInfo"):
        vessel_id = _text(info.get("id"))
        if vessel_id is not None:
            ids.setdefault(_text(info.get("ssvid")), set()).add(vessel_id)
    return {ssvid: next(iter(found)) for ssvid, found in ids.items() if ssvid is not None and len(found) == 1}


def _block(record: dict[str, Any], name: str) -> dict[str, Any]:
    value = record.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _BadRecord(f"'{name}' is not an object")
    return value


def _text(value: Any) -> str | None:
    """A JSON scalar as the string the raw tables keep; empty strings are null, as in the CSV parsers."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    raise _BadRecord(f"expected a scalar, got {json.dumps(value)[:80]}")


def _float(block: dict[str, Any], key: str, label: str) -> float | None:
    """A coordinate or duration: the API sends numbers, and in some blocks numeric strings."""
    value = block.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _BadRecord(f"{label} is not a number: {json.dumps(value)[:80]}")
    try:
        number = float(value)
    except ValueError:
        raise _BadRecord(f"{label} is not a number: {value[:80]!r}") from None
    if not math.isfinite(number):
        raise _BadRecord(f"{label} is not a finite number: {value!r}")
    return number


def _shorten(text: str) -> str:
    return text if len(text) <= REJECT_RAW_CHARS else text[:REJECT_RAW_CHARS] + "…"
