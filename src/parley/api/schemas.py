"""JSON Schemas (2020-12) of submission bodies, published at /schemas/{kind}.json and in the
OpenAPI document's components.

They describe what the hub's checks (parley.geo.shapes, parley.hub.rules) accept; the hub does not
validate with them, so tests submit docs/formats.md's examples and bad bodies and compare the
hub's verdict with the schema's. Members they do not name are allowed: the hub ignores them or
checks them by kind (``warn_on_conflict``, ``supersedes``, ``key``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from parley.errors import NotFound

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TEXT = {"type": "string", "minLength": 1, "pattern": r"\S"}
TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a zone"}
RADIUS = {"type": "number", "exclusiveMinimum": 0}
POINT = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"const": "Point"},
        "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2},
    },
}
POLYGON = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"const": "Polygon"},
        "coordinates": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "array", "minItems": 4, "items": {"type": "array"}},
        },
    },
}
LINESTRING = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"const": "LineString"},
        "coordinates": {"type": "array", "minItems": 2, "items": {"type": "array"}},
    },
}
ALTITUDE = {
    "type": "object",
    "description": "metres above the WGS 84 ellipsoid; lower_m at most upper_m",
    "required": ["lower_m", "upper_m"],
    "properties": {"lower_m": {"type": "number"}, "upper_m": {"type": "number"}},
}
CLOSED_WINDOW = {
    "type": "object",
    "required": ["start", "end"],
    "properties": {"start": TIME, "end": TIME},
}
OPEN_WINDOW = {
    "type": "object",
    "description": "end null: until further notice",
    "required": ["start", "end"],
    "properties": {"start": TIME, "end": {"anyOf": [TIME, {"type": "null"}]}},
}


def _circle_needs_radius(geometry: str) -> dict[str, Any]:
    """A Point is a circle: it needs ``radius_m``."""
    return {
        "if": {"properties": {geometry: {"properties": {"type": {"const": "Point"}}}}},
        "then": {"required": ["radius_m"]},
    }


VOLUME = {
    "type": "object",
    "required": ["footprint", "altitude", "time"],
    "properties": {
        "footprint": {"oneOf": [POINT, POLYGON]},
        "radius_m": RADIUS,
        "altitude": ALTITUDE,
        "time": CLOSED_WINDOW,
    },
    **_circle_needs_radius("footprint"),
}

BODIES: dict[str, dict[str, Any]] = {
    "site": {
        "title": "site: a protected site",
        "type": "object",
        "required": ["category", "name", "geometry", "valid"],
        "properties": {
            "category": TEXT,
            "name": TEXT,
            "geometry": {"oneOf": [POINT, POLYGON]},
            "radius_m": RADIUS,
            "ceiling_m": {"type": ["number", "null"]},
            "valid": OPEN_WINDOW,
            "warn_on_conflict": {"type": "boolean"},
        },
        **_circle_needs_radius("geometry"),
    },
    "operation": {
        "title": "operation: 4D volumes (footprint x altitude band x time window)",
        "type": "object",
        "required": ["name", "volumes"],
        "properties": {
            "name": TEXT,
            "volumes": {"type": "array", "minItems": 1, "items": VOLUME},
            "supersedes": {"type": "string", "description": "the operation this amends"},
            "key": {"type": "array", "items": {"type": "string"}},
            "warn_on_conflict": {"type": "boolean"},
        },
    },
    "movement": {
        "title": "movement: a convoy's route with a corridor half-width",
        "type": "object",
        "required": ["name", "route", "corridor_m", "time"],
        "properties": {
            "name": TEXT,
            "route": LINESTRING,
            "corridor_m": RADIUS,
            "altitude": ALTITUDE,
            "time": CLOSED_WINDOW,
        },
    },
    "operation-status": {
        "title": "operation-status: an operation becomes active, completed or cancelled",
        "type": "object",
        "required": ["operation", "status"],
        "properties": {
            "operation": {"type": "string"},
            "status": {"enum": ["active", "completed", "cancelled"]},
        },
    },
    "withdrawal": {
        "title": "withdrawal: the notifier withdraws one of its records",
        "type": "object",
        "required": ["record"],
        "properties": {"record": {"type": "string"}},
    },
    "resolution": {
        "title": "resolution: how a conflict was settled",
        "type": "object",
        "required": ["conflict", "outcome"],
        "properties": {
            "conflict": {"type": "string"},
            "outcome": {"enum": ["amended", "cancelled", "accepted-after-coordination"]},
        },
    },
}


def component(kind: str) -> str:
    """The name of ``kind``'s body schema in the OpenAPI document's components."""
    return "Body-" + kind


def schema(kind: str, base: str = "") -> dict[str, Any]:
    return {"$schema": DIALECT, "$id": f"{base}/schemas/{kind}.json", **BODIES[kind]}


router = APIRouter(tags=["schemas"])


@router.get("/schemas/{name}")
def published(name: str) -> JSONResponse:
    """The JSON Schema (2020-12) of the body of one kind of submission, e.g.
    ``/schemas/site.json``."""
    kind = name.removesuffix(".json")
    if not name.endswith(".json") or kind not in BODIES:
        raise NotFound(
            f"no schema {name!r}; schemas: {', '.join(k + '.json' for k in BODIES)}",
            field="name",
        )
    return JSONResponse(schema(kind), media_type="application/schema+json")
