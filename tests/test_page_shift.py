"""The map page's controls for a whole shift (issue 14, item 5), in real headless Chromium
against a real ``parley serve`` of the demo: a convoy notified from the form, site clusters
expanding, alerts filtered and acknowledged in bulk, conflicts by state, the cursor's
position, the timeline, the several-sites warning, the PNG export and wrapped hashes.

The server, browser and sign-in helpers are test_page.py's, imported, not copied.
"""

from __future__ import annotations

import re
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_page import (
    Browser,
    BrowserContext,
    DemoHub,
    Page,
    all_alerts,
    browser,
    contexts,
    expect,
    hub,
    no_page_errors,
    open_page,
    sign_in,
)

__all__ = ["browser", "contexts", "hub"]  # fixtures, used by name

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


BIGGEST_CLUSTER = (
    "Math.max(0, ...[...document.querySelectorAll('.site-cluster span')].map(n => +n.textContent))"
)


def _wait_until(page: Page, expression: str, timeout_s: float = 20) -> None:
    """Poll ``expression`` with page.evaluate. Playwright's wait_for_function compiles its
    predicate with eval inside the page, which the page's Content-Security-Policy
    (script-src 'self') refuses whenever the first check is false and polling starts."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        page.wait_for_timeout(100)


def site_counts(page: Page) -> tuple[int, int]:
    """(site markers drawn one by one, sites inside the drawn clusters' counts)."""
    markers = page.locator(".site-marker").count()
    clustered = sum(int(t) for t in page.locator(".site-cluster span").all_inner_texts())
    return markers, clustered


def test_notifier_notifies_a_convoy_from_the_form(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    import mgrs

    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "relief")
    page.get_by_text("Notify a movement (convoy)").click()
    form = page.locator("#movement-form")
    form.get_by_label("Name").fill("Relief convoy 7 (browser test)")
    route = form.get_by_label("Route points")

    # One point is not a route: the form says so at the field, and nothing is sent.
    route.fill("35.0106, 37.0521")
    form.get_by_role("button", name="Sign and notify movement").click()
    expect(form.locator(".status")).to_contain_text("at least two points")
    expect(route).to_have_attribute("aria-invalid", "true")
    assert not [
        m
        for m in hub.records("relief", "movement")
        if m["document"]["body"]["name"] == "Relief convoy 7 (browser test)"
    ]

    # Decimal then MGRS, as a liaison officer reads them off a plan.
    end_ref = mgrs.MGRS().toMGRS(35.1300, 36.7570, MGRSPrecision=5)
    route.fill(f"35.0106, 37.0521\n35.0600, 36.9000\n{end_ref}")
    form.get_by_label("Corridor half-width (metres)").fill("150")
    form.get_by_role("button", name="Sign and notify movement").click()
    expect(form.locator(".status")).to_contain_text(
        "Notified and logged at sequence", timeout=20_000
    )

    (convoy,) = [
        m
        for m in hub.records("relief", "movement")
        if m["document"]["body"]["name"] == "Relief convoy 7 (browser test)"
    ]
    body = convoy["document"]["body"]
    assert convoy["authenticated_by"] == "signature"
    assert body["corridor_m"] == 150
    assert body["time"]["start"] < body["time"]["end"]  # the form's default window
    coords = body["route"]["coordinates"]
    assert [type(c) for c in coords] == [list] * 3
    assert coords[:2] == [[37.0521, 35.0106], [36.9, 35.06]]
    assert abs(coords[2][0] - 36.757) < 2e-5 and abs(coords[2][1] - 35.13) < 2e-5
    # The page shows the new record in the panel, and on the timeline.
    expect(page.locator("#record")).to_contain_text("Relief convoy 7 (browser test)")
    expect(page.locator(".timeline-bar.movement", has_text="Relief convoy 7")).to_have_count(1)
    no_page_errors(page)


def test_sites_cluster_with_counts_at_low_zoom_and_expand(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "alpha")
    sites = len(hub.records("alpha", "site"))
    assert sites > 50  # the demo has enough sites to crowd the map

    # Zoomed out, most sites are counted in clusters, and every site is counted once.
    clusters = page.locator(".site-cluster")
    expect(clusters.first).to_be_visible()
    markers, clustered = site_counts(page)
    assert clustered > markers and markers + clustered == sites

    # A click on a cluster zooms in on it: it splits into smaller counts and single sites.
    zoom = page.evaluate("window.parley.map.getZoom()")
    biggest = page.evaluate(BIGGEST_CLUSTER)
    clusters.filter(has_text=re.compile(f"^{biggest}$")).first.click()
    _wait_until(page, f"window.parley.map.getZoom() > {zoom}")
    _wait_until(page, "!document.querySelector('.leaflet-cluster-anim')")
    page.wait_for_timeout(300)
    now = page.evaluate(BIGGEST_CLUSTER)
    assert now < biggest and page.locator(".site-marker").count() > 0

    # Far enough in, no cluster is left in view.
    page.evaluate("void window.parley.map.setZoom(13, {animate: false})")
    expect(clusters).to_have_count(0)

    # Ungrouped, every site has its own marker, whatever the zoom.
    page.get_by_role("button", name="Zoom out to show every record").click()
    page.get_by_label("Group nearby sites into counts").uncheck()
    expect(page.locator(".site-marker")).to_have_count(sites)
    expect(clusters).to_have_count(0)

    # Operations carry their names on the map.
    operations = hub.records("alpha", "operation")
    name = operations[0]["document"]["body"]["name"]
    expect(page.locator(".operation-label", has_text=name).first).to_be_attached()
    no_page_errors(page)


def test_alerts_filtered_by_kind_severity_and_state_and_all_shown_acknowledged(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "alpha")
    alerts = all_alerts(hub, "alpha")
    assert alerts
    kinds = {a["conflict"]["kind"] for a in alerts if a["conflict"]}
    assert len(kinds) >= 2, kinds
    items = page.locator("#alerts li.alert")
    expect(items).to_have_count(
        len([a for a in alerts if (a["conflict"] or {}).get("state") != "moot"])
    )

    # By type: every alert shown is of that kind, and all of them are.
    kind = sorted(kinds)[0]
    page.get_by_label("Alert type").select_option(kind)
    want = [a for a in alerts if (a["conflict"] or {}).get("kind") == kind]
    expect(items).to_have_count(len(want))
    for text in items.all_inner_texts():
        assert kind in text
    page.get_by_label("Alert type").select_option("")

    # By severity, then acknowledge exactly those shown.
    page.get_by_label("Severity").select_option("high")
    high = [a for a in alerts if a["severity"] == "high"]
    assert high and len(high) < len(alerts)
    expect(items).to_have_count(len(high))
    page.get_by_role("button", name=re.compile("^Acknowledge all shown")).click()
    expect(page.locator("#alerts-shown")).to_contain_text(
        f"{len([a for a in high if not a['acknowledged_at']])} alert"
    )
    after = {a["id"]: a for a in all_alerts(hub, "alpha")}
    for a in alerts:
        acked = after[a["id"]]["acknowledged_at"] is not None
        assert acked == (a["severity"] == "high" or a["acknowledged_at"] is not None), a["id"]
    expect(page.get_by_role("button", name=re.compile("^Acknowledge all shown"))).to_be_disabled()
    page.get_by_label("Severity").select_option("")

    # By state: alpha cancels one of its operations that has an open critical conflict; its
    # conflicts turn moot, leave the default view, and are listed under "Moot", faded.
    target = next(
        a
        for a in alerts
        if a["conflict"]
        and a["severity"] == "critical"
        and a["conflict"].get("operation")
        and not a["acknowledged_at"]
        and a["conflict"]["state"] == "open"
    )
    operation_id = target["conflict"]["operation"]
    operation = next(o for o in hub.records("alpha", "operation") if o["id"] == operation_id)
    page.get_by_label("Alert state").select_option("open")
    expect(page.locator(f'#alerts li[data-alert="{target["id"]}"]')).to_have_count(1)
    name = operation["document"]["body"]["name"]
    page.get_by_label("Kind").select_option("operation")
    page.get_by_label("Name contains").fill(name)
    page.locator("#records").get_by_role("button", name=name, exact=True).first.click()
    page.locator("#record").get_by_role("button", name="Cancel operation").click()
    moot = page.locator(f'#alerts li[data-alert="{target["id"]}"]')
    expect(moot).to_have_count(0, timeout=15_000)  # refreshed within 10 s
    page.get_by_label("Alert state").select_option("moot")
    expect(moot).to_have_count(1)
    expect(moot).to_have_attribute("data-state", "moot")
    assert moot.evaluate("n => Number(getComputedStyle(n).opacity)") < 0.8
    page.get_by_label("Alert state").select_option("current")
    expect(moot).to_have_count(0)
    no_page_errors(page)


def test_cursor_position_timeline_and_png_export(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub, tmp_path: Path
) -> None:
    import mgrs

    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "alpha")

    # The pointer's position in MGRS and decimal, as the map computes it.
    box = page.locator("#map").bounding_box()
    assert box
    x, y = box["width"] / 2 + 37, box["height"] / 2 - 21
    page.mouse.move(box["x"] + x, box["y"] + y)
    at: dict[str, float] = page.evaluate(
        f"(() => {{ const p = window.parley.map.containerPointToLatLng([{x}, {y}]);"
        " return {lat: p.lat, lon: p.lng}; })()"
    )
    shown = page.locator("#cursor-position")
    expect(shown).to_contain_text("MGRS ")
    text = shown.inner_text()
    grid_text, decimal = text.removeprefix("MGRS ").split(" · ")
    lat, lon = (float(v) for v in decimal.split(", "))
    # Where the pointer is, within a few pixels (a pixel is about 100 m at this zoom) ...
    assert abs(lat - at["lat"]) < 0.02 and abs(lon - at["lon"]) < 0.02
    # ... and the two forms name the same place, to the metre.
    zone, square, east, north = grid_text.split()
    grid = mgrs.MGRS().toMGRS(lat, lon, MGRSPrecision=5)
    assert grid[:5] == zone + square
    assert abs(int(grid[5:10]) - int(east)) <= 2 and abs(int(grid[10:15]) - int(north)) <= 2

    # The timeline: a bar per operation window in the slider's span, labels in UTC.
    bars = page.locator(".timeline-bar")
    expect(bars.first).to_be_visible()
    assert all(t.endswith("Z") for t in page.locator(".timeline-axis .tick").all_inner_texts())
    first = bars.first.get_attribute("aria-label") or ""
    assert re.search(r"\d{2}:\d{2}Z to ", first), first
    bars.first.click()
    expect(page.locator("#record .kind")).to_have_count(1)

    # The view as a PNG, with its legend and scale.
    with page.expect_download() as download:
        page.get_by_role("button", name="Save the map as PNG").click()
    saved = tmp_path / "map.png"
    download.value.save_as(saved)
    data = saved.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (round(box["width"]), round(box["height"]))
    assert len(data) > 20_000  # a drawn map, not a blank canvas
    no_page_errors(page)


