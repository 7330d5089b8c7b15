"""Clip Natural Earth's land polygons to the report map's region and thin them, with the standard library only.

    python seeds/natural_earth/clip.py ne_10m_land.json seeds/natural_earth/land_sea_of_japan.geojson

Each polygon ring is clipped to the box (Sutherland-Hodgman: the box is convex, so a clipped ring stays one
ring), thinned by Douglas-Peucker and its coordinates rounded; rings left with fewer than four points go. The
box's own edges become part of the clipped rings, which is harmless because the report never draws past it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

WEST, EAST, SOUTH, NORTH = 120.0, 145.0, 33.0, 50.0
TOLERANCE_DEG = 0.004  # about 400 m: under a pixel at the report map's scale
DIGITS = 4


def clip_ring(ring: list[list[float]]) -> list[list[float]]:
    inside_tests = (
        (lambda p: p[0] >= WEST, lambda a, b: _at_x(a, b, WEST)),
        (lambda p: p[0] <= EAST, lambda a, b: _at_x(a, b, EAST)),
        (lambda p: p[1] >= SOUTH, lambda a, b: _at_y(a, b, SOUTH)),
        (lambda p: p[1] <= NORTH, lambda a, b: _at_y(a, b, NORTH)),
    )
    points = ring[:-1] if ring and ring[0] == ring[-1] else ring
    for inside, cross in inside_tests:
        out: list[list[float]] = []
        for i, current in enumerate(points):
            previous = points[i - 1]
            if inside(current):
                if not inside(previous):
                    out.append(cross(previous, current))
                out.append(current)
            elif inside(previous):
                out.append(cross(previous, current))
        points = out
        if not points:
            return []
    return [*points, points[0]]


def _at_x(a: list[float], b: list[float], x: float) -> list[float]:
    t = (x - a[0]) / (b[0] - a[0])
    return [x, a[1] + t * (b[1] - a[1])]


def _at_y(a: list[float], b: list[float], y: float) -> list[float]:
    t = (y - a[1]) / (b[1] - a[1])
    return [a[0] + t * (b[0] - a[0]), y]


def simplify(points: list[list[float]], tolerance: float) -> list[list[float]]:
    """Douglas-Peucker, iterative (the 10m rings run to tens of thousands of points)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        dx, dy = bx - ax, by - ay
        norm = (dx * dx + dy * dy) ** 0.5
        worst, index = -1.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            d = abs(dy * (px - ax) - dx * (py - ay)) / norm if norm else ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            if d > worst:
                worst, index = d, i
        if index > 0 and worst > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def main(source: Path, target: Path) -> None:
    features = json.loads(source.read_text(encoding="utf-8"))["features"]
    polygons = []
    for feature in features:
        geometry = feature["geometry"]
        parts = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        for part in parts:
            rings = []
            for ring in part:
                clipped = simplify(clip_ring(ring), TOLERANCE_DEG)
                clipped = [[round(x, DIGITS), round(y, DIGITS)] for x, y in clipped]
                if len(clipped) >= 4:
                    rings.append(clipped)
            if rings and len(rings[0]) >= 4:
                polygons.append(rings)
    doc = {
        "type": "FeatureCollection",
        "bbox": [WEST, SOUTH, EAST, NORTH],
        "features": [
            {
                "type": "Feature",
                "properties": {"featurecla": "Land"},
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            }
        ],
    }
    target.write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{target}: {len(polygons)} polygons, {sum(len(r) for p in polygons for r in p)} points")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
