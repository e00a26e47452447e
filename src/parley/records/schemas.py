"""JSON Schemas (2020-12) of the body of every kind of submission, and the hub's first check.

The hub validates each body against its kind's schema before the kind's own rules
(parley.hub.admission), so what the schema refuses the hub refuses, with the problem naming
the field. The rules then check what a schema cannot say: limits (radii, areas, vertices),
ranges of coordinates and times, references to other records, transitions, audiences.
Members a schema does not name are allowed: the hub ignores them or checks them by kind.
The HTTP layer publishes these at /schemas/{kind}.json (parley.api.schemas).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema_rs

from parley.geo.shapes import RULES
from parley.parties import roles
from parley.records import schema_problems
from parley.records.areamaps import VOTES
from parley.records.incidents import FINDINGS, REVIEW_STEPS
from parley.records.notices import CATEGORIES
from parley.records.operations import REQUESTABLE

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TEXT = {"type": "string", "minLength": 1, "pattern": r"\S"}
REFERENCE = {"type": "string", "minLength": 1, "description": "a record id"}
TIME = {
    "type": "string",
    "format": "date-time",
    "description": "RFC 3339 (ISO 8601 with a zone), e.g. 2026-12-01T08:00:00Z",
}
RADIUS = {"type": "number", "exclusiveMinimum": 0}
POSITION = {
    "type": "array",
    "description": "[longitude, latitude] in decimal degrees (optionally a height)",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 3,
}
RING = {"type": "array", "minItems": 4, "items": POSITION, "description": "closed: last = first"}
COORDINATES = {
    "Point": POSITION,
    "LineString": {"type": "array", "minItems": 2, "items": POSITION},
    "Polygon": {"type": "array", "minItems": 1, "items": RING},
    "MultiPolygon": {
        "type": "array",
        "minItems": 1,
        "items": {"type": "array", "minItems": 1, "items": RING},
    },
}


def geometry(*types: str) -> dict[str, Any]:
    """A GeoJSON geometry of one of ``types``, its coordinates checked by its own type (so an
    error names the coordinates at fault, not the whole geometry)."""
    return {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {"type": {"enum": list(types)}},
        "allOf": [
            {
                "if": {"required": ["type"], "properties": {"type": {"const": t}}},
                "then": {"properties": {"coordinates": COORDINATES[t]}},
            }
            for t in types
        ],
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema``, or null (the hub reads null as absent)."""
    return {**schema, "type": [schema["type"], "null"]}


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
    "properties": {"start": TIME, "end": {**TIME, "type": ["string", "null"]}},
}
RULE = {"enum": list(RULES)}
# A no-fly area binds one party; a delineation belongs to a group of areas.
AREA_RULE_NEEDS = [
    {
        "if": {"required": ["rule"], "properties": {"rule": {"const": rule}}},
        "then": {"required": [needs], "properties": {needs: TEXT}},
    }
    for rule, needs in (("no-fly", "party"), ("delineation", "group"))
]


def circle(geometry_member: str, radius: dict[str, Any]) -> dict[str, Any]:
    """A Point is a circle and needs ``radius_m``; a Polygon takes ``radius``, or none."""
    return {
        "if": {
            "required": [geometry_member],
            "properties": {geometry_member: {"properties": {"type": {"const": "Point"}}}},
        },
        "then": {"required": ["radius_m"], "properties": {"radius_m": RADIUS}},
        "else": {"properties": {"radius_m": radius}},
    }


VOLUME = {
    "type": "object",
    "required": ["footprint", "altitude", "time"],
    "properties": {
        "footprint": geometry("Point", "Polygon"),
        "radius_m": RADIUS,
        "altitude": ALTITUDE,
        "time": CLOSED_WINDOW,
    },
    # a polygon footprint with a radius is a mistake worth naming, not ignoring
    **circle("footprint", {"not": {}, "description": "a radius is only for a Point (a circle)"}),
}

