"""JSON Schemas (2020-12) published by the hub: the body of each kind of submission at
/schemas/{kind}.json (defined in parley.records.schemas, which the hub checks bodies with) and
the API's answers at /schemas/answers/{name}.json, both also in the OpenAPI document's
components (``Body-{kind}``, ``Answer-{name}``).

Answers are described as clients may rely on them: the members named are always there; more
may be added. Each schema is self-contained (no ``$ref``), so it is usable on its own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from parley.errors import NotFound
from parley.hub import hubrecords
from parley.records.schemas import BODIES, DIALECT, schema

ID = {"type": "string"}
NULLABLE_ID = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time"}
CURSOR = {"type": "integer", "minimum": 0}
NEXT = {"type": ["integer", "null"], "description": "the cursor of the next page; null: no more"}
AUDIENCE = {
    "description": '"all", or the parties that may see it (the author always among them)',
    "anyOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}}],
}

CONFLICT = {
    "type": "object",
    "title": "A conflict as the caller may see it",
    "description": "Each side is named by role when the caller may see it; a record it may "
    "not see is not named (record, other and distance_m are then null).",
    "required": ["id", "kind", "severity", "state", "detail", "facts", "created_at"],
    "properties": {
        "id": ID,
        "kind": {"type": "string"},
        "severity": {"type": "string"},
        "state": {"enum": ["open", "acknowledged", "resolved", "moot"]},
        "operation": ID,
        "site": ID,
        "area": ID,
        "movement": ID,
        "other_operation": ID,
        "record": NULLABLE_ID,
        "other": NULLABLE_ID,
        "distance_m": {"type": ["number", "null"]},
        "detail": {"type": "string"},
        "facts": {"type": "object"},
        "created_at": TIME,
        "cursor": {**CURSOR, "description": "in a list: the caller's alert cursor"},
    },
}
ALERT = {
    "type": "object",
    "title": "An alert to the caller",
    "required": ["id", "cursor", "kind", "severity", "created_at", "acknowledged_at", "message"],
    "properties": {
        "id": ID,
        "cursor": CURSOR,
        "kind": {"type": "string"},
        "severity": {"type": "string"},
        "created_at": TIME,
        "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
        "conflict": {"anyOf": [CONFLICT, {"type": "null"}]},
        "record": NULLABLE_ID,
        "message": {"type": "string"},
    },
}
SUBMISSION = {
    "type": "object",
    "title": "A stored submission the caller may see",
    "required": ["id", "sequence", "kind", "party", "received_at", "audience", "jws"],
    "properties": {
        "id": ID,
        "sequence": {"type": "integer", "minimum": 0, "description": "its index in the log"},
        # the hub's own records (the area it serves, alert deliveries) are read like any other
        "kind": {"enum": sorted({*BODIES, *hubrecords.KINDS})},
        "party": ID,
        "client_time": TIME,
        "received_at": TIME,
        "audience": AUDIENCE,
        "document": {"type": ["object", "null"], "description": "the signed payload"},
        "jws": {"type": "string"},
        "authenticated_by": {"enum": ["signature", "token", None]},
        "salt": {"type": ["string", "null"], "description": "a restricted record's salt"},
        "integrity": {"type": "string", "description": "only when damaged in the database"},
    },
}


def items(item: dict[str, Any], title: str, paged: bool = True) -> dict[str, Any]:
    page: dict[str, Any] = {
        "type": "object",
        "title": title,
        "required": ["items", "next"] if paged else ["items"],
        "properties": {"items": {"type": "array", "items": item}},
    }
    if paged:
        page["properties"]["next"] = NEXT
    return page


PROBLEM: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "An RFC 9457 problem document; some carry more members (`field`, `pointer`, "
    "`refers`, `current`, `errors`).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "the input at fault, e.g. body.volumes[0]"},
        "pointer": {
            "type": "string",
            "description": "a refused body's member at fault as a JSON Pointer (RFC 6901) into "
            "the signed document, e.g. /body/volumes/0",
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

ANSWERS: dict[str, dict[str, Any]] = {
    "accepted": {
        "type": "object",
        "title": "A submission accepted and logged",
        "required": ["id", "sequence", "kind", "received_at", "entry", "receipt", "conflicts"],
        "properties": {
            "id": ID,
            "sequence": {"type": "integer", "minimum": 0},
            "kind": {"enum": sorted(BODIES)},
            "received_at": TIME,
            "entry": {"type": "string", "description": "the log entry's bytes, base64"},
            "receipt": {
                "description": "where to fetch the receipt; with ?receipt=S, the receipt "
                "itself (null if no checkpoint was signed in time)",
                "type": ["string", "object", "null"],
            },
            "conflicts": {"type": "array", "items": CONFLICT},
            "flags": {"type": "array", "items": {"type": "string"}},
            "related": {"type": "object", "description": "an incident's nearby operations"},
        },
    },
    "submission": SUBMISSION,
    "submissions": items(SUBMISSION, "A page of submissions"),
    "conflict": CONFLICT,
    "conflicts": items(CONFLICT, "A page of conflicts that alert the caller"),
    "alert": ALERT,
    "alerts": items(ALERT, "A page of the caller's alerts"),
    "unacknowledged-sites": items(
        {
            "type": "object",
            "required": ["id", "party", "received_at", "age_s"],
            "properties": {
                "id": ID,
                "party": ID,
                "received_at": TIME,
                "age_s": {"type": "integer", "minimum": 0},
            },
        },
        "Sites the caller has not acknowledged",
        paged=False,
    ),
    "participation": items(
        {
            "type": "object",
            "required": ["party", "role", "unacknowledged_sites", "last_submitted_at"],
            "properties": {
                "party": ID,
                "role": {"enum": ["member", "notifier", "observer"]},
                "unacknowledged_sites": {"type": ["integer", "null"], "minimum": 0},
                "last_submitted_at": {"type": ["string", "null"], "format": "date-time"},
                "silent_for_s": {"type": ["integer", "null"]},
            },
        },
        "Per party: what it owes and how long it has been silent, as the caller may see",
        paged=False,
    ),
    "problem": PROBLEM,
}
# Which answer each operation gives on success: (method, path) -> (status, answer).
RESPONSES: dict[tuple[str, str], tuple[str, str]] = {
    ("post", "/api/v1/submissions"): ("201", "accepted"),
    ("get", "/api/v1/submissions"): ("200", "submissions"),
    ("get", "/api/v1/submissions/{submission_id}"): ("200", "submission"),
    ("get", "/api/v1/conflicts"): ("200", "conflicts"),
    ("get", "/api/v1/alerts"): ("200", "alerts"),
    ("get", "/api/v1/sites/unacknowledged"): ("200", "unacknowledged-sites"),
    ("get", "/api/v1/participation"): ("200", "participation"),
}


def body_component(kind: str) -> str:
    """The name of ``kind``'s body schema in the OpenAPI document's components."""
    return "Body-" + kind


def answer_component(name: str) -> str:
    """The name of an answer's schema in the OpenAPI document's components."""
    return "Problem" if name == "problem" else "Answer-" + name


def answer(name: str, base: str = "") -> dict[str, Any]:
    return {"$schema": DIALECT, "$id": f"{base}/schemas/answers/{name}.json", **ANSWERS[name]}


router = APIRouter(tags=["schemas"])


def _named(name: str, known: dict[str, Any], where: str) -> str:
    stem = name.removesuffix(".json")
    if not name.endswith(".json") or stem not in known:
        raise NotFound(
            f"no schema {name!r}; {where}: {', '.join(k + '.json' for k in known)}", field="name"
        )
    return stem


@router.get("/schemas/{name}")
def published(name: str) -> JSONResponse:
    """The JSON Schema (2020-12) of the body of one kind of submission, e.g.
    ``/schemas/site.json``; the hub checks every body with it."""
    kind = _named(name, BODIES, "schemas")
    return JSONResponse(schema(kind), media_type="application/schema+json")


@router.get("/schemas/answers/{name}")
def published_answer(name: str) -> JSONResponse:
    """The JSON Schema (2020-12) of one of the API's answers, e.g.
    ``/schemas/answers/conflicts.json``."""
    found = _named(name, ANSWERS, "answers")
    return JSONResponse(answer(found), media_type="application/schema+json")
