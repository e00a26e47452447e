"""The HTML answers of /ogc/ (``f=html``, or a browser's ``Accept: text/html``): the same documents
as the JSON answers, as plain pages a person can browse with the party's credentials.

Every value shown comes from records parties wrote, so every one is escaped; the pages load
nothing from anywhere (no script, no external style or font), and say so in their
Content-Security-Policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import HTMLResponse

POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"
STYLE = (
    "body{font:15px/1.4 system-ui,sans-serif;margin:1.5rem auto;max-width:70rem;padding:0 1rem}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;"
    "text-align:left;vertical-align:top}pre{white-space:pre-wrap}nav a{margin-right:1rem}"
)
SHOWN = ("name", "category", "party", "start", "end", "status", "state", "severity")


def wanted(request: Request) -> bool:
    """Whether the caller asked for HTML: ``f=html``, or no ``f`` and an Accept that names
    HTML but no JSON (a browser's, not QGIS's, GDAL's or OWSLib's)."""
    chosen = request.query_params.get("f")
    if chosen is not None:
        return chosen == "html"
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept and "json" not in accept


def with_f(href: str, fmt: str) -> str:
    parts = urlsplit(href)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "f"] + [("f", fmt)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _a(href: str, text: str) -> str:
    return f'<a href="{escape(with_f(href, "html"))}">{escape(text)}</a>'


def _page(title: str, request: Request, body: str) -> HTMLResponse:
    json_href = escape(with_f(str(request.url), "json"))
    root = str(request.base_url).rstrip("/") + "/ogc/"
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · parley OGC API</title><style>{STYLE}</style></head><body>"
        f"<nav>{_a(root, 'parley OGC API')}{_a(root + 'collections', 'collections')}"
        f'<a href="{json_href}">this page as JSON</a></nav><h1>{escape(title)}</h1>{body}'
        "</body></html>"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": POLICY})


def _links(links: Iterable[dict[str, str]]) -> str:
    items = "".join(
        f"<li>{_a(link['href'], link.get('title') or link['rel'])} ({escape(link['rel'])})</li>"
        for link in links
    )
    return f"<ul>{items}</ul>"


def landing(request: Request, doc: dict[str, Any]) -> HTMLResponse:
    return _page(
        str(doc["title"]),
        request,
        f"<p>{escape(str(doc['description']))}</p>{_links(doc['links'])}",
    )


def conformance(request: Request, doc: dict[str, Any]) -> HTMLResponse:
    rows = "".join(f"<li>{escape(c)}</li>" for c in doc["conformsTo"])
    return _page("Conformance classes", request, f"<ul>{rows}</ul>")


def collections(request: Request, doc: dict[str, Any]) -> HTMLResponse:
    rows = "".join(
        f"<tr><td>{_a(_rel(c['links'], 'self'), c['id'])}</td><td>{escape(c['title'])}</td>"
        f"<td>{_a(_rel(c['links'], 'items'), 'features')}</td></tr>"
        for c in doc["collections"]
    )
    table = f"<table><tr><th>id</th><th>title</th><th></th></tr>{rows}</table>"
    return _page("Collections", request, table)


def collection(request: Request, doc: dict[str, Any]) -> HTMLResponse:
    return _page(str(doc["title"]), request, _links(doc["links"]))


def items(request: Request, title: str, doc: dict[str, Any], item_base: str) -> HTMLResponse:
    features: Sequence[dict[str, Any]] = doc["features"]
    head = "".join(f"<th>{escape(key)}</th>" for key in ("id", *SHOWN, "geometry"))
    rows = "".join(
        "<tr>"
        + f"<td>{_a(item_base + '/' + str(f['id']), str(f['id']))}</td>"
        + "".join(f"<td>{_text(f['properties'].get(key))}</td>" for key in SHOWN)
        + f"<td>{escape(str((f.get('geometry') or {}).get('type')))}</td></tr>"
        for f in features
    )
    paging = "".join(
        _a(link["href"], link["title"]) + " " for link in doc["links"] if link["rel"] != "self"
    )
    summary = (
        f"<p>{doc['numberReturned']} of {doc['numberMatched']} features. {paging}</p>"
        f"<table><tr>{head}</tr>{rows}</table>"
    )
    return _page(title, request, summary)


def item(request: Request, title: str, feature: dict[str, Any]) -> HTMLResponse:
    rows = "".join(
        f"<tr><th>{escape(str(key))}</th><td>{_text(value)}</td></tr>"
        for key, value in feature["properties"].items()
    )
    geometry = escape(json.dumps(feature.get("geometry"), indent=1))
    body = f"<table>{rows}</table><h2>geometry</h2><pre>{geometry}</pre>{_links(feature['links'])}"
    return _page(f"{title}: {feature['id']}", request, body)


def _rel(links: Iterable[dict[str, str]], rel: str) -> str:
    return next(link["href"] for link in links if link["rel"] == rel)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return escape(json.dumps(value, ensure_ascii=False))
    return escape(str(value))
