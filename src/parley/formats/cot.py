"""parley's records as Cursor-on-Target (CoT 2.0) events, the XML that TAK clients exchange.

Where each ``type`` code comes from (CoT types are MIL-STD-2525 symbol codes written with
dashes for atoms, plus the ``b-``/``u-``/``t-`` families ATAK defines for bits, user drawings
and tasking):

* ``u-d-c-c`` — a user-drawn circle; ATAK's Drawing Tools make one when a circle is placed
  ("a CoT type u-d-c-c shape should appear"), its radius in ``<shape><ellipse major minor>``.
* ``u-d-f`` — a user-drawn free-form shape, its vertices as ``<link point="lat,lon"/>``; a
  closed polygon repeats its first vertex. WinTAK, ATAK and iTAK (TAKAware) all draw both.
* ``b-m-r`` — a route ("bits, map, route"), its checkpoints ``<link type="b-m-p-w">`` waypoints.
* ``b-m-p-s-m`` — a spot map marker ("bits, map, point, spot, marker"), coloured by
  ``<color argb>``: ATAK's neutral way to pin something that is not a unit; used for conflicts,
  which are findings about two records, not a friendly or hostile thing, and for incidents,
  which are reports of what happened there, not a unit either.
* ``t-x-d-d`` — a delete request (``<link uid>`` of the event to drop), sent by the feed when a
  record leaves the viewer's picture (withdrawn, cancelled, superseded).

Sites, operations and areas (standalone, and each area of an area map's version in force or
proposed, the proposed ones amber) are shapes because what matters is where they apply (the
protected radius, the volume footprint, the area's outline); the atom codes (``a-f-G`` and
friends) would claim an affiliation parley does not know. Times are UTC with milliseconds and a
``Z``; ``start``/``stale`` are the record's window (an open-ended site goes stale a month after
the day of the export; the feed re-sends it daily).

Uids are stable: ``parley-<kind>-<record id>`` (``-v<n>`` per operation volume) so TAK clients
replace an event instead of stacking copies when the feed sends it again.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry import shape

from parley import clock
from parley.errors import ParleyError

VERSION = "2.0"
HOW = "h-e"  # human, entered: every record is a person's notification, not a sensor reading
UNKNOWN = "9999999.0"  # CoT's "no value" for hae/ce/le
OPEN_STALE = timedelta(days=30)

CIRCLE = "u-d-c-c"
POLYGON = "u-d-f"
ROUTE = "b-m-r"
WAYPOINT = "b-m-p-w"
SPOT = "b-m-p-s-m"
DELETE = "t-x-d-d"
KINDS = ("site", "operation", "movement", "area", "area-map", "incident")

# ATAK colours are signed 32-bit ARGB integers.
GREEN = 0xFF00A651
ORANGE = 0xFFFF8C00
BLUE = 0xFF1E64C8
RED = 0xFFE00000
AMBER = 0xFFFFBF00
FILL_ALPHA = 0x40


@dataclass(frozen=True)
class Record:
    """A record the viewer may see, in the few fields CoT needs."""

    id: str
    kind: str
    party: str
    received_at: str
    body: dict[str, Any]
    state: str | None = None  # an area map's version: "in force" or "proposed"


def events(
    records: Iterable[Record], conflicts: Iterable[dict[str, Any]], *, now: datetime | None = None
) -> list[ET.Element]:
    """One event per site, movement and incident, one per operation volume and per area, one
    per locatable conflict (placed at the first record it names that ``records`` holds)."""
    when = now or clock.now()
    found: list[ET.Element] = []
    where: dict[str, tuple[float, float]] = {}
    for record in records:
        try:
            made = list(_record(record, when))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, ParleyError):
            continue  # the hub accepted the record: never let one odd body break the feed
        if made:
            point = made[0].find("point")
            assert point is not None
            where[record.id] = (float(point.get("lat", 0)), float(point.get("lon", 0)))
        found.extend(made)
    for conflict in conflicts:
        event = _conflict(conflict, where, when)
        if event is not None:
            found.append(event)
    return found


def document(found: Iterable[ET.Element]) -> bytes:
    """An ``<events>`` document: the events as they go on the wire, in one wrapper."""
    root = ET.Element("events")
    root.extend(found)
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + bytes(ET.tostring(root, encoding="utf-8"))


def to_bytes(event: ET.Element) -> bytes:
    """One event as TAK's TCP streaming protocol sends them: bare ``<event>`` elements one
    after another, no separator and no XML declaration (TAK Server sends them so, and readers
    such as pytak's cut the stream at each ``</event>``)."""
    return bytes(ET.tostring(event, encoding="utf-8"))


def delete(uid: str, *, now: datetime | None = None) -> ET.Element:
    """A request that TAK clients drop ``uid`` (the record left the viewer's picture)."""
    when = now or clock.now()
    event = _event(f"{uid}-delete", DELETE, when, when, when + timedelta(minutes=1))
    _point(event, 0.0, 0.0)
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "link", uid=uid, relation="none", type="none")
    ET.SubElement(detail, "__forcedelete")
    return event


