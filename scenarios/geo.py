"""Geography of the synthetic scenarios: reference ports, sea lanes, the DPRK coast, distances."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
PORTS_CSV = REPO_ROOT / "seeds" / "ports.csv"

EARTH_RADIUS_KM = 6371.0088  # the radius sql/macros.sql haversine_km uses
KM_PER_DEG_LAT = 111.195

# Sightings "at" a port are drawn this close to its point, and sightings "not at" a
# port lie at least radius + CLEAR_MARGIN_KM from every port: nothing falls near a
# radius edge, where float rounding of an encoded AIS position could flip the answer.
IN_PORT_MAX_KM = 1.2
CLEAR_MARGIN_KM = 3.0


@dataclass(frozen=True)
class Port:
    port_id: str
    name: str
    role: str
    lat: float
    lon: float
    radius_km: float


def load_ports(path: Path = PORTS_CSV) -> dict[str, Port]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            row["port_id"]: Port(row["port_id"], row["port_name"], row["role"], float(row["latitude"]),
                                 float(row["longitude"]), float(row["radius_km"]))
            for row in csv.DictReader(handle)
        }


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def haversine_km_np(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def offset_point(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    # flat-earth offset: exact to centimetres over the few km it is used for
    dlat = km * math.cos(math.radians(bearing)) / KM_PER_DEG_LAT
    dlon = km * math.sin(math.radians(bearing)) / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def port_at(ports: dict[str, Port], lat: float, lon: float) -> str | None:
    """DOMAIN port rule: within a port's radius, nearest port wins."""
    best: tuple[float, str] | None = None
    for p in ports.values():
        d = haversine_km(lat, lon, p.lat, p.lon)
        if d <= p.radius_km and (best is None or d < best[0]):
            best = (d, p.port_id)
    return best[1] if best else None


def clear_of_ports(ports: dict[str, Port], lat: float, lon: float) -> bool:
    return all(haversine_km(lat, lon, p.lat, p.lon) > p.radius_km + CLEAR_MARGIN_KM for p in ports.values())


# Hand-placed open-sea waypoints (Sea of Japan, Peter the Great Gulf) so that lanes from
# the terminals stay offshore and pass through no other port's circle.
TERMINAL_APPROACH = {
    "vostochny": (42.62, 133.12),  # from the south, clear of the Kozmino circle next door
    "kozmino": (42.60, 133.00),
    "nakhodka": (42.64, 132.92),
}
GULF = (42.30, 131.50)
SEA_N = (41.60, 130.40)
SEA_MID = (40.40, 129.70)
SEA_S = (39.60, 128.40)
LANE_TAIL = {  # after GULF, ending next to the port
    "rajin": [(42.10, 130.55)],
    "sonbong": [(42.18, 130.62)],
    "chongjin": [SEA_N, (41.70, 129.95)],
    "kimchaek": [SEA_N, (40.60, 129.60)],
    "chaho": [SEA_N, SEA_MID, (40.12, 128.90)],
    "hungnam": [SEA_N, SEA_MID, SEA_S, (39.75, 127.85)],
    "wonsan": [SEA_N, SEA_MID, SEA_S, (39.20, 127.75)],
}
# Into Vladivostok from the south through the Eastern Bosphorus approaches.
VLADIVOSTOK_LANE = [(42.55, 132.40), (42.80, 131.98), (42.98, 131.93)]

DISCHARGE_WEIGHTS = {"rajin": 30, "chongjin": 30, "kimchaek": 12, "sonbong": 8, "chaho": 6, "hungnam": 8, "wonsan": 6}

# The DPRK east coast, roughly: only for "AIS goes dark within ~60 km of the coast".
DPRK_COAST = [(42.29, 130.70), (42.23, 130.30), (42.00, 130.05), (41.77, 129.82), (41.45, 129.60),
              (41.00, 129.45), (40.67, 129.20), (40.45, 128.92), (40.20, 128.65), (40.03, 128.18),
              (39.83, 127.62), (39.50, 127.55), (39.17, 127.45), (38.90, 127.80), (38.61, 128.35)]


def _densify(points: list[tuple[float, float]], step_km: float) -> np.ndarray:
    out: list[tuple[float, float]] = []
    for (a, b), (c, d) in pairwise(points):
        n = max(1, int(haversine_km(a, b, c, d) / step_km))
        out += [(a + (c - a) * i / n, b + (d - b) * i / n) for i in range(n)]
    out.append(points[-1])
    return np.array(out)


_COAST = _densify(DPRK_COAST, 5.0)


def dist_to_dprk_coast_km(lat, lon):
    """Distance to the nearest densified coast point; scalars or arrays."""
    lat_a, lon_a = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
    d = haversine_km_np(lat_a[:, None], lon_a[:, None], _COAST[None, :, 0], _COAST[None, :, 1]).min(axis=1)
    return float(d[0]) if np.ndim(lat) == 0 else d


class Lane:
    """A polyline sailed at constant speed; positions are interpolated by distance along it."""

    def __init__(self, points: list[tuple[float, float]]):
        self.points = np.array(points, dtype=float)
        seg = haversine_km_np(self.points[:-1, 0], self.points[:-1, 1], self.points[1:, 0], self.points[1:, 1])
        self.cum = np.concatenate([[0.0], np.cumsum(seg)])
        self.courses = np.array([bearing_deg(*self.points[i], *self.points[i + 1]) for i in range(len(points) - 1)])

    @property
    def length_km(self) -> float:
        return float(self.cum[-1])

    def reversed(self) -> Lane:
        return Lane([tuple(p) for p in self.points[::-1]])

    def at(self, s_km):
        """(lat, lon, course) at distance s along the lane; scalars or arrays."""
        s = np.clip(np.asarray(s_km, float), 0.0, self.length_km)
        i = np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, len(self.points) - 2)
        span = self.cum[i + 1] - self.cum[i]
        f = np.where(span > 0, (s - self.cum[i]) / np.where(span > 0, span, 1.0), 0.0)
        lat = self.points[i, 0] + (self.points[i + 1, 0] - self.points[i, 0]) * f
        lon = self.points[i, 1] + (self.points[i + 1, 1] - self.points[i, 1]) * f
        course = self.courses[i]
        if np.ndim(s_km) == 0:
            return float(lat), float(lon), float(course)
        return lat, lon, course


def lane(start: tuple[float, float], origin: str, destination: str, end: tuple[float, float]) -> Lane:
    """The lane from a berth at load terminal ``origin`` to a berth at ``destination``."""
    approach = TERMINAL_APPROACH[origin]
    if destination == "vladivostok":
        return Lane([start, approach, *VLADIVOSTOK_LANE, end])
    return Lane([start, approach, GULF, *LANE_TAIL[destination], end])
