"""DOMAIN port rule, as int_sighting_places applies it: a sighting within a port's radius is at that
port, the nearest port wins where radii overlap (the lower port id at equal distance), a sighting
elsewhere has no port, and a grid cell near more than two ports fails the build rather than ignoring one."""

from __future__ import annotations

import duckdb
import pytest

from tankerwatch.settings import SQL_DIR
from tankerwatch.warehouse import connect

PLACES_SQL = (SQL_DIR / "intermediate" / "int_sighting_places.sql").read_text(encoding="utf-8")
IDENTITY_COLUMNS = (
    "sighting_id varchar, evidence_kind varchar, source_name varchar, snapshot_id varchar, source_row bigint, "
    "observed_at timestamptz, latitude double, longitude double, reported_imo varchar, reported_mmsi varchar, "
    "reported_name varchar, laden_state varchar, load_fraction double, imo varchar, resolved_by varchar, "
    "candidate_imos varchar[], image_key varchar, reject_reason varchar"
)


def _fill(con, ports: list[tuple[str, float, float, float]], sightings: list[tuple]) -> None:
    con.execute("create table ref_ports (port_id varchar, latitude double, longitude double, radius_km double)")
    con.executemany("insert into ref_ports values (?, ?, ?, ?)", ports)
    con.execute(f"create table int_sighting_identities ({IDENTITY_COLUMNS})")
    con.executemany(
        "insert into int_sighting_identities (sighting_id, evidence_kind, source_name, snapshot_id, observed_at, "
        "latitude, longitude, reported_mmsi, imo, reject_reason) "
        "values (?, ?, 'feed', 's1', '2024-05-01 00:00:00+00', ?, ?, '273000001', '9000001', ?)",
        sightings,
    )
    con.execute(f"create view int_sighting_places as {PLACES_SQL}")


def test_the_nearest_port_within_its_radius_wins(tmp_path):
    # two ports on one parallel, about 5.2 km apart, radii 5 km: they overlap; longitudes exact in
    # binary, so the point halfway is at exactly equal distance from both
    ports = [("alpha", 42.0, 132.0, 5.0), ("beta", 42.0, 132.0625, 5.0)]
    sightings = [
        ("img:1", "imagery", 42.0, 132.01, None),  # 0.8 km from alpha, 4.3 km from beta
        ("img:2", "imagery", 42.0, 132.055, None),  # 0.6 km from beta
        ("img:3", "imagery", 42.0, 132.03125, None),  # halfway: the lower port id
        ("img:4", "imagery", 42.0, 131.9, None),  # 8 km west: outside every radius
        ("img:5", "imagery", 42.0, 132.0, "unresolved"),  # a reject is no sighting
        ("ignored", "ais", 42.0, 131.95, None),  # 4.1 km west of alpha
    ]
    with connect(str(tmp_path / "warehouse.duckdb")) as con:
        _fill(con, ports, sightings)
        rows = con.execute(
            "select sighting_id, evidence_kind, port_id from int_sighting_places order by longitude"
        ).fetchall()
    assert rows == [
        ("img:4", "imagery", None),
        # an AIS position's id is written by int_sightings for the rows it stores
        (None, "ais", "alpha"),
        ("img:1", "imagery", "alpha"),
        ("img:3", "imagery", "alpha"),
        ("img:2", "imagery", "beta"),
    ]


def test_a_grid_cell_near_three_ports_fails_the_build(tmp_path):
    ports = [("alpha", 42.0, 132.0, 3.0), ("beta", 42.01, 132.0, 3.0), ("gamma", 42.0, 132.01, 3.0)]
    with connect(str(tmp_path / "warehouse.duckdb")) as con:
        _fill(con, ports, [("img:1", "imagery", 42.0, 132.0, None)])
        with pytest.raises(duckdb.InvalidInputException, match="near more than two reference ports"):
            con.execute("select * from int_sighting_places").fetchall()
