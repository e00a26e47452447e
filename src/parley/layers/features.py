"""The map layers a party may see, as features: the one source of every export and of /ogc/.

Each layer is read through the store's audience check (``list_submissions(viewer, ...)`` and the
viewer's own conflicts, worded by screening's audience-safe view), never around it:

* ``sites``: one feature per site, with its validity;
* ``movements``: one per movement, its route, corridor, altitude band and time window;
* ``operations``: one per volume of an operation, with its altitude band and time window;
* ``areas``: standalone areas, and the areas of each area map's version in force and of any
  newer version still proposed (``state``: ``in force`` or ``proposed``);
* ``incidents``: one per reported incident, at its time;
* ``conflicts``: one per conflict that alerts the viewer and is not moot, placed on a record the
  viewer sees.

Withdrawn and superseded records are left out: a map shows what is current. Every feature keeps
the time interval it applies in (``start``, ``end``; ``end`` None when open), which is what the
OGC API's ``datetime`` filter reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shapely.geometry import shape

from parley import clock
from parley.formats.coordinates import dms_text, mgrs_text
from parley.hub.core import Hub
from parley.parties import jws
from parley.store.db import Party, Submission

LAYERS: dict[str, str] = {
    "sites": "Protected sites",
    "movements": "Movements",
    "operations": "Operations (one feature per volume)",
    "areas": "Areas in force and proposed",
    "incidents": "Incidents",
    "conflicts": "Conflicts",
}
GONE = frozenset({"withdrawn", "superseded"})
PAGE = 500


@dataclass(frozen=True)
class Feature:
    id: str
    geometry: dict[str, Any]
    properties: dict[str, Any]
    start: datetime | None
    end: datetime | None  # None: open-ended

    def geojson(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "id": self.id,
            "geometry": self.geometry,
            "properties": self.properties,
        }


class UnknownLayer(LookupError):
    pass


def features(hub: Hub, viewer: Party, layer: str, after: int = -1) -> list[Feature]:
    """Every feature of ``layer`` that ``viewer`` may see, in log order; of the records after
    log index ``after`` only, if given (conflicts are always read whole)."""
    if layer not in LAYERS:
        raise UnknownLayer(layer)
    hub.screening.refresh()
    made: list[Feature] = []
    if layer == "conflicts":
        made.extend(_conflicts(hub, viewer))
        return made
    kinds = {
        "sites": ("site",),
        "movements": ("movement",),
        "operations": ("operation",),
        "areas": ("area", "area-map"),
        "incidents": ("incident",),
    }[layer]
    for sub in _visible(hub, viewer, kinds, after):
        if hub.screening.status.get(sub.id) in GONE:
            continue
        try:
            made.extend(_record(hub, sub, sub.body))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            continue  # the hub checked every record on the way in; never let one break a layer
    return made


def _visible(hub: Hub, viewer: Party, kinds: tuple[str, ...], start: int) -> Iterator[Submission]:
    found: list[Submission] = []
    for kind in kinds:
        after = start
        while True:
            page = hub.store.list_submissions(viewer.id, after=after, limit=PAGE, kind=kind)
            found.extend(page)
            if len(page) < PAGE:
                break
            after = page[-1].log_index
    yield from sorted(found, key=lambda s: s.log_index)


def _shared_with(sub: Submission) -> str:
    """ "all", or the audience's party ids: the viewer may see the record, so its document (and
    the audience written in it) already; the column re-imports as an audience."""
    if sub.audience_all:
        return "all"
    listed = jws.Parsed(sub.jws, stored=True).payload.get("audience")
    parties = set(listed) if isinstance(listed, list) else set()
    return " ".join(sorted(parties | {sub.party_id}))


def _record(hub: Hub, sub: Submission, body: dict[str, Any]) -> Iterator[Feature]:
    common = {
        "record": sub.id,
        "kind": sub.kind,
        "party": sub.party_id,
        "shared_with": _shared_with(sub),
        "received_at": sub.received_at,
    }
    if sub.kind == "site":
        start, end = _window(body.get("valid"))
        props = {
            "name": body.get("name"),
            "category": body.get("category"),
            "radius_m": body.get("radius_m"),
            "ceiling_m": body.get("ceiling_m"),
            **_times(start, end),
            **common,
        }
        yield Feature(sub.id, body["geometry"], _located(props, body["geometry"]), start, end)
    elif sub.kind == "movement":
        start, end = _window(body.get("time"))
        band = body.get("altitude") or {}
        props = {
            "name": body.get("name"),
            "category": body.get("category", "movement"),
            "corridor_m": body.get("corridor_m"),
            "lower_m": band.get("lower_m"),
            "upper_m": band.get("upper_m"),
            "status": hub.screening.status.get(sub.id, "notified"),
            **_times(start, end),
            **common,
        }
        yield Feature(sub.id, body["route"], props, start, end)
    elif sub.kind == "operation":
        status = hub.screening.status.get(sub.id, "planned")
        for i, volume in enumerate(body["volumes"]):
            start, end = _window(volume.get("time"))
            band = volume.get("altitude") or {}
            props = {
                "name": body.get("name"),
                "category": body.get("category", "operation"),
                "volume": i,
                "radius_m": volume.get("radius_m"),
                "lower_m": band.get("lower_m"),
                "upper_m": band.get("upper_m"),
                "status": status,
                **_times(start, end),
                **common,
            }
            geometry = volume["footprint"]
            yield Feature(f"{sub.id}-{i}", geometry, _located(props, geometry), start, end)
    elif sub.kind == "area":
        yield _area(sub.id, body, body.get("valid"), "in force", common)
    elif sub.kind == "area-map":
        current = hub.screening.maps.get(str(body.get("map")))
        version = int(body["version"])
        in_force = current.in_force if current is not None else None
        if in_force is not None and version < in_force:
            return  # replaced by the map in force
        state = "in force" if version == in_force else "proposed"
        extra = {**common, "map": body.get("map"), "map_version": version}
        for area in body.get("areas", []):
            yield _area(f"{sub.id}-{area['id']}", area, body.get("valid"), state, extra)
    elif sub.kind == "incident":
        moment = clock.parse(body.get("time"), "body.time")
        props = {
            "name": body.get("title") or f"incident reported by {sub.party_id}",
            "category": body.get("category", "incident"),
            "description": body.get("description"),
            "time": clock.iso(moment),
            **_times(moment, moment),
            **common,
        }
        geometry = body["location"]
        yield Feature(sub.id, geometry, _located(props, geometry), moment, moment)


def _area(
    key: str, body: dict[str, Any], valid: object, state: str, common: dict[str, Any]
) -> Feature:
    start, end = _window(valid)
    band = body.get("altitude") or {}
    rule = body.get("rule")
    props = {
        "name": body.get("name") or f"{rule} area {body.get('id', '')}".strip(),
        "category": rule,
        "rule": rule,
        "rule_party": body.get("party"),
        "group": body.get("group"),
        "area": body.get("id"),
        "state": state,
        "lower_m": band.get("lower_m"),
        "upper_m": band.get("upper_m"),
        **_times(start, end),
        **common,
    }
    return Feature(key, body["geometry"], props, start, end)


def _conflicts(hub: Hub, viewer: Party) -> Iterator[Feature]:
    after = 0
    while True:
        page = hub.store.conflicts_for(viewer.id, after=after, limit=PAGE)
        for _, conflict in page:
            view = hub.screening.view(conflict, viewer.id)
            if view.get("state") == "moot":
                continue  # screening's contract: a moot conflict no longer concerns anyone
            geometry = _where(hub, viewer, (view["record"], view["other"]))
            if geometry is None:
                continue
            moment = clock.parse(conflict.created_at, "created_at")
            props = {
                "name": f"{view['severity']} {view['kind']} conflict",
                "category": view["kind"],
                "severity": view["severity"],
                "state": view.get("state"),
                "record": view["record"],
                "other": view["other"],
                "distance_m": view["distance_m"],
                "detail": view["detail"],
                "created_at": view["created_at"],
                "start": clock.iso(moment),
                "end": None,
            }
            yield Feature(conflict.id, geometry, _located(props, geometry), moment, None)
        if len(page) < PAGE:
            return
        after = page[-1][0]


def _where(hub: Hub, viewer: Party, keys: tuple[str | None, ...]) -> dict[str, Any] | None:
    """A point on the first record named by the conflict that the viewer may see."""
    for key in keys:
        if not key:
            continue
        sub = hub.store.get_submission(key, viewer.id)
        if sub is None:
            continue
        body = sub.body
        geometry = (
            body.get("geometry")
            or body.get("route")
            or (body.get("volumes") or [{}])[0].get("footprint")
            or ((body.get("areas") or [{}])[0].get("geometry"))
        )
        if geometry:
            point = shape(geometry).representative_point()
            return {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]}
    return None


def _window(value: object) -> tuple[datetime | None, datetime | None]:
    if not isinstance(value, dict) or value.get("start") is None:
        return None, None
    start = clock.parse(value["start"], "start")
    end = clock.parse(value["end"], "end") if value.get("end") is not None else None
    return start, end


def _times(start: datetime | None, end: datetime | None) -> dict[str, Any]:
    return {
        "start": clock.iso(start) if start else None,
        "end": clock.iso(end) if end else None,
    }


def _located(props: dict[str, Any], geometry: dict[str, Any]) -> dict[str, Any]:
    """Points also say where in the field's own notations: MGRS and degrees-minutes-seconds."""
    if geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        props = {**props, "lat": lat, "lon": lon, "mgrs": mgrs_text(lat, lon)}
        props["dms"] = dms_text(lat, lon)
    return props


def bbox_of(feature: Feature) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = shape(feature.geometry).bounds
    return float(minx), float(miny), float(maxx), float(maxy)