def square_around(sites: list[dict[str, Any]], margin: float = 0.01) -> str:
    lons = [s["document"]["body"]["geometry"]["coordinates"][0] for s in sites]
    lats = [s["document"]["body"]["geometry"]["coordinates"][1] for s in sites]
    w, e, s, n = min(lons) - margin, max(lons) + margin, min(lats) - margin, max(lats) + margin
    return "\n".join(f"{lat:.6f}, {lon:.6f}" for lat, lon in ((s, w), (s, e), (n, e), (n, w)))


def test_an_operation_meeting_several_sites_raises_a_warning_and_hashes_wrap(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "bravo")
    sites = [
        s
        for s in hub.records("bravo", "site")
        if s["document"]["body"]["geometry"]["type"] == "Point"
    ]
    # The two sites closest to each other.
    pairs = [
        (
            abs(
                a["document"]["body"]["geometry"]["coordinates"][0]
                - b["document"]["body"]["geometry"]["coordinates"][0]
            )
            + abs(
                a["document"]["body"]["geometry"]["coordinates"][1]
                - b["document"]["body"]["geometry"]["coordinates"][1]
            ),
            a,
            b,
        )
        for i, a in enumerate(sites)
        for b in sites[i + 1 :]
    ]
    _, a, b = min(pairs, key=lambda p: p[0])
    page.get_by_text("Notify an operation").click()
    form = page.locator("#operation-form")
    form.get_by_label("Name").fill("Bravo sweep (browser test)")
    form.get_by_label("Vertices").fill(square_around([a, b]))
    form.get_by_role("button", name="Sign and notify operation").click()
    warning = form.locator(".sites-warning")
    expect(warning).to_be_visible(timeout=20_000)
    expect(warning).to_have_attribute("role", "alert")
    assert re.search(r"meets \d+ protected sites", warning.inner_text())
    colour = warning.evaluate("n => getComputedStyle(n).borderTopColor")
    assert colour != "rgb(0, 0, 0)"

    # The new record's receipt, checked in the panel: no hash widens it.
    panel = page.locator("#record")
    panel.get_by_role("button", name="Check receipt").click()
    expect(panel.locator(".receipt-result")).to_contain_text("✓", timeout=20_000)
    overflow = panel.evaluate("n => n.scrollWidth - n.clientWidth")
    assert overflow <= 1
    no_page_errors(page)
