"""/taxii2/: a TAXII 2.1 server over the hub's intelligence records (docs/taxii.md).

One API root, ``/taxii2/parley/``. Every request authenticates as a party, with HTTP Basic (the
party id and its token) or a bearer token. Responses are ``application/taxii+json;version=2.1``;
errors are TAXII error messages, not RFC 9457 documents, including for unknown paths and methods
under /taxii2/. The work is done in :mod:`parley.intel.service`; this module is HTTP only.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import Match

from parley.api.auth import hub_of, source_of
from parley.errors import (
    Forbidden,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    ParleyError,
    Unauthorized,
    UnsupportedMediaType,
)
from parley.formats import strict_json
from parley.intel.service import Answer, Intel
from parley.store.db import Party

MEDIA_TYPE = "application/taxii+json;version=2.1"
API_ROOT = "parley"
ROOT = f"/taxii2/{API_ROOT}"
CHALLENGE = 'Basic realm="parley TAXII", Bearer realm="parley TAXII"'
log = logging.getLogger("parley.api.taxii")


# -- responses and errors -------------------------------------------------------------------


def taxii(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def error(
    status: int, title: str, description: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A TAXII error message (TAXII 2.1 section 3.6.1)."""
    body = {"title": title, "description": description, "http_status": str(status)}
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": CHALLENGE}
    return taxii(body, status, headers)


def _as_error(exc: Exception) -> Response:
    if isinstance(exc, ParleyError):
        return error(exc.status, exc.title, exc.detail)
    if isinstance(exc, HTTPException):
        headers = dict(exc.headers) if exc.headers else None
        return error(exc.status_code, "Error", str(exc.detail), headers)
    if isinstance(exc, RequestValidationError):
        return error(400, "Bad request", "the request's parameters are not valid")
    log.exception("unexpected error in a TAXII request", exc_info=exc)
    return error(500, "Internal error", "the hub failed to handle this request")


class TaxiiRoute(APIRoute):
    """Routes whose every failure is answered as a TAXII error message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:
                return _as_error(exc)

        return guarded


router = APIRouter(tags=["taxii"], route_class=TaxiiRoute, include_in_schema=False)

# -- authentication, negotiation -----------------------------------------------------------

_intel_lock = threading.Lock()


def intel_of(request: Request) -> Intel:
    """The hub's TAXII service, made on first use (the app has one hub)."""
    state = request.app.state
    found = getattr(state, "taxii", None)
    if found is None:
        with _intel_lock:
            found = getattr(state, "taxii", None)
            if found is None:
                found = state.taxii = Intel(hub_of(request))
    assert isinstance(found, Intel)
    return found


