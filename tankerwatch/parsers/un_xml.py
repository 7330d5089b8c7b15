"""Parser for the UN Security Council Consolidated List XML (source kind ``un_consolidated_xml``)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XMLSyntaxError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from tankerwatch.errors import ParseError
from tankerwatch.parsers.sink import RowBuffer, TableSink

TABLE = "raw_un_designations"

_ROOT = "CONSOLIDATED_LIST"
_RECORDS = {"INDIVIDUALS": ("INDIVIDUAL", "individual"), "ENTITIES": ("ENTITY", "entity")}
_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
_ALIASES = {"INDIVIDUAL_ALIAS", "ENTITY_ALIAS"}


def parse_un_consolidated(path: Path, sink: TableSink) -> None:
    """Parse the UN SC Consolidated List into ``raw_un_designations``, one row per INDIVIDUAL or ENTITY."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise ParseError(f"{path}: the file is empty, not a UN Consolidated List.")
    rows = sink.buffer(TABLE)
    try:
        with path.open("rb") as handle:
            saw_section = _stream_records(path, handle, rows, sink)
    except DTDForbidden as exc:
        raise ParseError(
            f"{path}: refused: the XML declares a DTD (<!DOCTYPE {exc.name}>), which can define "
            "expanding or external entities; the UN Consolidated List has none."
        ) from exc
    except EntitiesForbidden as exc:
        raise ParseError(f"{path}: refused: the XML declares the entity {exc.name!r}.") from exc
    except ExternalReferenceForbidden as exc:
        raise ParseError(
            f"{path}: refused: the XML references an external resource ({exc.sysid or exc.pubid})."
        ) from exc
    except DefusedXmlException as exc:
        raise ParseError(f"{path}: refused unsafe XML ({type(exc).__name__}: {exc}).") from exc
    except XMLSyntaxError as exc:
        # expat reports a file that stops before its root is closed as 'no element found' at the last line.
        raise ParseError(f"{path}: not well-formed XML ({exc}); a file cut short ends this way too.") from exc
    if not saw_section:
        raise ParseError(f"{path}: <{_ROOT}> has neither an INDIVIDUALS nor an ENTITIES section.")


def _stream_records(path: Path, handle: BinaryIO, rows: RowBuffer, sink: TableSink) -> bool:
    """Append one row per record as its end tag is read; True if a record section was seen.

    Depth 1 is the root, 2 a section, 3 a record. Each finished record (and each
    finished section) is detached from its parent, so the tree never holds more
    than the record being read, whatever the size of the list.
    """
    # No genuine Consolidated List carries a DTD, so refusing every DTD also stops
    # entity-expansion bombs and external entities before expat expands anything.
    events = SafeET.iterparse(
        handle, events=("start", "end"), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    root: Element | None = None
    section: Element | None = None
    wanted: tuple[str, str] | None = None
    generated_at: str | None = None
    saw_section = False
    ordinal = 0
    depth = 0
    for event, element in events:
        if event == "start":
            depth += 1
            if depth == 1:
                if _local(element.tag) != _ROOT:
                    raise ParseError(
                        f"{path}: root element is <{element.tag}>, expected <{_ROOT}>: not a UN Consolidated List."
                    )
                root = element
                generated_at = _clean(element.get("dateGenerated"))
            elif depth == 2:
                section = element
                wanted = _RECORDS.get(_local(element.tag))
                saw_section = saw_section or wanted is not None
            continue

        if depth == 3:
            # Every element inside a section is a record read: a designation, or one of another kind skipped.
            sink.record()
            if wanted is not None and _local(element.tag) == wanted[0]:
                ordinal += 1
                _append_record(rows, ordinal, wanted[1], element, generated_at)
            else:
                sink.skip(f"element:{_local(element.tag)}")
            section.remove(element)
        elif depth == 2:
            root.remove(element)
        depth -= 1
    return saw_section


def _append_record(rows: RowBuffer, ordinal: int, record_type: str, element: Element, generated_at: str | None) -> None:
    fields = _children_by_name(element)
    if record_type == "individual":
        parts = (_clean(_text(fields.get(tag))) for tag in _NAME_PARTS)
        name = " ".join(p for p in parts if p) or None
    else:
        name = _clean(_text(fields.get("FIRST_NAME")))
    rows.append(
        source_row=ordinal,
        record_type=record_type,
        dataid=_clean(_text(fields.get("DATAID"))),
        reference_number=_clean(_text(fields.get("REFERENCE_NUMBER"))),
        name=name,
        un_list_type=_clean(_text(fields.get("UN_LIST_TYPE"))),
        listed_on=_clean(_text(fields.get("LISTED_ON"))),
        comments=_clean(_text(fields.get("COMMENTS1"))),
        aliases=_aliases(element),
        list_generated_at=generated_at,
    )


def _local(tag: str) -> str:
    # Tolerate a namespace should the UN ever add one; the element names are what matter.
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children_by_name(element: Element) -> dict[str, Element]:
    found: dict[str, Element] = {}
    for child in element:
        found.setdefault(_local(child.tag), child)
    return found


def _aliases(element: Element) -> list[str]:
    # The list writes empty placeholders (<ALIAS_NAME/>) for records without aliases.
    names = []
    for alias in element:
        if _local(alias.tag) not in _ALIASES:
            continue
        for part in alias:
            if _local(part.tag) == "ALIAS_NAME":
                name = _clean(_text(part))
                if name:
                    names.append(name)
    return names


def _text(element: Element | None) -> str | None:
    return None if element is None else "".join(element.itertext())


def _clean(value: str | None) -> str | None:
    """Whitespace runs (including the list's hard line breaks) collapsed; empty becomes null."""
    if value is None:
        return None
    return " ".join(value.split()) or None
