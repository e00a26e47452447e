"""/api/v1/maps: area map versions, votes, the version in force, and what changed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from parley.api.auth import CurrentParty, hub_of
from parley.errors import NotFound
from parley.records import areamaps

router = APIRouter(prefix="/api/v1/maps", tags=["maps"])


@router.get("/{name}")
def read(request: Request, _party: CurrentParty, name: str) -> dict[str, Any]:
    """Every version of a map with its votes, who is still to vote, and the one in force."""
    found = hub_of(request).screening.map_view(name)
    if found is None:
        raise NotFound(f"no map {name!r}")
    return found


@router.get("/{name}/diff")
def diff(
    request: Request,
    _party: CurrentParty,
    name: str,
    to: Annotated[int, Query(ge=1)],
    from_: Annotated[int, Query(ge=0, alias="from")] = 0,
) -> dict[str, Any]:
    """Areas added, removed and changed from one version to another, and km² per rule."""
    hub = hub_of(request)
    hub.screening.refresh()
    current = hub.screening.maps.get(name)
    if current is None or to not in current.versions or (from_ and from_ not in current.versions):
        raise NotFound(f"no such versions of map {name!r}")
    return areamaps.diff(current.versions.get(from_), current.versions[to])


areas_router = APIRouter(prefix="/api/v1/areas", tags=["maps"])


@areas_router.get("")
def areas(
    request: Request,
    _party: CurrentParty,
    proposed: Annotated[bool, Query(description="also the latest version awaiting votes")] = False,
) -> dict[str, Any]:
    """The area maps in force as GeoJSON (RFC 7946), ready for a map layer or a GIS tool."""
    hub = hub_of(request)
    hub.screening.refresh()
    features = []
    for current in hub.screening.maps.values():
        wanted = {current.in_force: "in force"} if current.in_force else {}
        if proposed and current.latest != current.in_force:
            wanted[current.latest] = "proposed"
        for number, status in wanted.items():
            version = current.versions[number]
            for area_id, area in version.areas.items():
                properties = {k: v for k, v in area.items() if k != "geometry"}
                features.append(
                    {
                        "type": "Feature",
                        "id": f"{current.name}/{number}/{area_id}",
                        "geometry": area["geometry"],
                        "properties": {
                            **properties,
                            "map": current.name,
                            "version": number,
                            "status": status,
                            "record": version.record,
                        },
                    }
                )
    return {"type": "FeatureCollection", "features": features}
