"""The day's route (domain §6.3 "the same-day route is then ordered by distance"): visits ordered from a
start point by nearest neighbour, then improved by 2-opt, over great-circle distances. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Route", "Stop", "distance_km", "order_route"]

_EARTH_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Stop:
    """A place to visit: its key (a visit ID) and its coordinates in degrees."""

    key: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Route:
    """Stops in visiting order, and the length of the path from the start through them (km, 0.1)."""

    order: list[str]
    distance_km: Decimal


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance between two (lat, lon) points in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * _EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def _length(points: Sequence[tuple[float, float]]) -> float:
    return sum(distance_km(points[i], points[i + 1]) for i in range(len(points) - 1))


def _nearest_neighbour(start: tuple[float, float], stops: list[Stop]) -> list[Stop]:
    left = list(stops)
    here = start
    out: list[Stop] = []
    while left:
        nxt = min(left, key=lambda s: (distance_km(here, (s.lat, s.lon)), s.key))
        left.remove(nxt)
        out.append(nxt)
        here = (nxt.lat, nxt.lon)
    return out


def _two_opt(start: tuple[float, float], path: list[Stop]) -> list[Stop]:
    """Reverse any segment that shortens the open path from `start` until none does."""
    best = list(path)
    improved = True
    while improved:
        improved = False
        pts = [start, *((s.lat, s.lon) for s in best)]
        for i in range(1, len(pts) - 1):
            for j in range(i + 1, len(pts)):
                a, b = pts[i - 1], pts[i]
                c = pts[j]
                d = pts[j + 1] if j + 1 < len(pts) else None
                before = distance_km(a, b) + (distance_km(c, d) if d else 0.0)
                after = distance_km(a, c) + (distance_km(b, d) if d else 0.0)
                if after < before - 1e-9:
                    best[i - 1 : j] = reversed(best[i - 1 : j])
                    pts[i : j + 1] = reversed(pts[i : j + 1])
                    improved = True
    return best


def order_route(stops: Sequence[Stop], start: tuple[float, float] | None = None) -> Route:
    """The visiting order from `start`; without one, the shortest of the orders starting at each stop (at
    most the first 30 are tried). 2-opt is skipped past 200 stops, where nearest neighbour alone decides."""
    places = list(stops)
    if not places:
        return Route([], Decimal("0.0"))
    if start is None:
        candidates = []
        for first in places[:30]:
            rest = [s for s in places if s is not first]
            here = (first.lat, first.lon)
            tail = _nearest_neighbour(here, rest)
            path = [first, *(_two_opt(here, tail) if len(tail) <= 200 else tail)]
            candidates.append((_length([(s.lat, s.lon) for s in path]), [s.key for s in path], path))
        length, _keys, path = min(candidates, key=lambda c: (c[0], c[1]))
    else:
        path = _nearest_neighbour(start, places)
        if len(path) <= 200:
            path = _two_opt(start, path)
        length = _length([start, *((s.lat, s.lon) for s in path)])
    return Route([s.key for s in path], Decimal(str(round(length, 1))))
