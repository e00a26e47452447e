"""What the reading commands share: the records the caller may see, named and placed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from rich.markup import escape

from parley.cli.base import one_by_id, out
from parley.client.http import Names
from parley.formats.coordinates import echo

RESOLUTIONS = ("amended", "cancelled", "accepted-after-coordination")
STATES = ("open", "acknowledged", "resolved", "moot")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _say(lines: Sequence[str], summary: str) -> None:
    # Names come from other parties: printed as text, never as console markup.
    out.print(escape("\n".join([*lines, summary])))


def _where(body: dict[str, Any], member: str = "geometry") -> tuple[float, float] | None:
    """(lat, lon) of a record's point, or of its shape's centre."""
    import shapely

    geometry = body.get(member)
    try:
        centre = shapely.geometry.shape(geometry).centroid
    except Exception:
        return None
    return (centre.y, centre.x)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    from parley.geo import geodesy

    arr = geodesy.as_array
    return float(geodesy.distance(arr([a[1]]), arr([a[0]]), arr([b[1]]), arr([b[0]]))[0])


def _by_kind(records: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records.values() if r["kind"] == kind]


def _body(record: dict[str, Any]) -> dict[str, Any]:
    body = (record.get("document") or {}).get("body")
    return body if isinstance(body, dict) else {}


def _about(names: Names, kind: str) -> dict[str, list[dict[str, Any]]]:
    """Records of ``kind`` that name another record (``body.record``), by the record named."""
    found: dict[str, list[dict[str, Any]]] = {}
    for r in _by_kind(names.records, kind):
        subject = _body(r).get("record")
        if isinstance(subject, str):
            found.setdefault(subject, []).append(r)
    return found


def _found(names: Names, record_id: str, kind: str) -> dict[str, Any]:
    of_kind = [i for i, r in names.records.items() if r["kind"] == kind]
    found = one_by_id(of_kind, record_id, f"{kind}s'")
    if found is None:
        raise click.ClickException(f"no {kind} {record_id} that you may see")
    return names.records[found]


# -- sites ------------------------------------------------------------------------------------


def _site_view(names: Names, record: dict[str, Any], acks: list[dict[str, Any]]) -> dict[str, Any]:
    body = _body(record)
    at = _where(body)
    withdrawn = _about(names, "withdrawal").get(record["id"])
    return {
        **{k: record[k] for k in ("id", "party", "received_at", "audience")},
        "name": body.get("name"),
        "category": body.get("category"),
        "radius_m": body.get("radius_m"),
        "position": echo(*at) if at else None,
        "valid": body.get("valid"),
        "withdrawn_at": withdrawn[0]["received_at"] if withdrawn else None,
        "acknowledged_by": [{"party": a["party"], "at": a["received_at"]} for a in acks],
    }
