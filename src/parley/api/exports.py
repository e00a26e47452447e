"""/api/v1/export: the caller's view of the records in the field's exchange formats."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from parley.api.auth import CurrentParty, hub_of
from parley.errors import NotFound
from parley.layers.features import LAYERS, features
from parley.layers.out import FORMATS, write

router = APIRouter(prefix="/api/v1/export", tags=["export"])


@router.get("/stix")
async def stix(request: Request, party: CurrentParty) -> dict[str, Any]:
    """Sites, areas, incidents and conflicts the caller may see, as a STIX 2.1 bundle with
    parley's geometry extension and TLP 2.0 markings derived from audiences."""
    from parley.intel.export import bundle

    base = str(request.base_url).rstrip("/")
    found: dict[str, Any] = await run_in_threadpool(
        lambda: bundle(hub_of(request), party, base_url=base)
    )
    return found


@router.get(
    "/{layer}.{fmt}",
    responses={200: {"content": {t: {} for t in FORMATS.values()}}},
)
async def layer_export(request: Request, party: CurrentParty, layer: str, fmt: str) -> Response:
    """One layer the caller may see (sites, movements, operations, areas, incidents or
    conflicts) as GeoJSON (RFC 7946), KML 2.2, CSV with MGRS and DMS columns, or GeoPackage."""
    if layer not in LAYERS:
        raise NotFound(f"no layer {layer!r}; layers: {', '.join(LAYERS)}", field="layer")
    if fmt not in FORMATS:
        raise NotFound(f"no format {fmt!r}; formats: {', '.join(FORMATS)}", field="format")
    hub = hub_of(request)
    content = await run_in_threadpool(lambda: write(features(hub, party, layer), layer, fmt))
    return Response(
        content,
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="parley-{layer}.{fmt}"'},
    )
