"""The map page's built assets (``web/`` at the repository root builds them into ``static/``)
and the base-layer GeoJSON it draws instead of map tiles, so it works with no internet.

Assets are read once into memory with their ETag and a gzip copy: the bundle is a few hundred
kilobytes and the base layers a few megabytes, and a liaison cell's link may be slow.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

#: Base layers by the name the page asks for, with the packaged file they come from.
BASEMAPS = {
    "countries": "world-countries-50m.geojson",
    "governorates": "syria-governorates.geojson",
    "provinces": "neighbour-provinces.geojson",
}

#: Every base layer the page may ask for.
LAYERS = (*BASEMAPS, "towns")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


def _asset(body: bytes, media_type: str) -> Asset:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    # Images and fonts are compressed already; text shrinks five to ten times.
    compressible = media_type.startswith(("text/", "application/json", "application/geo+json"))
    compressible = compressible or media_type in ("application/javascript", "image/svg+xml")
    gzipped = gzip.compress(body, 6, mtime=0) if compressible and len(body) > 1024 else None
    return Asset(body, gzipped, media_type, etag)


def _media_type(name: str) -> str:
    if name.endswith(".js") or name.endswith(".mjs"):
        return "application/javascript"
    guessed, _ = mimetypes.guess_type(name)
    media = guessed or "application/octet-stream"
    return f"{media}; charset=utf-8" if media.startswith("text/") else media


def _walk(folder: Traversable, prefix: str = "") -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    for child in folder.iterdir():
        name = prefix + child.name
        if child.is_dir():
            found.update(_walk(child, name + "/"))
        elif child.is_file() and not child.name.startswith("."):
            found[name] = child
    return found


@cache
def _static_files() -> dict[str, Traversable]:
    """Every file under ``static/``: only these names are ever served, so no path a client
    sends can reach outside the folder."""
    folder = resources.files("parley.web").joinpath("static")
    return _walk(folder) if folder.is_dir() else {}


@cache
def static(name: str) -> Asset | None:
    found = _static_files().get(name)
    return None if found is None else _asset(found.read_bytes(), _media_type(name))


def index() -> Asset | None:
    return static("index.html")


def _data(name: str) -> bytes:
    return resources.files("parley.data").joinpath(name).read_bytes()


@cache
def basemap(name: str) -> Asset | None:
    """A base layer as GeoJSON; ``towns`` is built from places.csv (GeoNames, CC BY 4.0)."""
    if name == "towns":
        return _asset(_towns(), "application/geo+json")
    file = BASEMAPS.get(name)
    if file is None or not resources.files("parley.data").joinpath(file).is_file():
        return None
    return _asset(_data(file), "application/geo+json")


def _towns() -> bytes:
    rows = csv.DictReader(_data("places.csv").decode("utf-8").splitlines())
    features: list[dict[str, object]] = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [float(r["longitude"]), float(r["latitude"])],
            },
            "properties": {
                "name": r["name"],
                "country": r["country"],
                "population": int(r["population"]),
            },
        }
        for r in rows
    ]
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