def cot_time(moment: datetime) -> str:
    return clock.iso(moment)[:23] + "Z"


# -- records -----------------------------------------------------------------------------------


def _record(record: Record, now: datetime) -> Iterator[ET.Element]:
    body = record.body
    if record.kind == "site":
        start, stale = _window(body.get("valid"), record, now)
        yield _shape(
            f"parley-site-{record.id}",
            body["geometry"],
            body.get("radius_m"),
            start,
            stale,
            record,
            name=str(body.get("name") or "protected site"),
            remarks=f"Protected site ({body.get('category', 'unspecified')}) notified by "
            f"{record.party}; parley record {record.id}",
            colour=GREEN,
        )
    elif record.kind == "operation":
        volumes = body["volumes"]
        for n, volume in enumerate(volumes):
            start, stale = _window(volume.get("time"), record, now)
            band = volume.get("altitude") or {}
            altitude = (
                f", {band.get('lower_m')}–{band.get('upper_m')} m" if isinstance(band, dict) else ""
            )
            yield _shape(
                f"parley-operation-{record.id}-v{n}",
                volume["footprint"],
                volume.get("radius_m"),
                start,
                stale,
                record,
                name=str(body.get("name") or "operation")
                + (f" ({n + 1}/{len(volumes)})" if len(volumes) > 1 else ""),
                remarks=f"Operation notified by {record.party}, volume {n + 1} of "
                f"{len(volumes)}{altitude}, {cot_time(start)} to {cot_time(stale)}; parley "
                f"record {record.id}",
                colour=ORANGE,
            )
    elif record.kind == "movement":
        yield _route(record, now)
    elif record.kind in ("area", "area-map"):
        start, stale = _window(body.get("valid"), record, now)
        state = record.state or "in force"
        for area in [body] if record.kind == "area" else body["areas"]:
            rule = str(area.get("rule"))
            key = record.id if record.kind == "area" else f"{record.id}-{area['id']}"
            yield _shape(
                f"parley-area-{key}",
                area["geometry"],
                None,
                start,
                stale,
                record,
                name=str(area.get("name") or f"{rule} area"),
                remarks=f"{rule} area ({state}) notified by {record.party}; parley record "
                f"{record.id}",
                colour=(RED if rule == "no-fly" else ORANGE) if state == "in force" else AMBER,
            )
    elif record.kind == "incident":
        moment = clock.parse(str(body["time"]))
        event = _event(
            f"parley-incident-{record.id}",
            SPOT,
            clock.parse(record.received_at),
            moment,
            _open_stale(now, moment),
        )
        place = shape(body["location"]).representative_point()
        _point(event, place.y, place.x)
        title = body.get("title") or f"incident reported by {record.party}"
        _spot(event, RED, str(title), str(body.get("description") or ""))
        yield event


def _window(window: object, record: Record, now: datetime) -> tuple[datetime, datetime]:
    received = clock.parse(record.received_at)
    start = received
    end: datetime | None = None
    if isinstance(window, dict):
        if window.get("start"):
            start = clock.parse(str(window["start"]))
        if window.get("end"):
            end = clock.parse(str(window["end"]))
    return start, end or _open_stale(now, start)


