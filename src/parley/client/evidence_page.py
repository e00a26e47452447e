"""A checked evidence file written out: as lines for a terminal, as JSON, and as one offline HTML
page (no external assets) with the timeline and a map in inline SVG of the subject, its
protected radius, the operations that met it, and the borders from the bundled base data."""

from __future__ import annotations

import html
import json
import math
from functools import cache
from importlib import resources
from typing import Any

from parley.client.evidence import Checked, Report

OK, FAIL = "✓", "✗"


def line(c: Checked) -> str:
    """One timeline or check line, as the CLI prints it and the page shows it."""
    if c.ok:
        return f"{c.at or '':20}  {OK} {c.event}" if c.at else f"{OK} {c.label}: {c.event}"
    return (
        f"{c.at or '':20}  {FAIL} {c.label}: {c.failure}"
        if c.at
        else (f"{FAIL} {c.label}: {c.failure}")
    )


def text_lines(report: Report) -> list[str]:
    m = report.manifest
    out = [
        f"evidence about {m['subject']}, made for {m['made_for']} at {m['made_at']} "
        f"from {m['origin']}",
        *[line(c) for c in report.checks],
        "timeline (UTC):",
    ]
    for c in report.timeline:
        out.append(line(c))
        out.extend(f"{'':24}{d}" for d in (c.details if c.ok else []))
    out.extend(summary(report))
    out.append("all verified" if report.ok else f"{len(report.failures())} failure(s)")
    return out


def summary(report: Report) -> list[str]:
    """Who in the subject's audience acknowledged it and who did not (as far as the file
    shows: an acknowledgement the file's reader may not see is not in it)."""
    subject = next((c for c in report.timeline if c.data.get("role") == "record"), None)
    if subject is None or subject.data.get("kind") not in ("site", "movement"):
        return []
    acked = {
        c.data["party"] for c in report.timeline if c.ok and c.data.get("kind") == "acknowledgement"
    }
    members = [p["id"] for p in report.manifest["parties"] if p.get("role") == "member"]
    audience = subject.data.get("notified", {}).get("audience")
    if isinstance(audience, list):
        members = [p for p in members if p in audience]
    return [
        "acknowledged by: " + (", ".join(sorted(acked)) or "nobody"),
        "no acknowledgement in this file from: "
        + (", ".join(sorted(set(members) - acked)) or "nobody"),
    ]


def as_json(report: Report) -> dict[str, Any]:
    def one(c: Checked) -> dict[str, Any]:
        return {
            "label": c.label,
            "ok": c.ok,
            "failure": c.failure,
            "at": c.at,
            "event": c.event,
            "details": c.details,
            "line": line(c),
        }

    return {
        "ok": report.ok,
        "subject": report.manifest["subject"],
        "made_for": report.manifest["made_for"],
        "made_at": report.manifest["made_at"],
        "origin": report.manifest["origin"],
        "parties": [
            {k: p.get(k) for k in ("id", "name", "role")} for p in report.manifest["parties"]
        ],
        "checks": [one(c) for c in report.checks],
        "timeline": [one(c) for c in report.timeline],
        "summary": summary(report),
        "failures": report.failures(),
    }


# -- the map ------------------------------------------------------------------------------------

W, H = 640, 480


def _shapes(report: Report) -> list[tuple[str, Any, float | None]]:
    """(class, geometry, radius in metres) for each verified record with a position."""
    found = []
    for c in report.timeline:
        body = c.data.get("body")
        if not c.ok or not isinstance(body, dict):
            continue
        cls = "subject" if c.data.get("role") in ("record", "amendment", "amended") else "met"
        if isinstance(body.get("geometry"), dict):
            found.append((cls, body["geometry"], body.get("radius_m")))
        for volume in body.get("volumes") or []:
            if isinstance(volume, dict) and isinstance(volume.get("footprint"), dict):
                found.append(("volume", volume["footprint"], volume.get("radius_m")))
        if isinstance(body.get("route"), dict):
            found.append((cls, body["route"], body.get("corridor_m")))
    return found


def _points(geometry: Any) -> list[tuple[float, float]]:
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    out: list[tuple[float, float]] = []

    def walk(value: Any) -> None:
        if (
            isinstance(value, list)
            and len(value) >= 2
            and all(isinstance(v, int | float) for v in value[:2])
        ):
            out.append((float(value[0]), float(value[1])))
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(coords)
    return out


