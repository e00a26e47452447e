"""The map page at ``/``, its static assets, and the base layers it draws with no tile server.

The page signs in the browser with the party's key and talks to the same ``/api/v1`` and
``/log`` routes as every other client: nothing here reads the store. Its Content Security
Policy lets it load and send only to this hub, so a script injected through a record's text
could neither load code from elsewhere nor send anything the page holds (its token) away.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from parley import web
from parley.errors import NotFound

router = APIRouter(include_in_schema=False)

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # Leaflet positions map panes and markers with inline styles.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
NOT_BUILT = (
    "<!doctype html><meta charset=utf-8><title>parley</title>"
    "<p>The map page is not built into this installation. Run <code>npm ci &amp;&amp; npm run "
    "build</code> in <code>web/</code>, or use the API at <a href=/docs>/docs</a>.</p>"
)


def _send(request: Request, asset: web.Asset, headers: dict[str, str]) -> Response:
    # Revalidated on every load (no-cache) but answered 304 when unchanged: an upgraded hub
    # is picked up at once, and an unchanged one costs a round trip, not the bytes.
    base = {**headers, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=base)
    accepts = request.headers.get("accept-encoding", "")
    if asset.gzipped is not None and "gzip" in accepts:
        return Response(
            asset.gzipped,
            media_type=asset.media_type,
            headers={**base, "Content-Encoding": "gzip"},
        )
    return Response(asset.body, media_type=asset.media_type, headers=base)


@router.get("/", response_class=HTMLResponse)
def page(request: Request) -> Response:
    asset = web.index()
    if asset is None:
        return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-cache"})
    return _send(request, asset, PAGE_HEADERS)


@router.get("/static/{name:path}")
def static(request: Request, name: str) -> Response:
    asset = web.static(name)
    if asset is None:
        raise NotFound(f"no static file {name!r}")
    return _send(request, asset, {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@router.get("/basemap/{name}.geojson")
def basemap(request: Request, name: str) -> Response:
    """Countries (Natural Earth), Syria's governorates and neighbouring provinces (Natural
    Earth), towns (GeoNames, CC BY 4.0): see parley/data/README.md."""
    asset = web.basemap(name)
    if asset is None:
        raise NotFound(f"no base layer {name!r}; there are {', '.join(web.LAYERS)}")
    return _send(request, asset, {"Cache-Control": "no-cache"})
