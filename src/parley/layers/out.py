"""A layer's features written out for the field's tools: GeoJSON (RFC 7946) for GIS, KML 2.2 for
Google Earth, CSV (with MGRS and DMS columns) for spreadsheets, GeoPackage for QGIS and ArcGIS.

KML is written with the standard library's ElementTree: KML 2.2 is plain XML, and the tests read
what is written back with fastkml and check the element order the KML 2.2 schema requires.
GeoPackage (a SQLite database with binary geometries) is written by pyogrio, whose wheels carry
GDAL's own GPKG driver: nobody needs GDAL installed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from shapely.geometry import shape

from parley import clock
from parley.formats.coordinates import dms_text, mgrs_text
from parley.layers.features import LAYERS, Feature

FORMATS = {
    "geojson": "application/geo+json",
    "kml": "application/vnd.google-earth.kml+xml",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
}
KML_NS = "http://www.opengis.net/kml/2.2"

# KML colours are aabbggrr. Severity first (a conflict), then the category of the record.
COLOURS = {
    "critical": "ff0000ff",
    "high": "ff0000ff",
    "warning": "ff0080ff",
    "medium": "ff0080ff",
    "low": "ff00ffff",
    "info": "ffffff00",
    "hospital": "ff0000ff",
    "school": "ff00a5ff",
    "shelter": "ff00ffff",
    "no-fly": "ff0000c0",
    "no-operations": "ff0060ff",
    "delineation": "ffff8000",
    "operation": "ffff00ff",
    "movement": "ff00ff00",
    "incident": "ff0000ff",
}
DEFAULT_COLOUR = "ffffffff"


def geojson(features: Sequence[Feature], layer: str) -> str:
    collection = {
        "type": "FeatureCollection",
        "name": layer,
        "features": [f.geojson() for f in features],
    }
    return json.dumps(collection, ensure_ascii=False)


def _style_key(props: dict[str, Any]) -> str:
    return _xml_id(str(props.get("severity") or props.get("category") or "other"))


def _xml_id(text: str) -> str:
    """KML ids are xs:ID: an XML name, which cannot start with a digit (as a UUID may)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", text)
    return cleaned if re.match(r"[A-Za-z_]", cleaned) else f"id-{cleaned}"


