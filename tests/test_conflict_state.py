"""Conflict state over real HTTP on both backends: open, acknowledged (by the viewer only),
resolved, moot (an operation ended or superseded, a site withdrawn or expired), and sides named
by role whatever the order of arrival."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from parley import clock
from parley.client.http import Client

from .conftest import PartyHandle, Server
from .test_screening_hub import HOSPITAL, east_of, operation, site


def conflicts(client: Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/conflicts", **params)["items"]
    return items


def alert_view(client: Client, conflict: str) -> dict[str, Any]:
    for alert in client.get("/api/v1/alerts", limit=1000)["items"]:
        if alert["conflict"] and alert["conflict"]["id"] == conflict:
            found: dict[str, Any] = alert
            return found
    raise AssertionError(f"no alert for conflict {conflict}")


def test_cancelled_and_superseded_operations_make_their_conflicts_moot(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    with server.client(relief) as r, server.client(alpha) as a:
        hospital = r.submit("site", site(*HOSPITAL))["id"]
        cancelled = a.submit("operation", operation(*HOSPITAL, 500))
        (item,) = conflicts(a)
        assert item["state"] == "open" and item["kind"] == "protected-site"
        assert (item["operation"], item["site"]) == (cancelled["id"], hospital)
        assert alert_view(a, item["id"])["conflict"]["state"] == "open"

        a.submit("operation-status", {"operation": cancelled["id"], "status": "cancelled"})
        assert conflicts(a) == []  # moot conflicts leave the default view
        (moot,) = conflicts(a, state="moot")
        assert moot["id"] == item["id"] and moot["state"] == "moot"
        assert alert_view(a, item["id"])["conflict"]["state"] == "moot"

        old = a.submit("operation", operation(*HOSPITAL, 400))
        (old_conflict,) = conflicts(a)
        amended = a.submit("operation", {**operation(*HOSPITAL, 450), "supersedes": old["id"]})
        (current,) = conflicts(a)
        assert current["operation"] == amended["id"] and current["state"] == "open"
        everything = {c["id"]: c["state"] for c in conflicts(a, state="open,moot")}
        assert everything == {item["id"]: "moot", old_conflict["id"]: "moot", current["id"]: "open"}


def test_acknowledged_for_the_acknowledging_party_only_then_resolved_for_both(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha, bravo, charlie = parties["alpha"], parties["bravo"], parties["charlie"]
    with server.client(alpha) as a, server.client(bravo) as b, server.client(charlie) as c:
        mine = a.submit("operation", operation(38.5, 35.5, 3000))["id"]
        theirs = b.submit("operation", operation(38.5, 35.52, 3000))
        conflict = theirs["conflicts"][0]["id"]
        assert theirs["conflicts"][0]["state"] == "open"
        # each party's own operation is its ``operation``, whoever notified first
        (seen_by_alpha,) = conflicts(a)
        (seen_by_bravo,) = conflicts(b)
        assert (seen_by_alpha["operation"], seen_by_alpha["other_operation"]) == (
            mine,
            theirs["id"],
        )
        assert (seen_by_bravo["operation"], seen_by_bravo["other_operation"]) == (
            theirs["id"],
            mine,
        )

        alert = alert_view(a, conflict)
        a.submit("alert-acknowledgement", {"alert": alert["id"], "conflict": conflict}, ["alpha"])
        assert alert_view(a, conflict)["conflict"]["state"] == "acknowledged"
        assert [x["state"] for x in conflicts(a)] == ["acknowledged"]
        assert [x["state"] for x in conflicts(b)] == ["open"]
        assert conflicts(a, state="open") == []
        assert alert_view(b, conflict)["conflict"]["state"] == "open"

        b.submit("resolution", {"conflict": conflict, "outcome": "amended"}, ["alpha"])
        assert [x["state"] for x in conflicts(a)] == ["resolved"]
        assert [x["state"] for x in conflicts(b)] == ["resolved"]
        assert alert_view(a, conflict)["conflict"]["state"] == "resolved"
        assert conflicts(c, state="open,acknowledged,resolved,moot") == []


def test_sides_are_named_by_role_whichever_arrived_first(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    later = east_of(*HOSPITAL, 20_000)
    with server.client(relief) as r, server.client(alpha) as a:
        # the site first: the operation is the record screened
        first_site = r.submit("site", site(*HOSPITAL))["id"]
        first_op = a.submit("operation", operation(*HOSPITAL, 500))["id"]
        # the operation first: the site is the record screened
        second_op = a.submit("operation", operation(*later, 500))["id"]
        second_site = r.submit("site", site(*later))["id"]
        found = {(x["operation"], x["site"]) for x in conflicts(a)}
        assert found == {(first_op, first_site), (second_op, second_site)}
        for item in conflicts(a):
            assert set(item) >= {"operation", "site", "state", "record", "other"}
            assert "area" not in item and "movement" not in item and "other_operation" not in item


def test_filters_by_kind_severity_and_state_and_refuses_unknown_values(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha, bravo = parties["relief"], parties["alpha"], parties["bravo"]
    with server.client(relief) as r, server.client(alpha) as a, server.client(bravo) as b:
        r.submit("site", site(*HOSPITAL))
        a.submit("operation", operation(*HOSPITAL, 500))
        b.submit("operation", operation(*HOSPITAL, 500))
        assert {x["kind"] for x in conflicts(a)} == {"protected-site", "deconfliction"}
        assert [x["kind"] for x in conflicts(a, kind="deconfliction")] == ["deconfliction"]
        assert [x["severity"] for x in conflicts(a, severity="critical")] == ["critical"]
        assert len(conflicts(a, kind="protected-site,deconfliction", state="open")) == 2
        assert len(conflicts(a, limit=1)) == 1
        for params in ({"state": "closed"}, {"kind": "site"}, {"severity": "dire"}, {"state": ","}):
            refused = a.http.get("/api/v1/conflicts", params=params)
            assert refused.status_code == 400, params
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["field"] == next(iter(params))


def test_withdrawn_or_expired_site_makes_moot_but_a_hidden_side_never_does(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    soon = clock.now() + timedelta(seconds=3)
    window = {"start": clock.iso(clock.now() + timedelta(seconds=1)), "end": at_hours(soon, 1)}
    brief = {"start": "2026-01-01T00:00:00Z", "end": clock.iso(soon)}
    far = east_of(*HOSPITAL, 40_000)
    farther = east_of(*HOSPITAL, 80_000)
    with server.client(relief) as r, server.client(alpha) as a:
        withdrawn = r.submit("site", site(*HOSPITAL))["id"]
        a.submit("operation", operation(*HOSPITAL, 500))
        expiring = r.submit("site", site(*far, valid=brief))["id"]
        a.submit("operation", operation(*far, 500, window=window))
        # a site alpha may not see, whose notifier asked to warn anyone who conflicts
        hidden = r.submit("site", site(*farther, warn_on_conflict=True), ["bravo"])["id"]
        a.submit("operation", operation(*farther, 500))
        by_site = {x.get("site"): x for x in conflicts(a)}
        assert set(by_site) == {withdrawn, expiring, None}
        assert by_site[None]["state"] == "open" and by_site[None]["other"] is None

        r.submit("withdrawal", {"record": withdrawn})
        r.submit("withdrawal", {"record": hidden}, ["bravo"])
        deadline = time.monotonic() + 10
        while clock.now() <= soon and time.monotonic() < deadline:
            time.sleep(0.2)
        states = {x.get("site"): x["state"] for x in conflicts(a, state="open,moot")}
        # the hidden site's fate is its audience's business: alpha's conflict stays open
        assert states == {withdrawn: "moot", expiring: "moot", None: "open"}
        assert [x.get("site") for x in conflicts(a)] == [None]


def at_hours(moment: Any, hours: float) -> str:
    return clock.iso(moment + timedelta(hours=hours))