async def party_of(request: Request) -> Party:
    """HTTP Basic with the party id and its token, or ``Bearer <token>``. async for the reason
    :func:`parley.api.auth.current_party` is: no hop through the thread pool per request."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    hub = hub_of(request)
    if scheme == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Basic credentials are base64 of <party id>:<token>") from None
        party_id, colon, token = decoded.partition(":")
        party = hub.authenticate(token if colon else None, source_of(request))
        if party.id != party_id:
            raise Unauthorized("the token is not valid for any party")
        return party
    if scheme in ("bearer", "token") and credentials:
        return hub.authenticate(credentials, source_of(request))
    raise Unauthorized("authenticate with HTTP Basic (party id and token) or a bearer token")


async def negotiated(request: Request) -> Party:
    """The caller, once it is known and it accepts a TAXII 2.1 answer."""
    party = await party_of(request)
    if not _accepts(request.headers.get("accept")):
        raise NotAcceptable(f"this server answers {MEDIA_TYPE} only")
    return party


def _accepts(header: str | None) -> bool:
    if header is None or not header.strip():
        return True
    for item in header.split(","):
        media, *params = (p.strip().lower() for p in item.split(";"))
        options = dict(p.partition("=")[::2] for p in params if "=" in p)
        if options.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        version = options.get("version", "2.1").strip().strip('"')
        if media in ("*/*", "application/*") or (
            media == "application/taxii+json" and version == "2.1"
        ):
            return True
    return False


def _require_taxii_body(request: Request) -> None:
    media, *params = (p.strip().lower() for p in request.headers.get("content-type", "").split(";"))
    options = dict(p.partition("=")[::2] for p in params if "=" in p)
    if media != "application/taxii+json" or options.get("version", "2.1").strip('"') != "2.1":
        raise UnsupportedMediaType(f"send the envelope as {MEDIA_TYPE}")


Caller = Annotated[Party, Depends(negotiated)]


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _answer(found: Answer) -> Response:
    return taxii(found.body, headers=found.headers)


# -- discovery, API root, status -------------------------------------------------------------


@router.get("/taxii2/")
def discovery(request: Request, _party: Caller) -> Response:
    root = str(request.base_url).rstrip("/") + ROOT + "/"
    return taxii(
        {
            "title": "parley",
            "description": "Intelligence shared between the parties, each object a signed log "
            "entry; collections follow audiences.",
            "default": root,
            "api_roots": [root],
        }
    )


@router.get(ROOT + "/")
def api_root(request: Request, _party: Caller) -> Response:
    return taxii(
        {
            "title": "parley intelligence",
            "description": "STIX 2.1 objects; every object added is logged with a receipt.",
            "versions": [MEDIA_TYPE],
            "max_content_length": hub_of(request).settings.max_body_bytes,
        }
    )


@router.get(ROOT + "/status/{status_id}/")
def status(request: Request, party: Caller, status_id: str) -> Response:
    return taxii(intel_of(request).status(party, status_id))


# -- collections -----------------------------------------------------------------------------


@router.get(ROOT + "/collections/")
def collections(request: Request, party: Caller) -> Response:
    found = intel_of(request).collections_for(party)
    # TAXII lists are never empty: no collection is an empty resource.
    return taxii({"collections": [c.resource(party) for c in found]} if found else {})


@router.get(ROOT + "/collections/{collection_id}/")
def collection(request: Request, party: Caller, collection_id: str) -> Response:
    return taxii(intel_of(request).collection(party, collection_id).resource(party))


@router.get(ROOT + "/collections/{collection_id}/objects/")
def get_objects(request: Request, party: Caller, collection_id: str) -> Response:
    intel = intel_of(request)
    found = intel.collection(party, collection_id)
    return _answer(intel.objects(party, found, _params(request)))


@router.post(ROOT + "/collections/{collection_id}/objects/")
async def add_objects(request: Request, party: Caller, collection_id: str) -> Response:
    intel = intel_of(request)
    found = intel.collection(party, collection_id)
    _require_taxii_body(request)
    # The one edge parser: what it admits can be written canonically and read back from the
    # store, which orjson alone does not promise (2**60 passes it and fails JCS).
    envelope = strict_json.loads(await request.body(), what="the envelope")
    return taxii(await intel.add(party, found, envelope), 202)


@router.get(ROOT + "/collections/{collection_id}/objects/{object_id}/")
def get_object(request: Request, party: Caller, collection_id: str, object_id: str) -> Response:
    intel = intel_of(request)
    found = intel.collection(party, collection_id)
    return _answer(intel.objects(party, found, _params(request), stix_id=object_id))


@router.delete(ROOT + "/collections/{collection_id}/objects/{object_id}/")
def delete_object(request: Request, party: Caller, collection_id: str, object_id: str) -> Response:
    intel_of(request).collection(party, collection_id)
    raise Forbidden(
        "objects cannot be deleted: each one is a logged record; add a newer version "
        "(revoked: true) to withdraw it"
    )


@router.get(ROOT + "/collections/{collection_id}/objects/{object_id}/versions/")
def versions(request: Request, party: Caller, collection_id: str, object_id: str) -> Response:
    intel = intel_of(request)
    found = intel.collection(party, collection_id)
    return _answer(intel.versions(party, found, object_id, _params(request)))


@router.get(ROOT + "/collections/{collection_id}/manifest/")
def manifest(request: Request, party: Caller, collection_id: str) -> Response:
    intel = intel_of(request)
    found = intel.collection(party, collection_id)
    return _answer(intel.manifest(party, found, _params(request)))


# -- everything else under /taxii2/ ----------------------------------------------------------

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route("/taxii2/{rest:path}", methods=_METHODS)
def elsewhere(request: Request, rest: str) -> Response:
    """Unknown paths and methods, still answered as TAXII error messages."""
    allowed = _allowed(request, request.url.path)
    if allowed:
        raise MethodNotAllowed(f"use {', '.join(allowed)} here")
    if not request.url.path.endswith("/") and _allowed(request, request.url.path + "/"):
        target = request.url.replace(path=request.url.path + "/")
        return Response(status_code=307, headers={"Location": str(target)})
    raise NotFound("no such TAXII endpoint")


def _allowed(request: Request, path: str) -> list[str]:
    """The methods that some TAXII route accepts at ``path``."""
    methods: set[str] = set()
    for route in router.routes:
        if not isinstance(route, APIRoute) or route.endpoint is elsewhere:
            continue
        for method in route.methods or ():
            scope = {**request.scope, "path": path, "method": method}
            if route.matches(scope)[0] == Match.FULL:
                methods.add(method)
    return sorted(methods)
