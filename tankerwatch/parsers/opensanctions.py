"""Parser for OpenSanctions FollowTheMoney exports (kind ``opensanctions_ftm``): Vessel and Sanction entities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tankerwatch.errors import ParseError
from tankerwatch.parsers.jsonlines import check_cut_last_line, check_surrogates, decode_line
from tankerwatch.parsers.sink import RowBuffer, TableSink

VESSELS = "raw_opensanctions_vessels"
SANCTIONS = "raw_opensanctions_sanctions"

_BOM = b"\xef\xbb\xbf"
_DELTA_OPS = frozenset({"ADD", "MOD", "DEL"})

# Contract column -> the FtM properties whose values it holds, concatenated in this order.
_VESSEL_PROPERTIES: dict[str, tuple[str, ...]] = {
    "names": ("name",),
    "aliases": ("alias", "weakAlias"),
    "previous_names": ("previousName",),
    "imo_numbers": ("imoNumber",),
    "mmsis": ("mmsi",),
    "call_signs": ("callSign",),
    "flags": ("flag",),
    "past_flags": ("pastFlags",),
    "vessel_types": ("type",),
    "deadweight_tonnage": ("deadweightTonnage",),
    "gross_tonnage": ("grossRegisteredTonnage", "tonnage"),
    "build_dates": ("buildDate",),
    "topics": ("topics",),
}
_SANCTION_PROPERTIES: dict[str, tuple[str, ...]] = {
    "sanctioned_ids": ("entity",),
    "authorities": ("authority",),
    "programs": ("program", "programId"),
    "start_dates": ("startDate",),
    "listing_dates": ("listingDate",),
    "end_dates": ("endDate",),
}
# Top-level entity fields (not properties) each table keeps as plain strings.
_VESSEL_FIELDS = ("caption", "first_seen", "last_seen")
_SANCTION_FIELDS: tuple[str, ...] = ()


class _BadLine(Exception):
    """A line that is not an FtM entity (or delta) line; the message is the reason."""


def parse_opensanctions_ftm(path: Path, sink: TableSink) -> None:
    """Stream ``entities.ftm.json`` (or a delta file) line by line into the vessel and sanction tables.

    Every FtM property keeps its list of strings; an absent property is an empty
    list. Entities of other schemata are counted as ``schema:<Schema>``, delta
    lines as ``op:<ADD|MOD|DEL>`` (DEL lines carry no entity to keep). A line
    that is not a JSON object with ``id``, ``schema`` and ``properties`` is a
    reject; if the first line is not one, the file is not an FtM export at all.
    """
    path = Path(path)
    out = {
        "Vessel": (sink.buffer(VESSELS), _VESSEL_PROPERTIES, _VESSEL_FIELDS),
        "Sanction": (sink.buffer(SANCTIONS), _SANCTION_PROPERTIES, _SANCTION_FIELDS),
    }
    seen_line = False
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            sink.record()
            text = decode_line(path, number, line)
            try:
                op, entity = _entity(text)
            except _BadLine as exc:
                if not seen_line:
                    raise ParseError(_not_ftm(path, number, line, str(exc))) from None
                check_cut_last_line(path, number, raw, str(exc))
                sink.reject(number, text, str(exc))
                continue
            check_surrogates(path, number, line, entity)
            seen_line = True
            if entity is None:
                # A DEL line names an entity to drop and carries none to keep.
                sink.skip(f"op:{op}")
                continue
            if op is not None:
                sink.count(f"op:{op}")
            schema = entity["schema"]
            target = out.get(schema)
            if target is None:
                sink.skip(f"schema:{schema}")
                continue
            rows, properties, fields = target
            try:
                _append(rows, number, entity, properties, fields)
            except _BadLine as exc:
                sink.reject(number, text, str(exc))
    if not seen_line:
        raise ParseError(f"{path}: the file is empty: it holds no FollowTheMoney entities.")


def _entity(line: str) -> tuple[str | None, dict[str, Any] | None]:
    """The delta op (None on an export line) and the entity of a line; a DEL line has no entity to keep."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise _BadLine(f"Not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise _BadLine(f"Not a JSON object but a JSON {type(data).__name__}.")
    op = None
    if "op" in data and "schema" not in data:
        op = data["op"]
        if not isinstance(op, str) or op not in _DELTA_OPS:
            raise _BadLine(f"Delta line with op {op!r}; expected ADD, MOD or DEL.")
        if op == "DEL":
            return op, None
        data = data.get("entity")
        if not isinstance(data, dict):
            raise _BadLine(f"Delta {op} line without an entity object.")
    missing = [key for key in ("id", "schema", "properties") if key not in data]
    if missing:
        raise _BadLine(f"Not an FtM entity: no {', '.join(missing)}.")
    if not isinstance(data["id"], str) or not data["id"]:
        raise _BadLine("Not an FtM entity: id is not a non-empty string.")
    if not isinstance(data["schema"], str) or not data["schema"]:
        raise _BadLine("Not an FtM entity: schema is not a non-empty string.")
    if not isinstance(data["properties"], dict):
        raise _BadLine("Not an FtM entity: properties is not an object.")
    return op, data


def _append(
    rows: RowBuffer,
    number: int,
    entity: dict[str, Any],
    properties: dict[str, tuple[str, ...]],
    fields: tuple[str, ...],
) -> None:
    props = entity["properties"]
    values: dict[str, Any] = {}
    for column, names in properties.items():
        combined: list[str] = []
        for name in names:
            combined.extend(_strings(props.get(name), f"property {name!r}"))
        values[column] = combined
    values["datasets"] = _strings(entity.get("datasets"), "datasets")
    for field in fields:
        values[field] = _optional_string(entity, field)
    rows.append(source_row=number, entity_id=entity["id"], **values)


def _strings(value: Any, label: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadLine(f"Not an FtM entity: {label} is not a list of strings.")
    return value


def _optional_string(entity: dict[str, Any], key: str) -> str | None:
    value = entity.get(key)
    if value is not None and not isinstance(value, str):
        raise _BadLine(f"Not an FtM entity: {key} is not a string.")
    return value


def _not_ftm(path: Path, number: int, line: bytes, problem: str) -> str:
    head = line.lstrip()[:60].decode("utf-8", "replace")
    if head.startswith("<"):
        looks_like = "it starts with '<', like an HTML or XML page"
    elif head in ("{", "["):
        looks_like = "it looks like pretty-printed JSON (an index.json?), not one entity per line"
    else:
        looks_like = "every line of an FtM export is one JSON entity"
    reason = problem[0].lower() + problem[1:].rstrip(".")
    return (
        f"{path}: not an OpenSanctions FollowTheMoney export: its first line (line {number}) does not "
        f"parse ({reason}); {looks_like}. It begins {head!r}."
    )
