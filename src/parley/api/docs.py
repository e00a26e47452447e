"""The OpenAPI document as a client needs it, and Swagger UI served by the hub itself.

FastAPI's generated document knows neither how a party authenticates nor what the hub's
errors look like (it documents a 422 the hub never sends: invalid input is a 400 problem), so
it is completed here, once, from the routes and a few facts about them. ``/docs`` loads its
assets from the ``swagger-ui-py`` package, never a CDN: it works on a network with no way out.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute

from parley.api import schemas as published
from parley.api.auth import current_party
from parley.api.problems import PROBLEM
from parley.api.taxii import party_of
from parley.errors import NotFound
from parley.records.schemas import BODIES

ASSETS = "/docs/assets"
# Only what the page loads: the package ships Swagger Editor too, which is not served.
ASSET_FILES = frozenset(
    {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"}
)
AUTHENTICATORS = (current_party, party_of)
# Routes that read the token themselves (an EventSource sends no headers: ?token= too).
SELF_AUTHENTICATED = {("get", "/api/v1/alerts/stream")}
BEARER = "bearer"

ERRORS = {
    400: "Bad request: the input cannot be understood (the problem's `field` names it)",
    401: "Unauthorized: no bearer token, or a token the hub does not know",
    403: "Forbidden: the caller's role or identity may not do this",
    404: "Not found: no such resource, or one outside the caller's audience",
    409: "Conflict: a replayed nonce, a stale picture, a transition the record cannot make",
    413: "Payload too large: the body is over the hub's limit",
    415: "Unsupported media type: the body's Content-Type is not one this operation reads",
    422: "Unprocessable: well-formed but refused (signature, time, geometry, audience, rules)",
}
# What the rules below cannot see: errors a handler raises on its own.
EXTRA_ERRORS: dict[tuple[str, str], set[int]] = {
    ("post", "/api/v1/submissions"): {403, 404, 409, 422},
    ("get", "/api/v1/webhook"): {404},
    ("put", "/api/v1/webhook"): {400},
}
# Bodies a handler reads itself, which FastAPI cannot see.
REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("put", "/api/v1/webhook"): {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["url"],
                    "properties": {"url": {"type": "string", "format": "uri"}},
                }
            }
        },
    }
}
MEDIA: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("get", "/schemas/{name}"): (
        "application/schema+json",
        {"type": "object", "description": "a JSON Schema (2020-12)"},
    ),
    ("get", "/log/tile/{path}"): (
        "application/octet-stream",
        {"type": "string", "format": "binary", "description": "a C2SP tlog-tiles tile"},
    ),
    ("get", "/log/checkpoint"): (
        "text/plain",
        {"type": "string", "description": "a C2SP signed note (checkpoint)"},
    ),
    ("get", "/api/v1/alerts/stream"): (
        "text/event-stream",
        {
            "type": "string",
            "description": "Server-Sent Events: `alert` events (data: an alert as JSON, id: "
            "its cursor), `error` events (data: a problem document), keep-alive comments",
        },
    ),
}
COMPACT_JWS = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
    "description": "a compact JWS (RFC 7515, EdDSA) whose payload is the submission document: "
    "kind, party, nonce, time, audience and body",
    "example": "eyJhbGciOiJFZERTQSIsImtpZCI6ImFscGhhIn0.eyJraW5kIjoic2l0ZSJ9.c2lnbmF0dXJl",
}
PROBLEM_SCHEMA = published.PROBLEM


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json, Swagger UI at /docs, and the body
    schemas at /schemas/{kind}.json."""
    app.include_router(published.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(spec, authenticated(app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # The default validator badge asks validator.swagger.io about our document.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in ASSET_FILES:
            raise NotFound(f"no documentation asset {name!r}")
        data = resources.files("swagger_ui").joinpath("static", name).read_bytes()
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(data, media_type=media, headers={"Cache-Control": "max-age=86400"})


def _routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.160)
            yield from _routes(route.original_router.routes)
        elif hasattr(route, "routes"):
            yield from _routes(route.routes)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def authenticated(routes: Iterable[Any]) -> set[tuple[str, str]]:
    """(method, path) of every operation that needs a party's bearer token."""
    found = set(SELF_AUTHENTICATED)
    for route in _routes(routes):
        if any(call in AUTHENTICATORS for call in _calls(route.dependant)):
            found |= {(m.lower(), route.path_format) for m in route.methods or ()}
    return found


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": ERRORS[status],
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def complete(spec: dict[str, Any], needs_token: set[tuple[str, str]]) -> dict[str, Any]:
    """The generated document with the bearer scheme, the errors each operation can answer
    as problem documents, and the media types FastAPI cannot infer."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for kind, body in BODIES.items():
        schemas[published.body_component(kind)] = body
    for name, answer in published.ANSWERS.items():
        schemas[published.answer_component(name)] = answer
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "the party's token, as printed by `parley party add`",
        }
    }
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            _complete(path, method, operation, (method, path) in needs_token)
    return spec


def _complete(path: str, method: str, operation: dict[str, Any], needs_token: bool) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's validation error; the hub answers those with 400
    parameters = operation.get("parameters", [])
    if (method, path) in REQUEST_BODIES:
        operation["requestBody"] = REQUEST_BODIES[method, path]
    statuses = set(EXTRA_ERRORS.get((method, path), set()))
    if parameters or "requestBody" in operation or path.startswith("/ogc"):
        statuses.add(400)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {413, 415}
    if needs_token:
        statuses.add(401)
        operation["security"] = [{BEARER: []}]
    for status in sorted(statuses):
        responses[str(status)] = _problem(status)
    if (method, path) in published.RESPONSES:
        success, name = published.RESPONSES[method, path]
        answer = responses.setdefault(success, {"description": "Successful Response"})
        ref = {"$ref": f"#/components/schemas/{published.answer_component(name)}"}
        answer["content"] = {"application/json": {"schema": ref}}
    if (method, path) in MEDIA:
        media, schema = MEDIA[method, path]
        for status, response in responses.items():
            if status.startswith("2"):
                response["content"] = {media: {"schema": schema}}
    if (method, path) == ("post", "/api/v1/submissions"):
        content = operation["requestBody"]["content"]
        content["application/jose"] = {"schema": COMPACT_JWS}
        content.setdefault("application/json", {"schema": {}})["schema"] = {
            "type": "object",
            "required": ["jws"],
            "properties": {"jws": COMPACT_JWS},
        }
        kinds = ", ".join(f"`{k}` (`/schemas/{k}.json`)" for k in BODIES)
        operation["description"] = (
            operation.get("description", "")
            + "\n\nThe signed document's `body` depends on its `kind`; the hub checks it "
            "against the kind's JSON Schema (2020-12), also under components as "
            f"`Body-<kind>`: {kinds}. A body the schema refuses is a 400 problem whose `field` "
            "and `pointer` name the member at fault."
        )