def kml(features: Sequence[Feature], layer: str) -> str:
    ET.register_namespace("", KML_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        child = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
        if text is not None:
            child.text = text
        return child

    root = ET.Element(f"{{{KML_NS}}}kml")
    document = el(root, "Document")
    el(document, "name", f"parley {LAYERS.get(layer, layer).lower()}")
    styles = sorted({_style_key(f.properties) for f in features})
    for key in styles:
        colour = COLOURS.get(key, DEFAULT_COLOUR)
        style = el(document, "Style")
        style.set("id", key)
        icon = el(style, "IconStyle")
        el(icon, "color", colour)
        line = el(style, "LineStyle")
        el(line, "color", colour)
        el(line, "width", "2")
        poly = el(style, "PolyStyle")
        el(poly, "color", "66" + colour[2:])  # the same colour, see-through
    for feature in features:
        props = feature.properties
        placemark = el(document, "Placemark")
        placemark.set("id", _xml_id(feature.id))
        el(placemark, "name", str(props.get("name") or feature.id))
        el(placemark, "description", _describe(props))
        if feature.start is not None and feature.start == feature.end:
            stamp = el(placemark, "TimeStamp")
            el(stamp, "when", clock.iso(feature.start))
        elif feature.start is not None:
            span = el(placemark, "TimeSpan")
            el(span, "begin", clock.iso(feature.start))
            if feature.end is not None:
                el(span, "end", clock.iso(feature.end))
        el(placemark, "styleUrl", f"#{_style_key(props)}")
        extended = el(placemark, "ExtendedData")
        for name, value in props.items():
            if value is None:
                continue
            data = el(extended, "Data")
            data.set("name", name)
            el(data, "value", str(value))
        _geometry(placemark, feature.geometry, el)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _describe(props: dict[str, Any]) -> str:
    parts = [f"{props[k]}" for k in ("category", "severity", "status", "state") if props.get(k)]
    if props.get("start"):
        parts.append(f"from {props['start']}" + (f" to {props['end']}" if props.get("end") else ""))
    if props.get("lower_m") is not None and props.get("upper_m") is not None:
        parts.append(f"{props['lower_m']}–{props['upper_m']} m")
    if props.get("detail"):
        parts.append(str(props["detail"]))
    return "; ".join(parts)


def _geometry(parent: ET.Element, geometry: dict[str, Any], el: Any) -> None:
    kind = geometry["type"]
    coords: Any = geometry["coordinates"]

    def text(points: Sequence[Sequence[float]]) -> str:
        return " ".join(f"{p[0]},{p[1]}" for p in points)

    if kind == "Point":
        point = el(parent, "Point")
        el(point, "coordinates", text([coords]))
    elif kind == "LineString":
        line = el(parent, "LineString")
        el(line, "coordinates", text(coords))
    elif kind == "Polygon":
        _polygon(parent, coords, el, text)
    elif kind == "MultiPolygon":
        multi = el(parent, "MultiGeometry")
        for rings in coords:
            _polygon(multi, rings, el, text)


def _polygon(parent: ET.Element, rings: Any, el: Any, text: Any) -> None:
    polygon = el(parent, "Polygon")
    for i, ring in enumerate(rings):
        boundary = el(polygon, "outerBoundaryIs" if i == 0 else "innerBoundaryIs")
        linear = el(boundary, "LinearRing")
        el(linear, "coordinates", text(ring))


FIRST_COLUMNS = ("id", "name", "category", "start", "end", "lat", "lon", "mgrs", "dms")


def csv_text(features: Sequence[Feature]) -> str:
    """One row per feature: where (a point inside it, as lat/lon, MGRS and DMS, and the whole
    shape as WKT), when, and every other property."""
    rows: list[dict[str, Any]] = []
    extra: dict[str, None] = {}
    for feature in features:
        geometry = shape(feature.geometry)
        point = geometry if geometry.geom_type == "Point" else geometry.representative_point()
        lat, lon = round(point.y, 7), round(point.x, 7)
        row: dict[str, Any] = {
            "id": feature.id,
            "lat": lat,
            "lon": lon,
            "mgrs": mgrs_text(lat, lon),
            "dms": dms_text(lat, lon),
            "geometry_type": feature.geometry["type"],
            "wkt": geometry.wkt,
        }
        for key, value in feature.properties.items():
            if key in ("lat", "lon", "mgrs", "dms"):
                continue
            row[key] = value
            if key not in FIRST_COLUMNS:
                extra.setdefault(key)
        rows.append(row)
    columns = [*FIRST_COLUMNS, *extra, "geometry_type", "wkt"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def gpkg(features: Sequence[Feature], layer: str) -> bytes:
    """One GeoPackage table named for the layer, in WGS 84, any geometry type (a layer may hold
    points and polygons). Numbers stay numbers (NULL where absent), lists and objects are JSON
    text. GeoPackage 1.2, which every GDAL since 2.2 (QGIS 3's) reads without a warning."""
    import numpy as np
    import pyogrio.raw  # GDAL loads on first use only
    import shapely

    columns: dict[str, None] = {"id": None}
    for feature in features:
        columns.update(dict.fromkeys(feature.properties))
    names = list(columns)
    data: list[Any] = []
    masks: list[Any] = []
    for name in names:
        values = [f.id if name == "id" else f.properties.get(name) for f in features]
        column, mask = _gpkg_column(values)
        data.append(column)
        masks.append(mask)
    geometries = np.array([shapely.to_wkb(shape(f.geometry)) for f in features] or [], dtype=object)
    out = io.BytesIO()
    pyogrio.raw.write(
        out,
        geometries,
        data,
        names,
        field_mask=masks,
        layer=layer,
        driver="GPKG",
        geometry_type="Unknown",
        crs="EPSG:4326",
        dataset_options={"VERSION": "1.2"},
    )
    return out.getvalue()


def _gpkg_column(values: list[Any]) -> tuple[Any, Any]:
    """A column's values as a typed array, and which of them are NULL."""
    import numpy as np

    mask = np.array([v is None for v in values], dtype=bool)
    present = [v for v in values if v is not None]
    numeric = present and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in present
    )
    if numeric and all(isinstance(v, int) for v in present):
        return np.array([0 if v is None else v for v in values], dtype=np.int64), mask
    if numeric:
        return np.array([0.0 if v is None else v for v in values], dtype=np.float64), mask
    text = [
        None
        if v is None
        else v
        if isinstance(v, str)
        else json.dumps(v, ensure_ascii=False)
        if isinstance(v, list | dict)
        else str(v)
        for v in values
    ]
    return np.array(text, dtype=object), mask


def write(features: Sequence[Feature], layer: str, fmt: str) -> str | bytes:
    if fmt == "geojson":
        return geojson(features, layer)
    if fmt == "kml":
        return kml(features, layer)
    if fmt == "gpkg":
        return gpkg(features, layer)
    return csv_text(features)
