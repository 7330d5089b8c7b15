"""Parser for the UN Security Council Consolidated List XML (source kind ``un_consolidated_xml``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XMLSyntaxError

import defusedxml.ElementTree as SafeET
import polars as pl
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from tankerwatch.errors import ParseError
from tankerwatch.parsers import RAW_TABLE_COLUMNS, ParseResult, conform, empty_table

TABLE = "raw_un_designations"

_ROOT = "CONSOLIDATED_LIST"
_RECORDS = {"INDIVIDUALS": ("INDIVIDUAL", "individual"), "ENTITIES": ("ENTITY", "entity")}
_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
_ALIASES = {"INDIVIDUAL_ALIAS", "ENTITY_ALIAS"}


def parse_un_consolidated(path: Path) -> ParseResult:
    """Parse the UN SC Consolidated List into ``raw_un_designations``, one row per INDIVIDUAL or ENTITY."""
    path = Path(path)
    root = _load_root(path)
    if _local(root.tag) != _ROOT:
        raise ParseError(
            f"{path}: root element is <{root.tag}>, expected <{_ROOT}>: not a UN Consolidated List."
        )
    if not any(_local(child.tag) in _RECORDS for child in root):
        raise ParseError(f"{path}: <{_ROOT}> has neither an INDIVIDUALS nor an ENTITIES section.")

    generated_at = _clean(root.get("dateGenerated"))
    rows: dict[str, list] = {c: [] for c in RAW_TABLE_COLUMNS[TABLE]}
    for ordinal, (record_type, element) in enumerate(_records(root), start=1):
        fields = _children_by_name(element)
        if record_type == "individual":
            parts = (_clean(_text(fields.get(tag))) for tag in _NAME_PARTS)
            name = " ".join(p for p in parts if p) or None
        else:
            name = _clean(_text(fields.get("FIRST_NAME")))
        rows["source_row"].append(ordinal)
        rows["record_type"].append(record_type)
        rows["dataid"].append(_clean(_text(fields.get("DATAID"))))
        rows["reference_number"].append(_clean(_text(fields.get("REFERENCE_NUMBER"))))
        rows["name"].append(name)
        rows["un_list_type"].append(_clean(_text(fields.get("UN_LIST_TYPE"))))
        rows["listed_on"].append(_clean(_text(fields.get("LISTED_ON"))))
        rows["comments"].append(_clean(_text(fields.get("COMMENTS1"))))
        rows["aliases"].append(_aliases(element))
        rows["list_generated_at"].append(generated_at)

    if not rows["source_row"]:
        return ParseResult(tables={TABLE: empty_table(TABLE)})
    frame = pl.DataFrame(rows, schema=RAW_TABLE_COLUMNS[TABLE])
    return ParseResult(tables={TABLE: conform(TABLE, frame)})


def _load_root(path: Path) -> Element:
    if path.stat().st_size == 0:
        raise ParseError(f"{path}: the file is empty, not a UN Consolidated List.")
    # No genuine Consolidated List carries a DTD, so refusing every DTD also stops
    # entity-expansion bombs and external entities before expat expands anything.
    try:
        return SafeET.parse(path, forbid_dtd=True, forbid_entities=True, forbid_external=True).getroot()
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
        raise ParseError(f"{path}: not well-formed XML ({exc}).") from exc


def _local(tag: str) -> str:
    # Tolerate a namespace should the UN ever add one; the element names are what matter.
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _records(root: Element) -> Iterator[tuple[str, Element]]:
    """INDIVIDUAL and ENTITY elements in document order."""
    for section in root:
        wanted = _RECORDS.get(_local(section.tag))
        if wanted is None:
            continue
        element_name, record_type = wanted
        for element in section:
            if _local(element.tag) == element_name:
                yield record_type, element


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
