"""Where a position is, in words: the nearest bundled place and the governorate or province.

People check a position by its neighbourhood ("2.3 km NE of Aleppo"), not by its digits, so every
notifying path echoes this before and after anything is signed.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import shapely

from parley.geo import geodesy

_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


@dataclass(frozen=True)
class Nearby:
    place: str | None  # None when no bundled place lies within 100 km
    distance_m: float
    bearing: str  # from the place to the position, on an 8-point compass
    area: str | None  # governorate or province, with its kind

    def words(self) -> str:
        if self.place is None:
            return f"{self.area} (no bundled place within 100 km)"
        where = (
            f"at {self.place}"
            if self.distance_m < 50
            else f"{_km(self.distance_m)} {self.bearing} of {self.place}"
        )
        return f"{where}, {self.area}" if self.area else where


def near(lat: float, lon: float) -> Nearby | None:
    """The nearest bundled place (none beyond 100 km) and the admin area the position lies in."""
    names, lats, lons = _places()
    az, dist = geodesy.inverse(lons, lats, np.full_like(lons, lon), np.full_like(lats, lat))
    i = int(np.argmin(dist))
    if float(dist[i]) > 100_000:
        area = area_of(lat, lon)
        return None if area is None else Nearby(None, float(dist[i]), "", area)
    bearing = _COMPASS[int(((float(az[i]) % 360) + 22.5) // 45) % 8]
    return Nearby(names[i], float(dist[i]), bearing, area_of(lat, lon))


def area_of(lat: float, lon: float) -> str | None:
    labels, tree = _areas()
    hits = tree.query(shapely.Point(lon, lat), predicate="intersects")
    return labels[int(hits[0])] if len(hits) else None


def _km(metres: float) -> str:
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


@cache
def _places() -> tuple[list[str], np.ndarray, np.ndarray]:
    text = resources.files("parley.data").joinpath("places.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return (
        [r["name"] for r in rows],
        np.array([float(r["latitude"]) for r in rows]),
        np.array([float(r["longitude"]) for r in rows]),
    )


@cache
def _areas() -> tuple[list[str], shapely.STRtree]:
    labels: list[str] = []
    shapes: list[shapely.Geometry] = []
    for name in ("syria-governorates.geojson", "neighbour-provinces.geojson"):
        text = resources.files("parley.data").joinpath(name).read_text(encoding="utf-8")
        for feature in json.loads(text)["features"]:
            props = feature["properties"]
            kind = "governorate" if props.get("adm0_a3") == "SYR" else "province"
            label = props["name"] if props["name"] == "UNDOF" else f"{props['name']} {kind}"
            if kind == "province":
                label += f", {props.get('admin', '')}"
            labels.append(label)
            shapes.append(shapely.geometry.shape(feature["geometry"]))
    return labels, shapely.STRtree(shapes)
