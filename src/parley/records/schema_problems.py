"""A body refused by its kind's JSON Schema, as a problem in the user's words.

jsonschema-rs's own messages quote whole values back (a 10,000-vertex polygon, in full) and
speak the library's language; the problem names the member at fault as ``field``
(``body.volumes[0].altitude``, as the kinds' rules do) and ``pointer`` (RFC 6901), and says
what was expected.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs

from parley.errors import InvalidSubmission


def refusal(schema: dict[str, Any], error: jsonschema_rs.ValidationError) -> InvalidSubmission:
    """The problem for ``error``, the first the body's ``schema`` found."""
    path: list[str | int] = ["body", *error.instance_path]
    if error.kind.name == "required":
        path.append(str(error.kind.value))  # the missing member's name
    field = _dotted(path)
    return InvalidSubmission(
        f"{field} {_message(schema, error)}",
        field=field,
        pointer="/" + "/".join(_escaped(p) for p in path),
    )


def _dotted(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _escaped(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


NAMES = {
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "object": "a JSON object",
    "array": "an array",
    "boolean": "true or false",
    "null": "null",
}


def _shown(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else json.dumps(value)


def _described(schema: dict[str, Any], schema_path: list[str | int]) -> str:
    """The ``description`` next to the keyword that refused, in the schema."""
    node: Any = schema
    try:
        for step in schema_path[:-1]:
            node = node[int(step) if isinstance(node, list) else step]
        return str(node["description"])
    except (KeyError, IndexError, TypeError, ValueError):
        return "in the expected form"


def _message(schema: dict[str, Any], error: jsonschema_rs.ValidationError) -> str:
    """The error in the user's words (the library's messages quote whole values back)."""
    found, expected = error.kind.name, error.kind.value
    if found == "required":
        return "is required"
    if found == "type":
        types = [expected] if isinstance(expected, str) else sorted(expected, key=_type_order)
        return "must be " + " or ".join(NAMES.get(t, t) for t in types)
    if found == "enum":
        return "must be one of " + ", ".join(_shown(v) for v in expected)
    if found == "const":
        return f"must be {_shown(expected)}"
    if found == "minLength" or (found == "pattern" and expected == r"\S"):
        return "must be a non-empty string"
    if found == "pattern":
        return f"is not {_described(schema, list(error.schema_path))}"
    if found == "format":
        return "must be an RFC 3339 time with a zone, like 2026-12-01T08:00:00Z"
    if found == "minItems":
        return f"must have at least {expected} item{'s' if expected != 1 else ''}"
    if found == "maxItems":
        return f"must have at most {expected} items"
    if found == "minimum":
        return f"must be at least {expected}"
    if found == "exclusiveMinimum":
        return f"must be more than {expected}"
    if found == "not":  # a member the schema forbids here, and why
        return f"is not allowed: {_described(schema, list(error.schema_path))}"
    return "is not valid here"


def _type_order(name: str) -> int:
    return list(NAMES).index(name) if name in NAMES else len(NAMES)
