"""OGC API – Features, Part 1 Core with GeoJSON, read-only, under ``/ogc/``: one collection per
layer of :mod:`parley.layers.features`, each holding exactly what the caller may see.

Every request authenticates as a party, with ``Bearer <token>`` or HTTP Basic with the party id
and its token (what QGIS and GDAL send when given a user name and password). Bad parameters get
400 with a body that is both an RFC 9457 problem and an OGC exception (``code``,
``description``), so OGC clients and parley's own read it alike.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from parley import clock
from parley.api import ogc_html
from parley.api.auth import hub_of
from parley.api.taxii import party_of
from parley.errors import BadRequest, NotFound
from parley.layers.cache import Indexed, cache_of
from parley.layers.features import LAYERS
from parley.store.db import Party

router = APIRouter(prefix="/ogc", tags=["ogc"])
Caller = Annotated[Party, Depends(party_of)]

GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
]
ITEM_PARAMS = frozenset({"bbox", "datetime", "limit", "offset", "f"})


class OgcBadRequest(BadRequest):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code, description=detail)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _json(body: dict[str, Any], media_type: str = "application/json") -> JSONResponse:
    return JSONResponse(body, media_type=media_type)


def _format(request: Request) -> bool:
    """Whether to answer in HTML (else JSON)."""
    chosen = request.query_params.get("f")
    if chosen is not None and chosen not in ("json", "geojson", "html"):
        raise OgcBadRequest("InvalidParameterValue", f"f must be json or html, not {chosen!r}")
    return ogc_html.wanted(request)


@router.get("", include_in_schema=False)
@router.get("/", summary="OGC API – Features landing page")
def landing(request: Request, _party: Caller) -> Response:
    html = _format(request)
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    links = [
        _link(f"{base}/", "self", "application/json", "this document"),
        _link(f"{base}/?f=html", "alternate", "text/html", "this document as HTML"),
        _link(
            f"{root}/openapi.json",
            "service-desc",
            "application/vnd.oai.openapi+json;version=3.0",
            "the API definition",
        ),
        _link(f"{root}/docs", "service-doc", "text/html", "the API documentation"),
        _link(f"{base}/conformance", "conformance", "application/json", "conformance"),
        _link(
            f"{base}/conformance",
            "http://www.opengis.net/def/rel/ogc/1.0/conformance",
            "application/json",
            "conformance",
        ),
        _link(f"{base}/collections", "data", "application/json", "the layers"),
        _link(
            f"{base}/collections",
            "http://www.opengis.net/def/rel/ogc/1.0/data",
            "application/json",
            "the layers",
        ),
    ]
    doc = {
        "title": "parley",
        "description": "The cease-fire's layers the caller may see: sites, movements, "
        "operations, areas, incidents and conflicts.",
        "links": links,
    }
    return ogc_html.landing(request, doc) if html else _json(doc)


@router.get("/conformance", summary="Conformance classes")
def conformance(request: Request, _party: Caller) -> Response:
    doc = {"conformsTo": CONFORMANCE}
    return ogc_html.conformance(request, doc) if _format(request) else _json(doc)


@router.get("/collections", summary="The layers")
def collections(request: Request, _party: Caller) -> Response:
    html = _format(request)
    base = _base(request)
    doc = {
        "links": [
            _link(f"{base}/collections", "self", "application/json", "the layers"),
            _link(f"{base}/collections?f=html", "alternate", "text/html", "the layers as HTML"),
        ],
        "collections": [_collection(base, layer) for layer in LAYERS],
    }
    return ogc_html.collections(request, doc) if html else _json(doc)


@router.get("/collections/{layer}", summary="One layer")
def collection(request: Request, _party: Caller, layer: str) -> Response:
    html = _format(request)
    _known(layer)
    doc = _collection(_base(request), layer)
    return ogc_html.collection(request, doc) if html else _json(doc)


@router.get("/collections/{layer}/queryables", summary="What a layer's features can be queried by")
def queryables(request: Request, _party: Caller, layer: str) -> JSONResponse:
    _format(request)
    _known(layer)
    base = _base(request)
    text = {"type": "string"}
    when = {"type": "string", "format": "date-time"}
    properties: dict[str, Any] = {
        "geometry": {"$ref": "https://geojson.org/schema/Geometry.json"},
        "datetime": {**when, "description": "the feature's time window (start to end)"},
        "name": {**text, "title": "name"},
        "category": {**text, "title": "category"},
        "party": {**text, "title": "notifying party"},
        "start": when,
        "end": when,
    }
    return _json(
        {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": f"{base}/collections/{layer}/queryables",
            "type": "object",
            "title": LAYERS[layer],
            "properties": properties,
            "additionalProperties": True,
        },
        "application/schema+json",
    )


@router.get(
    "/collections/{layer}/items",
    summary="A layer's features",
    responses={200: {"content": {GEOJSON: {}}}},
)
async def items(
    request: Request,
    party: Caller,
    layer: str,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    when: Annotated[
        str | None,
        Query(alias="datetime", description="an RFC 3339 instant or interval (start/end, ..)"),
    ] = None,
    limit_text: Annotated[
        str | None,
        Query(alias="limit", description=f"1 to {MAX_LIMIT}, {DEFAULT_LIMIT} if not given"),
    ] = None,
    offset_text: Annotated[
        str | None, Query(alias="offset", description="features to skip")
    ] = None,
) -> Response:
    # Parameters are read as text and checked here, so that each refusal is an OGC exception.
    _known(layer)
    params = request.query_params
    html = _format(request)
    limit = _integer(limit_text, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _integer(offset_text, "offset", 0, 0, 10**9)
    area = _bbox(bbox)
    window = _datetime(when)
    hub = hub_of(request)

    def select() -> tuple[Indexed, int, list[int]]:
        indexed = cache_of(hub).get(hub, party, layer)
        if area is None and window is None:
            return indexed, len(indexed.ids), list(range(len(indexed.ids))[offset : offset + limit])
        matched = indexed.select(area, window)
        return indexed, len(matched), matched[offset : offset + limit].tolist()

    indexed, count, page = await run_in_threadpool(select)
    base = f"{_base(request)}/collections/{layer}/items"
    kept = {k: v for k, v in params.items() if k in ITEM_PARAMS and k not in ("offset", "limit")}

    def href(at: int) -> str:
        return f"{base}?{urlencode({**kept, 'limit': limit, 'offset': at})}"

    links = [_link(href(offset), "self", GEOJSON, "this page")]
    if offset + limit < count:
        links.append(_link(href(offset + limit), "next", GEOJSON, "the next page"))
    if offset > 0:
        links.append(_link(href(max(0, offset - limit)), "prev", GEOJSON, "the previous page"))
    # The features were serialized when the layer was built: a page joins their bytes.
    tail = {
        "numberMatched": count,
        "numberReturned": len(page),
        "timeStamp": clock.iso(clock.now()),
        "links": links,
    }
    if html:
        doc = {"features": [orjson.loads(indexed.blobs[i]) for i in page], **tail}
        return ogc_html.items(request, LAYERS[layer], doc, base)
    body = b"".join(
        (
            b'{"type":"FeatureCollection","features":[',
            b",".join([indexed.blobs[i] for i in page]),
            b"],",
            orjson.dumps(tail)[1:],
        )
    )
    return Response(body, media_type=GEOJSON)


@router.get(
    "/collections/{layer}/items/{feature_id}",
    summary="One feature",
    responses={200: {"content": {GEOJSON: {}}}},
)
async def item(request: Request, party: Caller, layer: str, feature_id: str) -> Response:
    _known(layer)
    html = _format(request)
    hub = hub_of(request)
    indexed = await run_in_threadpool(lambda: cache_of(hub).get(hub, party, layer))
    at = indexed.position(feature_id)
    if at is None:
        raise NotFound(
            f"no such feature you may see in {layer}", code="NotFound", description="not found"
        )
    body = orjson.loads(indexed.blobs[at])
    base = f"{_base(request)}/collections/{layer}"
    body["links"] = [
        _link(f"{base}/items/{feature_id}", "self", GEOJSON, "this feature"),
        _link(base, "collection", "application/json", LAYERS[layer]),
    ]
    return ogc_html.item(request, LAYERS[layer], body) if html else _json(body, GEOJSON)


# -- parts ---------------------------------------------------------------------------------------


def _link(href: str, rel: str, media_type: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def _collection(base: str, layer: str) -> dict[str, Any]:
    here = f"{base}/collections/{layer}"
    return {
        "id": layer,
        "title": LAYERS[layer],
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]], "crs": CRS84},
            "temporal": {
                "interval": [[None, None]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            },
        },
        "links": [
            _link(here, "self", "application/json", LAYERS[layer]),
            _link(f"{here}/items", "items", GEOJSON, "its features"),
            _link(
                f"{here}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "queryables",
            ),
        ],
    }


def _known(layer: str) -> None:
    if layer not in LAYERS:
        raise NotFound(
            f"no collection {layer!r}; collections: {', '.join(LAYERS)}",
            code="NotFound",
            description=f"no collection {layer!r}",
        )


def _integer(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise OgcBadRequest("InvalidParameterValue", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise OgcBadRequest("InvalidParameterValue", f"{name} must be from {low} to {high}")
    return value


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        raise OgcBadRequest("InvalidParameterValue", "bbox must be numbers") from None
    if len(numbers) == 6:  # the heights of a 3D box: every layer is filtered in 2D
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise OgcBadRequest(
            "InvalidParameterValue", "bbox must be minlon,minlat,maxlon,maxlat (4 or 6 numbers)"
        )
    minx, miny, maxx, maxy = numbers
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise OgcBadRequest(
            "InvalidParameterValue",
            "bbox is out of range: longitudes from -180 to 180, latitudes from -90 to 90, "
            "minlat at most maxlat",
        )
    return minx, miny, maxx, maxy


def _datetime(text: str | None) -> tuple[datetime | None, datetime | None] | None:
    """An instant, or an interval ``start/end`` with ``..`` (or nothing) for an open end."""
    if text is None:
        return None
    if "/" in text:
        first, _, second = text.partition("/")
        start, end = _moment(first), _moment(second)
        if start is None and end is None:
            raise OgcBadRequest("InvalidParameterValue", "datetime interval is open at both ends")
        if start and end and end < start:
            raise OgcBadRequest("InvalidParameterValue", "datetime interval ends before it starts")
        return start, end
    instant = _moment(text)
    if instant is None:
        raise OgcBadRequest("InvalidParameterValue", "datetime must be an RFC 3339 time")
    return instant, instant


def _moment(text: str) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        return clock.parse(text, "datetime")
    except BadRequest:
        raise OgcBadRequest(
            "InvalidParameterValue",
            f"datetime {text[:40]!r} is not an RFC 3339 time with a zone (e.g. 2026-11-29T12:00Z)",
        ) from None
