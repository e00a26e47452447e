"""What a verified receipt's record says, in the forms the field reads: a receipt proves that a
record was logged, and a person checking it wants to see which record, not only its index."""

from __future__ import annotations

from typing import Any

from parley.formats.coordinates import echo, echo_line
from parley.parties import jws


def _centre(geometry: object) -> tuple[float, float] | None:
    import shapely

    try:
        centre = shapely.geometry.shape(geometry).centroid
    except Exception:
        return None
    return (centre.y, centre.x)


def _audience(audience: object) -> str:
    if audience == "all":
        return "all parties"
    if isinstance(audience, list):
        return ", ".join(str(p) for p in audience)
    return str(audience)


def notified(receipt: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The receipt's record (its kind, name, positions, radius or volumes, audience, time of
    receipt) as data and as lines; call only after the receipt verified."""
    submission = receipt.get("submission") or {}
    document = jws.Parsed(str(submission.get("jws")), stored=True).payload
    found = document.get("body")
    body: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = str(document.get("kind"))
    name = body.get("name")
    what: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "audience": document.get("audience"),
        "received_at": submission.get("received_at"),
    }
    title = kind if kind != "site" else str(body.get("category", "site"))
    lines = [f"{title}" + (f' "{name}"' if isinstance(name, str) else "") + f" ({kind})"]
    at = _centre(body.get("geometry") or body.get("location"))
    if at is not None:
        what["position"] = echo(*at)
        lines.append(f"at {echo_line(*at)}")
    if body.get("radius_m") is not None:
        what["radius_m"] = body["radius_m"]
        lines.append(f"radius {body['radius_m']} m")
    listed = body.get("volumes")
    volumes: list[Any] = listed if isinstance(listed, list) else []
    what_volumes = []
    for i, volume in enumerate(volumes):
        if not isinstance(volume, dict):
            continue
        centre = _centre(volume.get("footprint"))
        band: dict[str, Any] = (
            volume["altitude"] if isinstance(volume.get("altitude"), dict) else {}
        )
        when: dict[str, Any] = volume["time"] if isinstance(volume.get("time"), dict) else {}
        what_volumes.append(
            {
                "centre": echo(*centre) if centre else None,
                "radius_m": volume.get("radius_m"),
                "altitude": band,
                "time": when,
            }
        )
        radius = f", radius {volume['radius_m']} m" if volume.get("radius_m") is not None else ""
        lines.append(
            f"volume {i + 1} at {echo_line(*centre) if centre else '?'}{radius}, "
            f"{band.get('lower_m')} to {band.get('upper_m')} m, "
            f"{when.get('start')} to {when.get('end')}"
        )
    if what_volumes:
        what["volumes"] = what_volumes
    route = (
        (body.get("route") or {}).get("coordinates")
        if isinstance(body.get("route"), dict)
        else None
    )
    if isinstance(route, list):
        what["route"] = [echo(p[1], p[0]) for p in route]
        lines.extend(f"route point {i + 1} at {echo_line(p[1], p[0])}" for i, p in enumerate(route))
        lines.append(f"corridor {body.get('corridor_m')} m")
    for ref in ("record", "operation", "conflict", "incident", "supersedes"):
        if isinstance(body.get(ref), str):
            what[ref] = body[ref]
            lines.append(f"about {ref} {body[ref]}")
    lines.append(f"audience: {_audience(document.get('audience'))}")
    lines.append(f"received {submission.get('received_at')}")
    return what, lines