@cache
def _borders() -> list[list[tuple[float, float]]]:
    rings: list[list[tuple[float, float]]] = []
    for name in ("syria-governorates.geojson", "neighbour-provinces.geojson"):
        text = resources.files("parley.data").joinpath(name).read_text(encoding="utf-8")
        for feature in json.loads(text).get("features", []):
            geometry = feature.get("geometry") or {}
            polygons = geometry.get("coordinates") or []
            if geometry.get("type") == "Polygon":
                polygons = [polygons]
            for polygon in polygons:
                for ring in polygon:
                    rings.append([(float(p[0]), float(p[1])) for p in ring])
    return rings


def svg_map(report: Report) -> str:
    shapes = _shapes(report)
    points = [p for _, g, _ in shapes for p in _points(g)]
    if not points:
        return ""
    lat0 = sum(p[1] for p in points) / len(points)
    k = math.cos(math.radians(lat0))
    pad = max((r or 0) for _, _, r in shapes) / 111_320 + 0.02
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    west, east = min(xs) - pad / k, max(xs) + pad / k
    south, north = min(ys) - pad, max(ys) + pad
    scale = min(W / ((east - west) * k), H / (north - south))

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return ((lon - west) * k * scale, (north - lat) * scale)

    def path(ring: list[tuple[float, float]]) -> str:
        return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in (xy(*p) for p in ring))

    parts = [f'<rect width="{W}" height="{H}" class="sea"/>']
    for ring in _borders():
        if any(west <= lon <= east and south <= lat <= north for lon, lat in ring[::4]):
            parts.append(f'<path class="border" d="{path(ring)}"/>')
    for cls, geometry, radius in shapes:
        pts = _points(geometry)
        kind = geometry.get("type")
        if kind in ("Polygon", "MultiPolygon"):
            parts.append(f'<path class="{cls}" d="{path(pts)} Z"/>')
        elif kind == "LineString":
            parts.append(f'<path class="{cls} line" d="{path(pts)}"/>')
        for lon, lat in pts if kind == "Point" else []:
            x, y = xy(lon, lat)
            if radius:
                r = float(radius) / 111_320 * scale
                parts.append(
                    f'<circle class="{cls} radius" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}"/>'
                )
            parts.append(f'<circle class="{cls} dot" cx="{x:.1f}" cy="{y:.1f}" r="3"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
        f'height="{H}" role="img" aria-label="map">{"".join(parts)}</svg>'
    )


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
li.fail{color:#a00} li.ok .mark{color:#070} .details{color:#555;font-size:12px}
svg{border:1px solid #999;background:#eef} .sea{fill:#eef} .border{fill:#f8f8f0;stroke:#888}
.subject.radius{fill:rgba(0,120,0,.2);stroke:#070} .subject.dot{fill:#070}
.volume,.met.radius{fill:rgba(200,0,0,.2);stroke:#a00} .met.dot,.volume.dot{fill:#a00}
.line{fill:none;stroke:#070;stroke-width:2}
.line{white-space:pre-wrap}
"""


def html_page(report: Report) -> str:
    esc = html.escape
    m = report.manifest

    def item(c: Checked) -> str:
        details = "".join(f"<div>{esc(d)}</div>" for d in (c.details if c.ok else []))
        return (
            f'<li class="{"ok" if c.ok else "fail"}"><span class="line">{esc(line(c))}</span>'
            f'<div class="details">{details}</div></li>'
        )

    verdict = "all verified" if report.ok else f"{len(report.failures())} failure(s)"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Evidence about {esc(str(m['subject']))}</title><style>{STYLE}</style></head>"
        f"<body><h1>Evidence about {esc(str(m['subject']))}</h1>"
        f"<p>Made for {esc(str(m['made_for']))} at {esc(str(m['made_at']))} by "
        f'{esc(str(m["origin"]))}. Checked offline: <strong id="verdict">{esc(verdict)}'
        "</strong></p>"
        f'<ul id="checks">{"".join(item(c) for c in report.checks)}</ul>'
        f'<h2>Timeline (UTC)</h2><ol id="timeline">{"".join(item(c) for c in report.timeline)}'
        "</ol>"
        f'<ul id="summary">{"".join(f"<li>{esc(s)}</li>" for s in summary(report))}</ul>'
        f"<h2>Map</h2>{svg_map(report)}"
        "<p>Parties named: "
        + esc(", ".join(f"{p.get('id')} ({p.get('role')})" for p in m["parties"]))
        + "</p></body></html>"
    )
