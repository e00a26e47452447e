"""The map page, in a real browser (Debian's Chromium, headless, driven by Playwright) against a
real ``parley serve`` of the demo scenario on SQLite.

What a liaison officer does: sign in with a token and key file; see the protected sites; draw an
operation over a hospital and see the conflict alert arrive live, for the party concerned and for
no other; notify a site by MGRS; acknowledge receipt of a site; download a receipt and check it,
in the browser and with the Python verifier. The screenshots under docs/screenshots are taken
here.

Chromium comes from ``PARLEY_CHROMIUM`` (default /usr/bin/chromium); without it these tests are
skipped, unless ``PARLEY_REQUIRE_POSTGRES`` is set (CI), where they fail instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.client import receipts
from parley.errors import LogError
from parley.parties import jws
from parley.parties.keys import b64url_decode, public_key_from_raw
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
LIVE_S = 15  # how long an alert may take to arrive, at most
QUIET_S = 4  # how long a party that should hear nothing is watched


def _unavailable(reason: str) -> None:
    if os.environ.get("PARLEY_REQUIRE_POSTGRES"):
        pytest.fail(f"browser tests are required here, but {reason}")
    pytest.skip(reason)


try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None


@dataclass
class DemoHub:
    url: str
    data: Path
    summary: dict[str, Any]

    def party(self, party_id: str) -> dict[str, Any]:
        found: dict[str, Any] = next(p for p in self.summary["parties"] if p["id"] == party_id)
        return found

    def api(self, party_id: str) -> httpx.Client:
        token = self.party(party_id)["token"]
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def get(self, party_id: str, path: str, **params: Any) -> Any:
        with self.api(party_id) as client:
            response = client.get(path, params=params)
            response.raise_for_status()
            return response.json()

    def records(self, party_id: str, kind: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(
            party_id, "/api/v1/submissions", kind=kind, limit=1000
        )["items"]
        return items


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHub]:
    """``parley demo --no-serve`` builds the scenario, then ``parley serve`` serves it."""
    data = tmp_path_factory.mktemp("page") / "demo"
    env = {k: v for k, v in os.environ.items() if k != "PARLEY_DATABASE_URL"}
    built = subprocess.run(
        [sys.executable, "-m", "parley", "demo", "--data", str(data), "--no-serve", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (data / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--data", str(data), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"parley serve did not start: {(data / 'serve.log').read_text()}"
                )
            time.sleep(0.1)
        yield DemoHub(url, data, summary)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        _unavailable("Playwright for Python is not installed")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Each party in a context of its own (its own storage, as on its own machine)."""
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def open_page(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub, width: int = 1440
) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, accept_downloads=True, locale="en-GB"
    )
    contexts.append(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(hub.url + "/")
    return page


def sign_in(page: Page, hub: DemoHub, party_id: str) -> None:
    party = hub.party(party_id)
    page.get_by_label("Party token").fill(party["token"])
    page.get_by_label("Key file").set_input_files(party["key_file"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#party-id")).to_have_text(party_id)
    expect(page.locator("#stream-status")).to_have_text("Alerts: live", timeout=10_000)


def no_page_errors(page: Page) -> None:
    assert page.errors == []  # type: ignore[attr-defined]


def alerts_of(page: Page) -> Any:
    return page.locator("#alerts li.alert")


def draw_polygon_around(page: Page, record_id: str, half_px: int = 70) -> None:
    """Click four vertices on the map around a record's marker, then finish the shape."""
    marker = page.locator(f'.site-marker[data-record="{record_id}"]')
    expect(marker).to_be_visible()
    box = marker.bounding_box()
    assert box is not None
    cx, cy = box["x"] + 15, box["y"] + 15  # the icon's anchor: the site's position
    page.get_by_role("button", name="Draw on map").click()
    for dx, dy in [
        (-half_px, -half_px),
        (half_px, -half_px),
        (half_px, half_px),
        (-half_px, half_px),
    ]:
        page.mouse.click(cx + dx, cy + dy)
    expect(page.locator("#draw-status")).to_contain_text("4 vertices")
    page.get_by_role("button", name="Finish shape").click()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def checkpoint_ok(receipt: dict[str, Any], hub: DemoHub) -> dict[str, Any]:
    proved: dict[str, Any] = receipts.verify(receipt, hub.summary["verifier_key"])
    return proved


# -- tests --------------------------------------------------------------------------------


def test_sign_in_refuses_a_wrong_token_or_key(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    page = open_page(browser, contexts, hub)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Party token").fill("pt_not-a-token")
    page.get_by_label("Key file").set_input_files(hub.party("alpha")["key_file"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("does not know this token")

    # Alpha's token with bravo's key: every signature would be refused, so say so now.
    page.get_by_label("Party token").fill(hub.party("alpha")["token"])
    page.get_by_label("Key file").set_input_files(hub.party("bravo")["key_file"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("not the key registered for alpha")

    page.get_by_label("Key file").set_input_files(
        files=[{"name": "x.json", "mimeType": "application/json", "buffer": b"{}"}]
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("not an Ed25519 JSON Web Key")
    expect(page.locator("#app")).to_be_hidden()
    no_page_errors(page)


def test_operation_over_a_hospital_alerts_its_party_live_and_no_other(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    alpha = open_page(browser, contexts, hub)
    bravo = open_page(browser, contexts, hub)
    charlie = open_page(browser, contexts, hub)
    sign_in(alpha, hub, "alpha")
    sign_in(bravo, hub, "bravo")
    sign_in(charlie, hub, "charlie")

    # Every site alpha may see is on its map, each marked acknowledged by alpha or not (drawn
    # one by one, not grouped in counts: test_page_shift.py tests the clusters).
    alpha.get_by_label("Group nearby sites into counts").uncheck()
    sites = hub.records("alpha", "site")
    acked = {
        a["document"]["body"]["record"]
        for a in hub.records("alpha", "acknowledgement")
        if a["party"] == "alpha"
    }
    expect(alpha.locator(".site-marker")).to_have_count(len(sites))
    expect(alpha.locator('.site-marker[data-acknowledged="yes"]')).to_have_count(
        len(acked & {s["id"] for s in sites})
    )
    before = {p: alerts_of(page).count() for p, page in (("bravo", bravo), ("charlie", charlie))}
    lines_before = alpha.locator("path.conflict-line").count()

    # Alpha finds the hospital farthest from every operation in the record list, which
    # centres the map on it, and draws a polygon around it.
    operations = hub.records("alpha", "operation")
    hospital = max(
        (s for s in sites if s["document"]["body"]["category"] == "hospital"),
        key=lambda s: min(distance_km(s, o) for o in operations),
    )
    name = hospital["document"]["body"]["name"]
    alpha.get_by_label("Kind").select_option("site")
    alpha.get_by_label("Name contains").fill(name)
    alpha.locator("#records").get_by_role("button", name=name, exact=True).click()
    expect(alpha.locator("#record")).to_contain_text(name)
    alpha.get_by_text("Notify an operation").click()
    form = alpha.locator("#operation-form")
    form.get_by_label("Name").fill("Alpha reconnaissance (browser test)")
    draw_polygon_around(alpha, hospital["id"])
    assert len(form.get_by_label("Vertices").input_value().splitlines()) == 4
    form.get_by_role("button", name="Sign and notify operation").click()
    expect(form.locator(".status")).to_contain_text(
        "Notified and logged at sequence", timeout=20_000
    )
    expect(form.locator(".conflict-note")).to_contain_text(name)

    # The alert arrives on alpha's stream, without a reload ...
    alert = alerts_of(alpha).filter(has_text="Alpha reconnaissance (browser test)")
    expect(alert.filter(has_text=name)).to_have_count(1, timeout=LIVE_S * 1000)
    expect(alert.filter(has_text=name)).to_contain_text("critical")
    expect(alert.filter(has_text=name)).to_contain_text("protected-site")
    assert alpha.locator("path.conflict-line").count() > lines_before

    # ... and to nobody else: the hospital's notifier is not told where an operation will be,
    # and bravo and charlie have nothing to do with it.
    (operation,) = [
        o
        for o in hub.records("alpha", "operation")
        if o["document"]["body"]["name"] == "Alpha reconnaissance (browser test)"
    ]
    time.sleep(QUIET_S)
    for party_id, page in (("bravo", bravo), ("charlie", charlie)):
        expect(alerts_of(page)).to_have_count(before[party_id])
        expect(alerts_of(page).filter(has_text="browser test")).to_have_count(0)
    for other in ("bravo", "charlie", "relief", "monitor"):
        assert not [a for a in all_alerts(hub, other) if mentions(a, operation["id"])]

    # Alpha acknowledges the alert (marks it seen).
    alert.filter(has_text=name).get_by_role("button", name="Acknowledge this alert").click()
    expect(alert.filter(has_text=name)).to_contain_text("Acknowledged")
    seen = [a for a in all_alerts(hub, "alpha") if mentions(a, operation["id"])]
    assert seen and all(
        a["acknowledged_at"] for a in seen if a["conflict"]["other"] == hospital["id"]
    )

    # Bravo now notifies a circle, its centre typed in DMS, beside one of alpha's operations,
    # in the same hours and altitudes: a deconfliction conflict, which alerts both operating
    # parties, live, and charlie not at all.
    patrol = next(
        o
        for o in hub.records("alpha", "operation")
        if o["document"]["body"]["volumes"][0]["footprint"]["type"] == "Point"
    )
    volume = patrol["document"]["body"]["volumes"][0]
    lon, lat = volume["footprint"]["coordinates"]
    lon += 0.04  # about 3.5 km east: the two circles overlap
    bravo.get_by_text("Notify an operation").click()
    form = bravo.locator("#operation-form")
    form.get_by_label("Name").fill("Bravo transit (browser test)")
    form.get_by_label("Circle").check()
    form.get_by_label("Centre").fill(dms(lat, lon))
    expect(form.locator("output.readout").first).to_contain_text(f"Reads as {lat:.4f}")
    form.get_by_label("Radius (metres)").fill("3000")
    form.get_by_label("Lower").fill(str(volume["altitude"]["lower_m"]))
    form.get_by_label("Upper").fill(str(volume["altitude"]["upper_m"]))
    form.get_by_label("Start").fill(volume["time"]["start"][:16])
    form.get_by_label("End").fill(volume["time"]["end"][:16])
    form.get_by_role("button", name="Sign and notify operation").click()
    # Signing, screening and the answer take longer than expect's 5 s on a loaded machine.
    expect(form.locator(".conflict-note")).to_contain_text("deconfliction", timeout=20_000)
    for page in (alpha, bravo):
        expect(
            alerts_of(page)
            .filter(has_text="deconfliction")
            .filter(has_text="Bravo transit (browser test)")
        ).to_have_count(1, timeout=LIVE_S * 1000)
    time.sleep(QUIET_S)
    expect(alerts_of(charlie)).to_have_count(before["charlie"])
    transit = next(
        o
        for o in hub.records("bravo", "operation")
        if o["document"]["body"]["name"] == "Bravo transit (browser test)"
    )
    assert not [a for a in all_alerts(hub, "charlie") if mentions(a, transit["id"])]

    # The whole map, then the conflict close up, as alpha sees them.
    alpha.get_by_role("button", name="Zoom out to show every record").click()
    alpha.wait_for_timeout(500)
    shot(alpha, "map-overview.png")
    deconfliction = alerts_of(alpha).filter(has_text="Bravo transit (browser test)")
    deconfliction.get_by_role("button", name="Show on map").click()
    expect(alpha.locator("#record")).to_contain_text("Bravo transit (browser test)")
    alpha.locator("#alerts-title").scroll_into_view_if_needed()
    alpha.wait_for_timeout(500)
    shot(alpha, "map-conflict-alert.png")
    for page in (alpha, bravo, charlie):
        no_page_errors(page)


def test_receipt_downloads_and_verifies_in_the_browser_and_offline(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub, tmp_path: Path
) -> None:
    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "alpha")
    patrol = next(o for o in hub.records("alpha", "operation") if o["party"] == "alpha")
    name = patrol["document"]["body"]["name"]
    page.get_by_label("Kind").select_option("operation")
    page.get_by_label("Name contains").fill(name)
    page.locator("#records").get_by_role("button", name=name, exact=True).click()
    panel = page.locator("#record")
    expect(panel).to_contain_text(f"Log sequence{patrol['sequence']}")

    with page.expect_download() as download:
        panel.get_by_role("button", name="Download receipt").click()
    saved = tmp_path / "receipt.json"
    download.value.save_as(saved)
    assert download.value.suggested_filename == f"parley-receipt-{patrol['id']}.json"
    receipt = json.loads(saved.read_text())
    assert receipt["submission"]["jws"] == patrol["jws"]
    proved = checkpoint_ok(receipt, hub)  # the Python verifier agrees with the page
    assert proved["index"] == patrol["sequence"] and proved["party"] == "alpha"

    panel.get_by_role("button", name="Check receipt").click()
    result = panel.locator(".receipt-result")
    expect(result).to_contain_text("Receipt verified in this browser")
    expect(result).to_contain_text(f"Entry {patrol['sequence']} is in that tree")
    expect(result).to_contain_text("Signed by alpha's registered key")
    shot(page, "receipt-verified.png")

    # The same file through "Check a receipt file", then tampered three ways: each refused.
    check = page.get_by_label("Receipt (.json)")
    check.set_input_files(str(saved))
    expect(page.locator("#check-result")).to_contain_text("Receipt verified in this browser")
    entry = json.loads(base64.b64decode(receipt["entry"]))
    entry["received_at"] = "2020-01-01T00:00:00.000000Z"
    tampered = {
        "entry": {**receipt, "entry": base64.b64encode(jws.canonical(entry)).decode()},
        "checkpoint": {**receipt, "checkpoint": receipt["checkpoint"].replace("\n", "\n\n", 1)},
        "jws": {**receipt, "submission": {**receipt["submission"], "jws": patrol["jws"][:-4]}},
    }
    for what, bad in tampered.items():
        check.set_input_files(
            files=[
                {
                    "name": f"{what}.json",
                    "mimeType": "application/json",
                    "buffer": json.dumps(bad).encode(),
                }
            ]
        )
        expect(page.locator("#check-result")).to_contain_text("does not verify")
        with pytest.raises(LogError):
            checkpoint_ok(bad, hub)
    no_page_errors(page)


def test_member_acknowledges_receipt_of_a_site(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "charlie")
    site = hub.records("charlie", "site")[0]
    name = site["document"]["body"]["name"]
    pending = page.locator("#pending")
    before = pending.get_by_role("button").count()
    pending.get_by_role("button", name=name, exact=True).click()
    panel = page.locator("#record")
    expect(panel).to_contain_text("It is not an approval")
    panel.get_by_role("button", name="Acknowledge receipt").click()
    expect(panel).to_contain_text("You acknowledged receipt")
    expect(pending.get_by_role("button")).to_have_count(before - 1)
    expect(page.locator(f'.site-marker[data-record="{site["id"]}"]')).to_have_attribute(
        "data-acknowledged", "yes"
    )

    # Signed in the browser with charlie's key: the hub checked it, and so can anyone.
    (ack,) = [a for a in hub.records("charlie", "acknowledgement") if a["party"] == "charlie"]
    assert ack["document"]["body"] == {"record": site["id"]}
    assert ack["authenticated_by"] == "signature"
    me = hub.get("charlie", "/api/v1/parties/me")
    jws.Parsed(ack["jws"]).verify(
        public_key_from_raw(b64url_decode(me["public_key"]["x"])), "charlie"
    )
    no_page_errors(page)


def test_notifier_notifies_a_site_typed_in_mgrs(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    import mgrs

    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "relief")
    expect(page.get_by_text("Notify an operation")).to_have_count(0)  # a notifier's forms only
    lat, lon = 35.0106, 37.0521  # near Salamiyah
    reference = mgrs.MGRS().toMGRS(lat, lon, MGRSPrecision=5)
    page.get_by_text("Notify a protected site").click()
    form = page.locator("#site-form")
    form.get_by_label("Name").fill("Field clinic (test)")
    form.get_by_label("Category").select_option("health-post")
    form.get_by_label("Position").fill(reference)
    expect(form.locator("output.readout")).to_contain_text(f"Reads as {lat:.4f}")
    form.get_by_label("Protected radius (metres)").fill("250")
    form.get_by_role("button", name="Sign and notify site").click()
    expect(form.locator(".status")).to_contain_text(
        "Notified and logged at sequence", timeout=20_000
    )

    (site,) = [
        s
        for s in hub.records("relief", "site")
        if s["document"]["body"]["name"] == "Field clinic (test)"
    ]
    body = site["document"]["body"]
    got_lon, got_lat = body["geometry"]["coordinates"]
    # The grid square's centre: within a metre or so of the point it was made from.
    assert abs(got_lat - lat) < 2e-5 and abs(got_lon - lon) < 2e-5
    assert body["category"] == "health-post" and body["radius_m"] == 250
    assert site["authenticated_by"] == "signature"
    # The page zooms in to reveal the new site (it may land in a cluster). CI at 77e962e and
    # 5420e97 failed here, not for load as first thought: a refresh under way had read the
    # list before the site was logged (the next test).
    marker = page.locator(f'.site-marker[data-record="{site["id"]}"]')
    expect(marker).to_be_visible(timeout=20_000)
    shot(page, "notify-site-mgrs.png")

    # An incident with evidence: the file is hashed in the browser; only its digest is sent.
    photo = b"not really a photograph (browser test)"
    page.get_by_text("Report an incident").click()
    form = page.locator("#incident-form")
    form.get_by_label("What happened").fill("Clinic access road blocked (browser test).")
    form.get_by_label("Where").fill(reference)
    form.get_by_label("Injured").fill("2")
    form.get_by_label("Evidence files").set_input_files(
        files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    digest = hashlib.sha256(photo).hexdigest()
    expect(form.locator("ul.digests")).to_contain_text(digest)
    form.get_by_role("button", name="Sign and report incident").click()
    expect(form.locator(".status")).to_contain_text("Notified and logged")
    (incident,) = [
        i
        for i in hub.records("relief", "incident")
        if i["document"]["body"]["description"] == "Clinic access road blocked (browser test)."
    ]
    assert incident["document"]["body"]["evidence"] == [digest]
    assert incident["document"]["body"]["casualties"] == {"killed": 0, "injured": 2}
    no_page_errors(page)


def test_a_site_notified_while_the_page_refreshes_is_still_shown(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    """The page's 10 s poll may have asked for new records just before a site is notified:
    the site must still be selected and revealed, not left for the next poll to list
    unselected in a cluster (the MGRS test above failed so, now and then)."""
    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "relief")
    page.get_by_text("Notify a protected site").click()
    form = page.locator("#site-form")
    form.get_by_label("Name").fill("Mobile clinic (poll test)")
    form.get_by_label("Category").select_option("health-post")
    form.get_by_label("Position").fill("35.0206 37.0621")
    form.get_by_label("Protected radius (metres)").fill("250")

    # The poll's request is answered by the hub at once, before the site exists, but the page
    # only gets the answer once the site has been notified.
    held: list[tuple[Any, Any]] = []
    holding = [True]

    def hold(route: Any) -> None:
        if route.request.method == "GET" and holding[0]:
            held.append((route, route.fetch()))
        else:
            route.fallback()

    page.route(lambda url: "/api/v1/submissions?" in url, hold)
    with page.expect_request(
        lambda r: r.method == "GET" and "/api/v1/submissions?" in r.url, timeout=15_000
    ):
        pass
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 201):
        form.get_by_role("button", name="Sign and notify site").click()
    holding[0] = False
    for route, answer in held:
        route.fulfill(response=answer)

    expect(form.locator(".status")).to_contain_text("Notified and logged at sequence")
    (site,) = [
        s
        for s in hub.records("relief", "site")
        if s["document"]["body"]["name"] == "Mobile clinic (poll test)"
    ]
    # Before the next poll (10 s): the page asked again after the one under way.
    expect(page.locator("#record")).to_contain_text("Mobile clinic (poll test)", timeout=5_000)
    marker = page.locator(f'.site-marker[data-record="{site["id"]}"]')
    expect(marker).to_be_visible(timeout=5_000)
    no_page_errors(page)


def test_area_map_contested_then_a_new_version_proposed_and_accepted(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    alpha = open_page(browser, contexts, hub)
    bravo = open_page(browser, contexts, hub)
    charlie = open_page(browser, contexts, hub)
    for party_id, page in (("alpha", alpha), ("bravo", bravo), ("charlie", charlie)):
        sign_in(page, hub, party_id)
    before = hub.get("charlie", "/api/v1/maps/main")
    pending = before["versions"][-1]
    assert pending["status"] == "proposed" and "charlie" in pending["waiting_for"]

    # Charlie contests the pending proposal, saying why.
    charlie.locator("#maps").get_by_role(
        "button", name=f"version {pending['version']} proposed"
    ).click()
    panel = charlie.locator("#record")
    expect(panel).to_contain_text(f"Waiting for{', '.join(pending['waiting_for'])}")
    panel.get_by_label("Comment").fill("Lattakia was not discussed (browser test)")
    panel.get_by_role("button", name=f"Contest version {pending['version']}").click()
    expect(panel).to_contain_text("You answered: contest")
    votes = hub.get("alpha", "/api/v1/maps/main")["versions"][-1]["votes"]
    assert votes["charlie"] == {
        "vote": "contest",
        "comment": "Lattakia was not discussed (browser test)",
    }

    # Alpha proposes the next version: the pending one without Lattakia, plus a new area.
    alpha.get_by_text("Propose an area map version").click()
    form = alpha.locator("#area-form")
    kept = form.get_by_role("checkbox")
    expect(kept).to_have_count(len(pending["areas"]))
    added = [a for a in pending["areas"] if a not in before["versions"][0]["areas"]]
    for area_id in added:
        form.locator(f'input[value="{area_id}"]').uncheck()
    form.get_by_label("Name", exact=True).fill("Desert range (browser test)")
    form.get_by_label("Rule").select_option("no-operations")
    form.get_by_label("Vertices").fill("33.9, 39.0\n33.9, 39.4\n34.2, 39.4\n34.2, 39.0")
    form.get_by_role("button", name="Sign and propose version").click()
    expect(form.locator(".status")).to_contain_text("Notified and logged")
    proposal = hub.get("alpha", "/api/v1/maps/main")["versions"][-1]
    assert proposal["version"] == pending["version"] + 1 and proposal["proposer"] == "alpha"
    assert "desert-range-browser-test" in proposal["areas"]
    assert not set(added) & set(proposal["areas"])

    # Bravo and charlie accept it from their pages: it comes into force, on the map too.
    areas_before = charlie.locator("path.area-no-operations").count()
    for page in (bravo, charlie):
        page.locator("#maps").get_by_role("button", name=f"version {proposal['version']}").click()
        page.get_by_role("button", name=f"Accept version {proposal['version']}").click()
        expect(page.locator("#record")).to_contain_text("You answered: accept")
    assert hub.get("alpha", "/api/v1/maps/main")["in_force"] == proposal["version"]
    expect(charlie.locator("path.area-no-operations")).to_have_count(areas_before + 1)
    expect(charlie.locator("#maps")).to_contain_text(f"version {proposal['version']} in force")
    for page in (alpha, bravo, charlie):
        no_page_errors(page)


def test_keyboard_only_sign_in_report_time_slider_and_layers(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    page = open_page(browser, contexts, hub)
    keys = page.keyboard
    party = hub.party("alpha")
    page.get_by_label("Party token").focus()
    keys.type(party["token"])
    keys.press("Tab")
    expect(page.get_by_label("Key file")).to_be_focused()
    # A native file input: Space opens the chooser. Headless Chromium now and then drops the
    # first key press on it, so give it a second chance before calling it a failure.
    for attempt in range(3):
        try:
            with page.expect_file_chooser(timeout=5000) as chooser:
                keys.press("Space")
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    chooser.value.set_files(party["key_file"])
    keys.press("Tab")
    keys.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    keys.press("Enter")
    expect(page.locator("#stream-status")).to_have_text("Alerts: live", timeout=10_000)

    # Report an incident with the keyboard alone; the position typed in DMS, Enter submits.
    page.get_by_text("Report an incident").focus()
    keys.press("Enter")
    keys.press("Tab")
    expect(page.locator("#incident-form").get_by_label("Category")).to_be_focused()
    keys.press("Tab")
    keys.type("Smoke seen east of Palmyra (keyboard test).")
    keys.press("Tab")
    keys.type("34°33'N 38°20'E")
    expect(page.locator("#incident-form output.readout")).to_contain_text("34.55000, 38.33333")
    keys.press("Enter")
    expect(page.locator("#incident-form .status")).to_contain_text("Notified and logged")
    (incident,) = [
        i
        for i in hub.records("alpha", "incident")
        if "keyboard test" in i["document"]["body"]["description"]
    ]
    assert incident["document"]["body"]["location"]["coordinates"] == [38.333333, 34.55]
    assert incident["authenticated_by"] == "signature"

    # The time slider shows only the volumes planned at the chosen time.
    shown = page.locator("path.operation-volume:not(.out-of-time)")
    every = shown.count()
    assert every > 0
    page.get_by_label("Show operations and movements at every time").focus()
    keys.press("Space")
    slider = page.get_by_label("Show what is planned at")
    expect(slider).to_be_enabled()
    slider.focus()
    keys.press("End")  # a week ahead: nothing is planned that far out in the demo
    expect(page.locator("#time-value")).not_to_have_text("Every time")
    expect(shown).to_have_count(0)
    volume = next(o for o in hub.records("alpha", "operation") if o["party"] == "alpha")[
        "document"
    ]["body"]["volumes"][0]
    start = datetime.fromisoformat(volume["time"]["start"]).timestamp()
    end = datetime.fromisoformat(volume["time"]["end"]).timestamp()
    base = (time.time() - 24 * 3600) // 900 * 900
    slider.fill(str(round(((start + end) / 2 - base) / 900)))
    assert 0 < shown.count() < every

    # Every control on the page has a name a screen reader can say.
    for summary in page.locator("details > summary").all():
        if summary.is_visible():
            summary.click()
    unnamed = page.evaluate(UNNAMED_CONTROLS)
    assert unnamed == []

    # Layers can be hidden and shown again.
    page.get_by_label("Protected sites").uncheck()
    expect(page.locator(".site-marker")).to_have_count(0)
    page.get_by_label("Protected sites").check()
    expect(page.locator(".site-marker, .site-cluster").first).to_be_visible()
    no_page_errors(page)


def test_page_and_base_layers_are_served_without_a_token(hub: DemoHub) -> None:
    page = httpx.get(hub.url + "/")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
    again = httpx.get(hub.url + "/", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304
    for name in ("countries", "governorates", "provinces", "towns"):
        layer = httpx.get(f"{hub.url}/basemap/{name}.geojson", headers={"Accept-Encoding": "gzip"})
        assert layer.status_code == 200 and layer.json()["type"] == "FeatureCollection"
    towns = httpx.get(f"{hub.url}/basemap/towns.geojson").json()["features"]
    assert any(t["properties"]["name"] == "Aleppo" for t in towns)
    assert httpx.get(f"{hub.url}/static/../demo.json").status_code == 404
    assert httpx.get(f"{hub.url}/static/%2e%2e/parley.db").status_code == 404
    assert httpx.get(f"{hub.url}/basemap/demo.geojson").status_code == 404


UNNAMED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((c) => c.offsetParent !== null)
  .filter((c) => !(c.labels?.length || c.getAttribute("aria-label")
                   || c.getAttribute("aria-labelledby")
                   || (c.tagName === "BUTTON" && c.textContent.trim())))
  .map((c) => c.outerHTML.slice(0, 120))"""


def all_alerts(hub: DemoHub, party_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = hub.get(party_id, "/api/v1/alerts", limit=1000)["items"]
    return items


def mentions(alert: dict[str, Any], record_id: str) -> bool:
    return record_id in (alert["conflict"]["record"], alert["conflict"]["other"])


def centre(record: dict[str, Any]) -> tuple[float, float]:
    body = record["document"]["body"]
    geometry = body["geometry"] if "geometry" in body else body["volumes"][0]["footprint"]
    if geometry["type"] == "Point":
        lon, lat = geometry["coordinates"]
        return float(lat), float(lon)
    ring = geometry["coordinates"][0]
    return sum(p[1] for p in ring) / len(ring), sum(p[0] for p in ring) / len(ring)


def distance_km(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Great-circle distance between two records' centres: enough to choose a quiet place."""
    (lat1, lon1), (lat2, lon2) = centre(a), centre(b)
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2
    h += math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def dms(lat: float, lon: float) -> str:
    def part(x: float, pos: str, neg: str) -> str:
        a = abs(x)
        d = int(a)
        m = int((a - d) * 60)
        s = ((a - d) * 60 - m) * 60
        return f"{d}°{m:02d}'{s:05.2f}\"{pos if x >= 0 else neg}"

    return f"{part(lat, 'N', 'S')} {part(lon, 'E', 'W')}"


def test_the_page_reads_the_shared_table_of_positions_like_the_hub(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub
) -> None:
    """The page's own reader, in Chromium, against the same table as the hub's (positions.json)."""
    from tests.formats.test_positions import CASES, expected, metres

    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "relief")
    read = page.evaluate(
        """(inputs) => inputs.map((text) => {
            try {
              const p = window.parley.parseCoordinate(text);
              return { lat: p.lat, lon: p.lon };
            } catch (err) { return { error: err.message, kind: err.name }; }
        })""",
        [c["input"] for c in CASES],
    )
    for case, got in zip(CASES, read, strict=True):
        if "refused" in case:
            assert got.get("kind") == "CoordinateError", (case["input"], got)
            assert case["refused"] in got["error"], (case["input"], got)
        else:
            assert "error" not in got, (case["input"], got)
            # The page rounds to six decimals (10 cm).
            assert metres((got["lat"], got["lon"]), expected(case)) <= case["tolerance_m"] + 0.2

    page.get_by_text("Notify a protected site").click()
    form = page.locator("#site-form")
    readout = form.locator("output.readout")
    form.get_by_label("Position").fill("37T CA 34576 07700")
    expect(readout).to_contain_text("latitude band T")
    form.get_by_label("Position").fill("37.16, 36.2")  # axes swapped: in Turkey
    expect(readout).to_contain_text("The hub would refuse it")
    expect(readout).to_contain_text("swap latitude and longitude")
    form.get_by_label("Position").fill("37S CA 34576 07700")
    expect(readout).to_contain_text("Reads as 36.20000, 37.16000")
    expect(readout).to_contain_text("SW of Aleppo, Aleppo governorate")

    # The same clinic notified twice: the hub's duplicate flag is shown after submitting.
    form.get_by_label("Name").fill("Twice-notified clinic (test)")
    form.get_by_label("Category").select_option("health-post")
    form.get_by_label("Protected radius (metres)").fill("100")
    for _ in range(2):
        form.get_by_role("button", name="Sign and notify site").click()
        expect(form.locator(".status")).to_contain_text(
            "Notified and logged at sequence", timeout=20_000
        )
    expect(form.locator(".status .flag-note")).to_contain_text("possible duplicate")
    no_page_errors(page)


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHub]:
    """``parley demo`` itself, serving: a witness for each member cosigns every checkpoint."""
    data = tmp_path_factory.mktemp("witnessed") / "demo"
    env = {k: v for k, v in os.environ.items() if k != "PARLEY_DATABASE_URL"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (data.parent / "demo.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "parley", "demo", "--data", str(data), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"parley demo did not start: {log.name}")
            time.sleep(0.2)
        summary = json.loads((data / "demo.json").read_text())
        yield DemoHub(url, data, summary)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_a_receipt_shows_the_witnesses_cosignatures_and_one_without_them_is_refused(
    browser: Browser, contexts: list[BrowserContext], witnessed: DemoHub
) -> None:
    hub = witnessed
    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "bravo")
    operation = next(o for o in hub.records("bravo", "operation") if o["party"] == "bravo")
    name = operation["document"]["body"]["name"]
    page.get_by_label("Kind").select_option("operation")
    page.get_by_label("Name contains").fill(name)
    page.locator("#records").get_by_role("button", name=name, exact=True).click()
    panel = page.locator("#record")
    panel.get_by_role("button", name="Check receipt").click()
    result = panel.locator(".receipt-result")
    expect(result).to_contain_text("Receipt verified in this browser")
    expect(result).to_contain_text("3 witness cosignatures: the quorum of the hub's witness policy")
    cosignatures = result.get_by_role("list", name="Witness cosignatures").locator("li")
    expect(cosignatures).to_have_count(3)
    for member in ("alpha", "bravo", "charlie"):
        expect(result).to_contain_text(f"Cosigned by witness witness.parley.demo/{member} at 20")
    # The panel is redrawn whenever the hub's records change, as when the record is chosen
    # again: the receipt's answer stays (it once vanished under a live update mid-check).
    page.locator("#records").get_by_role("button", name=name, exact=True).click()
    expect(result).to_contain_text("Receipt verified in this browser")
    shot(page, "receipt-cosigned.png")

    # The same receipt with the witnesses' lines taken out: the hub's signature alone is not
    # enough for a policy that needs every member's witness.
    with hub.api("bravo") as client:
        receipt = client.get(f"/api/v1/submissions/{operation['id']}/receipt").json()
    signed = receipt["checkpoint"]
    text, _, lines = signed.rpartition("\n\n")
    hub_only = text + "\n\n" + lines.splitlines()[0] + "\n"
    assert len(lines.splitlines()) == 4 and hub_only != signed
    page.get_by_label("Receipt (.json)").set_input_files(
        files=[
            {
                "name": "uncosigned.json",
                "mimeType": "application/json",
                "buffer": json.dumps({**receipt, "checkpoint": hub_only}).encode(),
            }
        ]
    )
    refused = page.locator("#check-result")
    expect(refused).to_contain_text("does not verify")
    expect(refused).to_contain_text("lacks the cosignatures")
    no_page_errors(page)