def _open_stale(now: datetime, start: datetime) -> datetime:
    """The stale time of something in force without an end: a month after the start of
    today (UTC), so it reads the same all day (the feed re-sends only what changed) and moves
    on once a day, which re-sends it before any TAK client lets it go stale."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(today, start) + OPEN_STALE


def _event(uid: str, kind: str, time: datetime, start: datetime, stale: datetime) -> ET.Element:
    return ET.Element(
        "event",
        version=VERSION,
        uid=uid,
        type=kind,
        time=cot_time(time),
        start=cot_time(start),
        stale=cot_time(stale),
        how=HOW,
    )


def _point(event: ET.Element, lat: float, lon: float) -> None:
    ET.SubElement(event, "point", lat=_deg(lat), lon=_deg(lon), hae=UNKNOWN, ce=UNKNOWN, le=UNKNOWN)


def _shape(
    uid: str,
    geometry: dict[str, Any],
    radius: object,
    start: datetime,
    stale: datetime,
    record: Record,
    *,
    name: str,
    remarks: str,
    colour: int,
) -> ET.Element:
    is_circle = geometry["type"] == "Point"
    event = _event(
        uid, CIRCLE if is_circle else POLYGON, clock.parse(record.received_at), start, stale
    )
    if is_circle:
        lon, lat = geometry["coordinates"][:2]
        _point(event, float(lat), float(lon))
    else:
        # The event's point is where ATAK puts the label: inside the shape, unlike a centroid.
        inside = shape(geometry).representative_point()
        _point(event, inside.y, inside.x)
    detail = ET.SubElement(event, "detail")
    if is_circle:
        figure = ET.SubElement(detail, "shape")
        r = f"{float(radius) if isinstance(radius, int | float) else 0.0:.1f}"
        ET.SubElement(figure, "ellipse", major=r, minor=r, angle="360")
    else:
        for lon, lat in geometry["coordinates"][0]:  # the outer ring, closed as GeoJSON is
            ET.SubElement(detail, "link", point=f"{_deg(lat)},{_deg(lon)}")
    _style(detail, colour, name, remarks)
    return event


def _route(record: Record, now: datetime) -> ET.Element:
    body = record.body
    start, stale = _window(body.get("time"), record, now)
    uid = f"parley-movement-{record.id}"
    event = _event(uid, ROUTE, clock.parse(record.received_at), start, stale)
    coordinates = body["route"]["coordinates"]
    lon, lat = coordinates[0][:2]
    _point(event, float(lat), float(lon))
    detail = ET.SubElement(event, "detail")
    for n, (lon, lat, *_) in enumerate(coordinates):
        ET.SubElement(
            detail,
            "link",
            uid=f"{uid}-cp{n}",
            callsign="SP" if n == 0 else ("EP" if n == len(coordinates) - 1 else f"CP{n}"),
            type=WAYPOINT,
            point=f"{_deg(lat)},{_deg(lon)}",
            remarks="",
            relation="c",
        )
    ET.SubElement(
        detail,
        "link_attr",
        planningmethod="Infil",
        color=str(_signed(BLUE)),
        method="Driving",
        prefix="CP",
        type="Vehicle",
        stroke="3",
        direction="Infil",
        routetype="Primary",
        order="Ascending Check Points",
    )
    name = str(body.get("name") or "movement")
    remarks = (
        f"Movement notified by {record.party}, corridor {body.get('corridor_m')} m, "
        f"{cot_time(start)} to {cot_time(stale)}; parley record {record.id}"
    )
    _style(detail, BLUE, name, remarks, fill=False)
    return event


def _conflict(
    conflict: dict[str, Any], where: dict[str, tuple[float, float]], now: datetime
) -> ET.Element | None:
    """A conflict as the viewer may see it (screening's view): named records are only those
    the viewer can see, and the detail is worded for the viewer."""
    if conflict.get("state") == "moot":
        return None  # screening's contract: a moot conflict no longer concerns anyone
    place = next(
        (where[k] for k in (conflict.get("record"), conflict.get("other")) if k in where), None
    )
    if place is None:
        return None
    created = clock.parse(str(conflict["created_at"]))
    event = _event(
        f"parley-conflict-{conflict['id']}", SPOT, created, created, _open_stale(now, created)
    )
    _point(event, *place)
    colour = RED if conflict.get("severity") == "critical" else AMBER
    name = f"{conflict.get('severity')} {conflict.get('kind')} conflict"
    _spot(event, colour, name, str(conflict.get("detail") or ""))
    return event


def _spot(event: ET.Element, colour: int, name: str, remarks: str) -> None:
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "color", argb=str(_signed(colour)))
    ET.SubElement(
        detail, "usericon", iconsetpath="COT_MAPPING_SPOTMAP/b-m-p-s-m/" + str(_signed(colour))
    )
    ET.SubElement(detail, "contact", callsign=name)
    ET.SubElement(detail, "remarks").text = remarks
    ET.SubElement(detail, "labels_on", value="true")


def _style(detail: ET.Element, colour: int, name: str, remarks: str, *, fill: bool = True) -> None:
    ET.SubElement(detail, "strokeColor", value=str(_signed(colour)))
    ET.SubElement(detail, "strokeWeight", value="3.0")
    if fill:
        ET.SubElement(
            detail, "fillColor", value=str(_signed((colour & 0x00FFFFFF) | FILL_ALPHA << 24))
        )
    ET.SubElement(detail, "contact", callsign=name)
    ET.SubElement(detail, "remarks").text = remarks
    ET.SubElement(detail, "labels_on", value="true")


def _signed(argb: int) -> int:
    return argb - (1 << 32) if argb & 0x80000000 else argb


def _deg(value: float) -> str:
    return f"{float(value):.7f}"
