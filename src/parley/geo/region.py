"""The area a hub serves, and the refusal of what lies wholly outside it.

A record wholly outside the area is almost always a typing error (axes swapped, a wrong zone
letter), and a protected site stored in the wrong country protects nothing. The area is kept as
given (GeoJSON, WGS 84) with a margin in metres, applied in an equal-area azimuthal projection
centred on the area: over a region a few hundred kilometres across the margin's error is well
under 1 %.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.ops import nearest_points

from parley.errors import Unprocessable
from parley.geo import geodesy
from parley.geo.footprint import Footprint


class RegionError(Unprocessable):
    title = "Outside the area this hub serves"
    slug = "outside-region"


@dataclass(frozen=True)
class Region:
    """The served area: a (multi)polygon in lon/lat, widened by ``margin_m``."""

    area: shapely.Geometry
    margin_m: float = 0.0
    name: str = "unnamed"

    @classmethod
    def from_geojson(cls, text: str, margin_m: float = 0.0, name: str | None = None) -> Region:
        try:
            doc = json.loads(text)
        except ValueError:
            raise Unprocessable("the region file is not JSON", field="region") from None
        geometries = _geometries(doc)
        if not geometries:
            raise Unprocessable("the region file holds no Polygon or MultiPolygon", field="region")
        try:
            area = shapely.union_all([shapely.geometry.shape(g) for g in geometries])
        except (ValueError, TypeError, KeyError, shapely.errors.ShapelyError):
            raise Unprocessable(
                "the region file's polygons cannot be read", field="region"
            ) from None
        if area.is_empty or not area.is_valid:
            area = shapely.make_valid(area)
        return cls(area, margin_m, name or "unnamed")

    @cached_property
    def _projection(self) -> tuple[Transformer, Transformer]:
        centre = self.area.centroid
        crs = f"+proj=laea +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m"
        return (
            Transformer.from_crs(4326, crs, always_xy=True),
            Transformer.from_crs(crs, 4326, always_xy=True),
        )

    @cached_property
    def served(self) -> shapely.Geometry:
        """The area with its margin, in the projection (metres)."""
        projected = self._project(self.area)
        return projected.buffer(self.margin_m) if self.margin_m else projected

    def covers_any(self, geometry: shapely.Geometry) -> bool:
        return bool(self.served.intersects(self._project(geometry)))

    def _project(self, geometry: shapely.Geometry) -> shapely.Geometry:
        forward = self._projection[0]
        return shapely.transform(geometry, lambda xy: np.column_stack(forward.transform(*xy.T)))

    def check(self, geometry: shapely.Geometry, field: str = "body.geometry") -> None:
        """Refuse a geometry that lies wholly outside the served area, saying where the area is."""
        if self.covers_any(geometry):
            return
        projected = self._project(geometry)
        _, near = nearest_points(projected, self.served)
        lon, lat = self._projection[1].transform(near.x, near.y)
        start = nearest_points(projected, near)[0]
        slon, slat = self._projection[1].transform(start.x, start.y)
        km = float(geodesy.distance(slon, slat, lon, lat).item()) / 1000
        swapped = shapely.transform(geometry, lambda xy: xy[:, ::-1])
        hint = (
            " Did you swap latitude and longitude? With the axes swapped it would lie inside."
            if self.covers_any(swapped)
            else ""
        )
        raise RegionError(
            f"this lies wholly outside {self.described()}: the nearest point of that area is "
            f"{lat:.5f}, {lon:.5f}, {km:,.1f} km away.{hint}",
            field=field,
        )

    def described(self) -> str:
        margin = f", with a {self.margin_m / 1000:g} km margin" if self.margin_m else ""
        return f"the area this hub serves ({self.name}{margin})"

    def to_geojson(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "properties": {"name": self.name, "margin_m": self.margin_m},
            "geometry": shapely.geometry.mapping(self.area),
        }


def _geometries(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    kind = doc.get("type")
    if kind in ("Polygon", "MultiPolygon"):
        return [doc]
    if kind == "Feature":
        return _geometries(doc.get("geometry"))
    if kind == "FeatureCollection" and isinstance(doc.get("features"), list):
        return [g for f in doc["features"] for g in _geometries(f)]
    if kind == "GeometryCollection" and isinstance(doc.get("geometries"), list):
        return [g for sub in doc["geometries"] for g in _geometries(sub)]
    return []


def footprint_shape(footprint: Footprint) -> shapely.Geometry:
    """A footprint's own geometry (without its buffer), in lon/lat, for the area test."""
    if footprint.kind == "point":
        return shapely.Point(footprint.parts[0][0][0])
    if footprint.kind == "line":
        return shapely.LineString(footprint.parts[0][0])
    return shapely.MultiPolygon([(rings[0], rings[1:]) for rings in footprint.parts])