BODIES: dict[str, dict[str, Any]] = {
    "site": {
        "title": "site: a protected site",
        "type": "object",
        "required": ["category", "name", "geometry", "valid"],
        "properties": {
            "category": {"enum": list(CATEGORIES)},
            "name": TEXT,
            "geometry": geometry("Point", "Polygon"),
            "radius_m": {"type": ["number", "null"], "minimum": 0},
            "ceiling_m": {"type": ["number", "null"], "description": "metres above the ellipsoid"},
            "valid": OPEN_WINDOW,
            "warn_on_conflict": {"type": "boolean"},
        },
        # a Polygon's radius_m (0 or more) buffers it
        **circle("geometry", {"type": ["number", "null"], "minimum": 0}),
    },
    "operation": {
        "title": "operation: 4D volumes (footprint x altitude band x time window)",
        "type": "object",
        "required": ["name", "volumes"],
        "properties": {
            "name": TEXT,
            "volumes": {"type": "array", "minItems": 1, "items": VOLUME},
            "supersedes": {**REFERENCE, "description": "the operation this amends"},
            "key": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the records in this space and time the planner has seen",
            },
            "warn_on_conflict": {"type": "boolean"},
        },
    },
    "movement": {
        "title": "movement: a convoy's route with a corridor half-width",
        "type": "object",
        "required": ["name", "route", "corridor_m", "time"],
        "properties": {
            "name": TEXT,
            "route": geometry("LineString"),
            "corridor_m": RADIUS,
            "altitude": nullable(ALTITUDE),
            "time": CLOSED_WINDOW,
            "emergency": {"type": "boolean", "description": "24 h lead time instead of 48 h"},
        },
    },
    "area": {
        "title": "area: an area rule (no-fly for one party, no operations, or a delineation)",
        "type": "object",
        "required": ["rule", "geometry", "valid"],
        "properties": {
            "rule": RULE,
            "party": TEXT,
            "group": TEXT,
            "geometry": geometry("Polygon", "MultiPolygon"),
            "altitude": nullable(ALTITUDE),
            "valid": OPEN_WINDOW,
        },
        "allOf": AREA_RULE_NEEDS,
    },
    "area-map": {
        "title": "area-map: a proposed version of a map of areas, agreed by every member",
        "type": "object",
        "required": ["map", "version", "areas", "valid"],
        "properties": {
            "map": TEXT,
            "version": {"type": "integer", "minimum": 1, "description": "the next version"},
            "areas": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["id", "rule", "geometry"],
                    "properties": {
                        "id": {"type": "string", "description": "unique in the version"},
                        "name": {"type": "string"},
                        "rule": RULE,
                        "party": TEXT,
                        "group": TEXT,
                        "geometry": geometry("Polygon", "MultiPolygon"),
                        "altitude": nullable(ALTITUDE),
                    },
                    "allOf": AREA_RULE_NEEDS,
                },
            },
            "valid": OPEN_WINDOW,
        },
    },
    "area-vote": {
        "title": "area-vote: a member accepts or contests the latest version of a map",
        "type": "object",
        "required": ["map", "version", "vote"],
        "properties": {
            "map": TEXT,
            "version": {"type": "integer", "minimum": 1},
            "vote": {"enum": list(VOTES)},
            "comment": {"type": "string"},
        },
    },
    "operation-status": {
        "title": "operation-status: an operation becomes active, completed or cancelled",
        "type": "object",
        "required": ["operation", "status"],
        "properties": {
            "operation": REFERENCE,
            "status": {"enum": sorted(REQUESTABLE)},
        },
    },
    "acknowledgement": {
        "title": "acknowledgement: a member acknowledges receipt of a site or movement",
        "type": "object",
        "required": ["record"],
        "properties": {"record": REFERENCE},
    },
    "withdrawal": {
        "title": "withdrawal: the notifier withdraws one of its sites or movements",
        "type": "object",
        "required": ["record"],
        "properties": {"record": REFERENCE},
    },
    "alert-acknowledgement": {
        "title": "alert-acknowledgement: a party acknowledges one of its alerts",
        "description": "conflict is the alert's conflict, given if and only if it has one",
        "type": "object",
        "required": ["alert"],
        "properties": {
            "alert": {**REFERENCE, "description": "an alert id"},
            "conflict": {**REFERENCE, "description": "a conflict id"},
        },
    },
    "resolution": {
        "title": "resolution: how a conflict was settled",
        "type": "object",
        "required": ["conflict", "outcome"],
        "properties": {
            "conflict": {**REFERENCE, "description": "a conflict id"},
            "outcome": {"enum": ["amended", "cancelled", "accepted-after-coordination"]},
        },
    },
    "incident": {
        "title": "incident: a reported incident, correlated with operations near it",
        "type": "object",
        "required": ["description", "location", "time"],
        "properties": {
            "description": TEXT,
            "location": geometry("Point"),
            "time": TIME,
            "casualties": {
                "type": "object",
                "properties": {
                    "killed": {"type": "integer", "minimum": 0},
                    "injured": {"type": "integer", "minimum": 0},
                },
            },
            "evidence": {
                "type": "array",
                "description": "SHA-256 digests of files the reporter keeps",
                "items": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "a SHA-256 digest (64 lower-case hex characters)",
                },
            },
        },
    },
    "review": {
        "title": "review: a request for information, its answer, or an observer's assessment",
        "type": "object",
        "required": ["incident", "step"],
        "properties": {
            "incident": {**REFERENCE, "description": "the incident reviewed"},
            "step": {"enum": list(REVIEW_STEPS)},
            "to": {"type": "string", "description": "request: the party asked"},
            "request": {**REFERENCE, "description": "answer: the request answered"},
            "finding": {"enum": list(FINDINGS)},
            "text": {"type": "string"},
        },
        "allOf": [
            {
                "if": {"required": ["step"], "properties": {"step": {"const": step}}},
                "then": {"required": [needs]},
            }
            for step, needs in (("request", "to"), ("answer", "request"), ("assessment", "finding"))
        ],
    },
    "intelligence": {
        "title": "intelligence: a STIX 2.1 object",
        "description": "Any JSON object is logged and shared with its audience; only a valid "
        "STIX 2.1 object (checked by the STIX validator, as TAXII adds are) is served over TAXII.",
        "type": "object",
        "properties": {
            "type": {"type": "string", "description": "the STIX type, e.g. indicator"},
            "id": {"type": "string", "description": "the STIX id: type--UUID"},
        },
    },
}
assert set(BODIES) == roles.KINDS, "every kind of submission has a schema"


def schema(kind: str, base: str = "") -> dict[str, Any]:
    """``kind``'s schema as published, ``$id`` under ``base``."""
    return {"$schema": DIALECT, "$id": f"{base}/schemas/{kind}.json", **BODIES[kind]}


@cache
def validator(kind: str) -> jsonschema_rs.Draft202012Validator:
    """A compiled validator per kind, formats asserted (a time is RFC 3339). jsonschema-rs:
    the pure-Python validator took 1 ms for a small site and 1.5 s for a 10,000-vertex polygon,
    this takes 0.01 ms and 0.4 ms."""
    return jsonschema_rs.Draft202012Validator(schema(kind), validate_formats=True)


def check(kind: str, body: object) -> None:
    """Refuse a body its kind's schema refuses, naming the field in the problem."""
    checker = validator(kind)
    if not checker.is_valid(body):
        raise schema_problems.refusal(BODIES[kind], next(iter(checker.iter_errors(body))))
