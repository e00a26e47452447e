"""Evidence on the map page (issue 18, item 5), in real headless Chromium against a real
``parley serve`` of the demo: "Download evidence" in a site's panel saves the file the hub signs,
which parley's Python checker verifies; that file dropped on the page with the network cut is
checked in the browser (web/src/evidence.js) and shows exactly the lines ``parley verify
evidence`` prints; one flipped byte is shown as the failure of the item it is in.

The server, browser and sign-in helpers are test_page.py's, imported, not copied.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from parley.client import evidence as ev
from parley.client.evidence_check import check
from parley.client.http import Client
from tests.test_page import (
    Browser,
    BrowserContext,
    DemoHub,
    Page,
    browser,
    contexts,
    expect,
    hub,
    no_page_errors,
    open_page,
    sign_in,
)
from tests.test_screening_hub import operation, site

__all__ = ["browser", "contexts", "hub"]  # fixtures, used by name

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

WHERE = (36.58, 36.95)  # lon, lat: open country between the demo's towns
NAME = "Field hospital (evidence page test)"
DETAIL = " " * 24  # the CLI's lines under an event


def client(hub: DemoHub, party_id: str) -> Client:
    party = hub.party(party_id)
    return Client(hub.url, party_id, party["token"], Path(party["key_file"]))


def scenario(hub: DemoHub) -> dict[str, Any]:
    """A site notified by relief, acknowledged by alpha, met by charlie's operation; charlie
    reads the alert (delivered) and acknowledges it."""
    with client(hub, "relief") as r, client(hub, "alpha") as a, client(hub, "charlie") as c:
        made: dict[str, Any] = r.submit("site", site(*WHERE, name=NAME))
        a.submit("acknowledgement", {"record": made["id"]})
        met = c.submit("operation", operation(*WHERE, 400))
        deadline = time.monotonic() + 15
        while True:
            mine = [
                x
                for x in c.get("/api/v1/alerts", limit=1000)["items"]
                if x.get("conflict") and made["id"] in json.dumps(x["conflict"])
            ]
            if mine or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert mine, "no alert for charlie's operation over the site"
        alert = mine[0]
        c.submit(
            "alert-acknowledgement",
            {"alert": alert["id"], "conflict": alert["conflict"]["id"]},
            ["charlie"],
        )
        # The delivery entry is logged with the next checkpoint: wait until the evidence has it.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = c.get(f"/api/v1/evidence/{made['id']}")
            if '"kind":"alert-delivery"' in json.dumps(found, separators=(",", ":")):
                break
            time.sleep(0.3)
    return {"site": made, "operation": met, "alert": alert}


def cli_lines(path: Path, log_key: str) -> tuple[int, list[str]]:
    ran = subprocess.run(
        [sys.executable, "-m", "parley", "verify", "evidence", str(path), "--log-key", log_key],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "400", "NO_COLOR": "1"},
    )
    return ran.returncode, [line for line in ran.stdout.splitlines() if not line.startswith(DETAIL)]


def drop(page: Page, text: str, name: str) -> None:
    """Drop a file on the page, as a user drags one from their desktop."""
    transfer = page.evaluate_handle(
        """([text, name]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], name, { type: "application/json" }));
            return dt;
        }""",
        [text, name],
    )
    page.dispatch_event("#map", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("#map", "drop", {"dataTransfer": transfer})


def page_lines(page: Page) -> list[str]:
    found: list[str] = page.locator("#evidence-result .evidence-line").evaluate_all(
        "nodes => nodes.map(n => n.textContent)"
    )
    return found


def flip_in_signature(raw: bytes, compact: str) -> bytes:
    """``raw`` with one byte flipped in the middle of ``compact``'s signature."""
    at = raw.index(compact.encode()) + len(compact) - 40
    while not chr(raw[at]).isalpha():
        at += 1
    flipped = bytearray(raw)
    flipped[at] ^= 0x01
    return bytes(flipped)


def test_download_evidence_then_check_it_in_the_browser_offline(
    browser: Browser, contexts: list[BrowserContext], hub: DemoHub, tmp_path: Path
) -> None:
    made = scenario(hub)
    record = made["site"]
    log_key = hub.summary["verifier_key"]
    page = open_page(browser, contexts, hub)
    sign_in(page, hub, "charlie")
    page.get_by_label("Kind").select_option("site")
    page.get_by_label("Name contains").fill(NAME)
    page.locator("#records").get_by_role("button", name=NAME, exact=True).click()
    panel = page.locator("#record")
    expect(panel).to_contain_text(f"Log sequence{record['sequence']}")

    with page.expect_download() as download:
        panel.get_by_role("button", name="Download evidence").click()
    assert download.value.suggested_filename == f"evidence-site-{record['id'][:8]}.json"
    saved = tmp_path / "evidence.json"
    download.value.save_as(saved)
    expect(panel.locator(".evidence-status")).to_contain_text("Evidence saved as")
    raw = saved.read_bytes()
    report = check(ev.load(raw), log_key)  # parley's Python checker, offline
    assert report.ok, report.failures()
    assert report.manifest["subject"] == record["id"] and report.manifest["made_for"] == "charlie"
    kinds = [i["kind"] for i in report.manifest["items"]]
    assert kinds[:3] == ["site", "acknowledgement", "operation"]
    assert {"alert-acknowledgement", "alert-delivery"} <= set(kinds)
    code, expected = cli_lines(saved, log_key)
    assert code == 0 and expected[-1] == "all verified", expected

    # From here the page can reach nothing (every request fails): the check is the browser's.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.context.set_offline(True)
    started = time.monotonic()
    drop(page, raw.decode(), "evidence.json")
    result = page.locator("#evidence-result")
    expect(result).to_contain_text("Evidence verified in this browser", timeout=20_000)
    took = time.monotonic() - started
    shown = page_lines(page)
    assert shown == expected
    assert any("✓ the hub delivered alert" in s for s in shown)
    assert any(f"✓ charlie acknowledged alert {made['alert']['id']}" in s for s in shown)
    assert result.locator(".evidence-detail").count() > len(report.timeline)
    assert took < 15

    # One byte flipped in the acknowledgement's signature, the file chosen rather than dropped:
    # that item fails, by name, as the CLI says; the rest still verifies.
    ack = next(r for r in json.loads(raw)["items"] if r["submission"]["kind"] == "acknowledgement")
    bad = tmp_path / "flipped.json"
    bad.write_bytes(flip_in_signature(raw, ack["submission"]["jws"]))
    code, expected_bad = cli_lines(bad, log_key)
    assert code == 1
    page.get_by_label("Evidence (.json)").set_input_files(str(bad))  # chosen, not dropped
    expect(result).to_contain_text("This evidence does not verify: 1 failure(s)")
    failed = result.locator(".evidence-item.failed .evidence-line")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text(
        f"✗ item 2 (acknowledgement: acknowledgement {ack['submission']['id']} by alpha): "
    )
    assert page_lines(page) == expected_bad
    # The page's live feed keeps trying to catch up while offline; the check asked for nothing.
    assert not [u for u in requests if any(w in u for w in ("/log/", "evidence", "receipt"))]
    no_page_errors(page)
