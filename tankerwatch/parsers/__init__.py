"""Parsers turn one landed file of a source kind into raw tables.

Contract shared by every parser:

* A parser is a function ``parse(path: pathlib.Path, sink: TableSink) -> None``
  (``tankerwatch.parsers.sink``). It reads the file as a stream and appends rows
  with ``sink.buffer(table).append(column=value, ...)``; the sink spills full
  batches to parquet, so no parser holds a whole large file in Python objects.
  ``parse_in_memory(parser, path)`` collects a ``ParseResult`` for tests.
* Each raw table's columns are exactly the ones listed in ``RAW_TABLE_COLUMNS``,
  in that order. Values stay as faithful to the file as the format allows (CSV
  cells as strings, null where the format says null); typing, validation and
  domain rules happen in the SQL staging models.
* Every table has ``source_row``: the 1-based line (CSV, NMEA) or record (XML)
  number the row came from, so an analyst can find it in the landed file.
* A record that cannot be parsed at all goes to ``sink.reject(line, raw, reason)``;
  it is never silently dropped. Records skipped on purpose (e.g. AIS message types
  tankerwatch does not use) are counted with ``sink.skip(name)``; other counters
  (lines, sentences) with ``sink.count(name)``.
* Every record read is counted with ``sink.record()`` where the parser reads it,
  apart from the rows it writes, so that read = rows + rejects + skipped (+ merged)
  can be checked per snapshot. What a record is, per kind: a non-blank CSV record
  after the header (registry, imagery, DMA, UK list; the UK list's 'Report Date'
  line is not one), a non-blank line (OFAC, OpenSanctions and GFW JSON lines), a
  non-blank, non-comment line (NMEA: the earlier sentences of a multi-sentence
  message are ``sink.merge``d into its last one), an element inside a section of
  the UN list.
* A file cut short (its last record incomplete) or holding undecodable text raises
  ``ParseError`` naming the line: fewer rows must never pass for the whole file.
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
    """A whole parse in memory: for tests and small files."""

    tables: dict[str, pl.DataFrame]
    rejects: list[Reject] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    records_read: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    records_merged: int = 0


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
    # OpenSanctions FollowTheMoney export (entities.ftm.json): one row per Vessel entity.
    # FtM properties are lists of strings and stay lists.
    "raw_opensanctions_vessels": {
        "source_row": pl.Int64,  # line of the JSON object
        "entity_id": pl.String,
        "caption": pl.String,
        "names": pl.List(pl.String),  # name
        "aliases": pl.List(pl.String),  # alias + weakAlias
        "previous_names": pl.List(pl.String),  # previousName
        "imo_numbers": pl.List(pl.String),  # imoNumber, as written (e.g. 'IMO8604917')
        "mmsis": pl.List(pl.String),
        "call_signs": pl.List(pl.String),
        "flags": pl.List(pl.String),  # ISO-2, lower-case as published
        "past_flags": pl.List(pl.String),
        "vessel_types": pl.List(pl.String),  # type
        "deadweight_tonnage": pl.List(pl.String),
        "gross_tonnage": pl.List(pl.String),  # grossRegisteredTonnage + tonnage
        "build_dates": pl.List(pl.String),
        "topics": pl.List(pl.String),
        "datasets": pl.List(pl.String),
        "first_seen": pl.String,
        "last_seen": pl.String,
    },
    # OpenSanctions: one row per Sanction entity (a designation of another entity).
    "raw_opensanctions_sanctions": {
        "source_row": pl.Int64,
        "entity_id": pl.String,  # the Sanction entity's id
        "sanctioned_ids": pl.List(pl.String),  # entity: ids of the sanctioned entities
        "authorities": pl.List(pl.String),
        "programs": pl.List(pl.String),  # program + programId
        "start_dates": pl.List(pl.String),
        "listing_dates": pl.List(pl.String),
        "end_dates": pl.List(pl.String),
        "datasets": pl.List(pl.String),
    },
    # UK Sanctions List CSV: one row per name line of a ship designation (Designation
    # Type 'Ship'); other designation types are counted, not kept.
    "raw_uk_sanctions_ships": {
        "source_row": pl.Int64,  # physical line in the file (the 'Report Date' line is line 1)
        "unique_id": pl.String,
        "name": pl.String,  # the name of this row, parts joined as the list writes them
        "name_type": pl.String,  # e.g. 'Primary Name', 'Alias'
        "imo_number": pl.String,
        "type_of_ship": pl.String,
        "tonnage_of_ship": pl.String,
        "current_flag": pl.String,
        "previous_flags": pl.String,
        "current_owner_operator": pl.String,
        "regime_name": pl.String,
        "designation_source": pl.String,  # UK or UN
        "date_designated": pl.String,  # dd/mm/yyyy as published
        "sanctions_imposed": pl.String,
        "report_date": pl.String,  # from the 'Report Date:' line
    },
    # Danish Maritime Authority AIS CSV: one row per line, the 26 (or older 22) columns as strings.
    "raw_ais_dma": {
        "source_row": pl.Int64,
        "timestamp": pl.String,  # dd/mm/YYYY HH:MM:SS, UTC
        "type_of_mobile": pl.String,
        "mmsi": pl.String,
        "latitude": pl.String,
        "longitude": pl.String,
        "navigational_status": pl.String,
        "rot": pl.String,
        "sog": pl.String,
        "cog": pl.String,
        "heading": pl.String,
        "imo": pl.String,
        "callsign": pl.String,
        "name": pl.String,
        "ship_type": pl.String,
        "cargo_type": pl.String,
        "width": pl.String,
        "length": pl.String,
        "position_fixing_device": pl.String,
        "draught": pl.String,
        "destination": pl.String,
        "eta": pl.String,
        "data_source_type": pl.String,
        "a": pl.String,
        "b": pl.String,
        "c": pl.String,
        "d": pl.String,
    },
    # Global Fishing Watch Vessels API v3: one row per identity record of a vessel
    # (each selfReportedInfo and registryInfo entry).
    "raw_gfw_vessels": {
        "source_row": pl.Int64,  # ordinal of the record in the landed JSONL
        "query": pl.String,  # the IMO or MMSI asked for
        "info_kind": pl.String,  # selfReportedInfo or registryInfo
        "gfw_vessel_id": pl.String,
        "ssvid": pl.String,  # the MMSI
        "imo": pl.String,
        "shipname": pl.String,
        "callsign": pl.String,
        "flag": pl.String,  # ISO-3 as GFW gives it
        "ship_types": pl.List(pl.String),
        "transmission_from": pl.String,
        "transmission_to": pl.String,
        "tonnage_gt": pl.String,
    },
    # Global Fishing Watch Events API v3, public-global-port-visits-events: one row per port visit.
    "raw_gfw_port_visits": {
        "source_row": pl.Int64,
        "event_id": pl.String,
        "start": pl.String,  # ISO 8601 UTC
        "end": pl.String,
        "latitude": pl.Float64,  # event position
        "longitude": pl.Float64,
        "gfw_vessel_id": pl.String,
        "ssvid": pl.String,
        "vessel_name": pl.String,
        "vessel_flag": pl.String,
        "visit_id": pl.String,
        "confidence": pl.String,
        "duration_hrs": pl.Float64,
        "anchorage_id": pl.String,  # start anchorage (S2 token)
        "anchorage_name": pl.String,
        "anchorage_flag": pl.String,
        "anchorage_lat": pl.Float64,
        "anchorage_lon": pl.Float64,
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
