"""Parsers turn one landed file of a source kind into raw tables.

Contract shared by every parser:

* A parser is a function ``parse(path: pathlib.Path) -> ParseResult``.
* ``ParseResult.tables`` maps a raw table name (e.g. ``raw_ofac_sdn``) to a
  ``polars.DataFrame`` whose columns are exactly the ones listed for that table
  in ``RAW_TABLE_COLUMNS``, in that order. Values stay as faithful to the file as
  the format allows (CSV cells as strings, null where the format says null);
  typing, validation and domain rules happen in the SQL staging models.
* Every table has ``source_row``: the 1-based line (CSV, NMEA) or record (XML)
  number the row came from, so an analyst can find it in the landed file.
* A record that cannot be parsed at all goes to ``ParseResult.rejects`` with the
  line number, the raw text and a reason; it is never silently dropped.
* A file whose structure is wrong (missing column, not the expected format)
  raises ``tankerwatch.errors.ParseError`` with a message naming the problem.

The ingest layer adds the lineage columns ``source_name`` and ``snapshot_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Reject:
    """One input record that could not be parsed."""

    source_row: int
    raw: str
    reason: str


@dataclass
class ParseResult:
    tables: dict[str, pl.DataFrame]
    rejects: list[Reject] = field(default_factory=list)


# Columns of every raw table, in order. All parsers must produce exactly these.
RAW_TABLE_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    # OFAC SDN.CSV: one row per line; "-0-" (with or without trailing space) becomes null.
    "raw_ofac_sdn": {
        "source_row": pl.Int64,
        "ent_num": pl.Int64,
        "sdn_name": pl.String,
        "sdn_type": pl.String,
        "program": pl.String,
        "title": pl.String,
        "call_sign": pl.String,
        "vessel_type": pl.String,
        "tonnage": pl.String,
        "grt": pl.String,
        "vessel_flag": pl.String,
        "vessel_owner": pl.String,
        "remarks": pl.String,
    },
    # OFAC ALT.CSV: alternate names.
    "raw_ofac_alt": {
        "source_row": pl.Int64,
        "ent_num": pl.Int64,
        "alt_num": pl.Int64,
        "alt_type": pl.String,
        "alt_name": pl.String,
        "alt_remarks": pl.String,
    },
    # OFAC SDN_COMMENTS.CSV: continuation of Remarks longer than 1000 characters.
    "raw_ofac_sdn_comments": {
        "source_row": pl.Int64,
        "ent_num": pl.Int64,
        "remarks_continuation": pl.String,
    },
    # UN SC Consolidated List: one row per INDIVIDUAL or ENTITY element.
    "raw_un_designations": {
        "source_row": pl.Int64,
        "record_type": pl.String,  # 'individual' | 'entity'
        "dataid": pl.String,
        "reference_number": pl.String,
        "name": pl.String,  # entities: FIRST_NAME; individuals: names joined by spaces
        "un_list_type": pl.String,
        "listed_on": pl.String,  # as written, normally YYYY-MM-DD
        "comments": pl.String,  # COMMENTS1
        "aliases": pl.List(pl.String),  # non-empty ALIAS_NAME values
        "list_generated_at": pl.String,  # CONSOLIDATED_LIST@dateGenerated
    },
    # Vessel registry CSV: the header's columns, as strings.
    "raw_registry_vessels": {
        "source_row": pl.Int64,
        "imo": pl.String,
        "name": pl.String,
        "former_names": pl.String,
        "mmsi": pl.String,
        "call_sign": pl.String,
        "flag": pl.String,
        "vessel_type": pl.String,
        "dwt": pl.String,
        "gross_tonnage": pl.String,
        "cargo_capacity_m3": pl.String,
        "summer_draught_m": pl.String,
        "build_year": pl.String,
        "owner": pl.String,
        "updated_at": pl.String,
    },
    # Analysts' satellite-imagery log: the header's columns, as strings.
    "raw_imagery_sightings": {
        "source_row": pl.Int64,
        "sighting_id": pl.String,
        "observed_at": pl.String,
        "source": pl.String,
        "image_id": pl.String,
        "latitude": pl.String,
        "longitude": pl.String,
        "vessel_name": pl.String,
        "imo": pl.String,
        "mmsi": pl.String,
        "laden_state": pl.String,
        "load_fraction": pl.String,
        "confidence": pl.String,
        "notes": pl.String,
    },
    # AIS NMEA position reports (types 1, 2, 3, 18, 19); sentinels (lat 91, lon 181,
    # speed 102.3, heading 511) are kept as transmitted.
    "raw_ais_positions": {
        "source_row": pl.Int64,  # line of the message's last sentence
        "received_at": pl.Datetime("us", "UTC"),  # tag block c: (unix seconds)
        "msg_type": pl.Int64,
        "mmsi": pl.String,  # 9 digits, zero-padded
        "latitude": pl.Float64,
        "longitude": pl.Float64,
        "speed_knots": pl.Float64,
        "course": pl.Float64,
        "heading": pl.Int64,
        "nav_status": pl.Int64,  # null for class B
    },
    # AIS NMEA static and voyage data (type 5; type 24 and 19 name parts).
    "raw_ais_static": {
        "source_row": pl.Int64,
        "received_at": pl.Datetime("us", "UTC"),
        "msg_type": pl.Int64,
        "mmsi": pl.String,
        "imo": pl.String,  # as transmitted; null when 0 or absent
        "call_sign": pl.String,
        "ship_name": pl.String,  # trailing '@' and spaces stripped
        "ship_type": pl.Int64,
        "draught_m": pl.Float64,  # as transmitted; 0 = not available
        "destination": pl.String,
    },
}


def empty_table(name: str) -> pl.DataFrame:
    """An empty frame with the raw table's schema."""
    return pl.DataFrame(schema=RAW_TABLE_COLUMNS[name])


def conform(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Select and cast ``frame`` to the raw table's schema; a missing column is a bug."""
    schema = RAW_TABLE_COLUMNS[name]
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: parser did not produce columns {missing}")
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])
