"""Sites, movements, withdrawals, incidents and reviews over real HTTP on both backends."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import clock
from parley.client.http import Client
from parley.hub import setup

from .conftest import PartyHandle, Server
from .test_screening_hub import HOSPITAL, at, east_of, operation, site
from .test_workflows import refused


def movement(hours_ahead: float, emergency: bool = False, length_h: float = 4) -> dict[str, Any]:
    start = clock.now() + timedelta(hours=hours_ahead)
    body: dict[str, Any] = {
        "name": "Convoy",
        "route": {"type": "LineString", "coordinates": [[36.7, 34.7], [37.1, 35.1]]},
        "corridor_m": 500,
        "time": {"start": clock.iso(start), "end": clock.iso(start + timedelta(hours=length_h))},
    }
    if emergency:
        body["emergency"] = True
    return body


def alerts(client: Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/api/v1/alerts")["items"]
    return found


def test_site_category_and_possible_duplicates(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    with server.client(relief) as r:
        refused(
            lambda: r.submit("site", {**site(*HOSPITAL), "category": "barracks"}),
            400,
            "category must be one of",
        )
        first = r.submit("site", site(*HOSPITAL))
        assert first["flags"] == []
        close = r.submit("site", site(*east_of(*HOSPITAL, 60)))
        assert close["flags"] == [f"possible duplicate of {first['id']}: a hospital within 100 m"]
        school = r.submit("site", {**site(*east_of(*HOSPITAL, 60)), "category": "school"})
        assert school["flags"] == []
        far = r.submit("site", site(*east_of(*HOSPITAL, 250)))  # 190 m from the closest
        assert far["flags"] == []


def test_the_duplicate_probe_does_not_refuse_a_site_it_would_not_fit(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """A 1 m site just short of the 85th parallel is valid. The probe for neighbours within
    100 m reaches past it, and used to be parsed as a site of its own and refused."""
    with server.client(parties["relief"]) as r:
        polar = site(20.0, 84.9995, 1)
        assert r.submit("site", polar)["flags"] == []
        near = site(*east_of(20.0, 84.9995, 50), 1)
        assert r.submit("site", near)["flags"][0].startswith("possible duplicate of ")


def test_movements_are_flagged_late_never_refused_but_not_in_the_past(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    with server.client(relief) as r:
        assert r.submit("movement", movement(72))["flags"] == []
        late = r.submit("movement", movement(6))
        assert len(late["flags"]) == 1 and late["flags"][0].startswith("late: notified 6.0 h")
        assert r.submit("movement", movement(30, emergency=True))["flags"] == []
        refused(lambda: r.submit("movement", movement(-10)), 422, "ended in the past")


def test_withdrawal_tells_every_member_and_leaves_force(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha, bravo = parties["relief"], parties["alpha"], parties["bravo"]
    key = Ed25519PrivateKey.generate()
    token = setup.add_party(server.settings, "other-ngo", "Other NGO", "notifier", key.public_key())
    with (
        server.client(relief) as r,
        server.client(alpha) as a,
        server.client(bravo) as b,
        Client(server.url, "other-ngo", token, key) as o,
    ):
        hospital = r.submit("site", site(*HOSPITAL))
        refused(
            lambda: o.submit("withdrawal", {"record": hospital["id"]}), 403, "only the notifier"
        )
        refused(lambda: b.submit("withdrawal", {"record": hospital["id"]}), 403, "may submit")
        r.submit("withdrawal", {"record": hospital["id"], "reason": "closed"})
        refused(
            lambda: r.submit("withdrawal", {"record": hospital["id"]}), 409, "already withdrawn"
        )
        for member in (a, b):
            (told,) = alerts(member)
            assert told["kind"] == "withdrawal" and told["record"] == hospital["id"]
        assert alerts(r) == []
        assert a.submit("operation", operation(*HOSPITAL, 500))["conflicts"] == []


def test_incident_is_correlated_with_nearby_operations_and_reviewed_jointly(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha, bravo, monitor = parties["alpha"], parties["bravo"], parties["monitor"]
    with server.client(alpha) as a, server.client(bravo) as b, server.client(monitor) as m:
        near = a.submit("operation", operation(*HOSPITAL, 1000))
        secret = b.submit(
            "operation",
            operation(*east_of(*HOSPITAL, 3000), 1000, {"start": at(12), "end": at(13)}),
            ["bravo", "alpha"],
        )
        far = a.submit("operation", operation(*east_of(*HOSPITAL, 50_000), 1000))
        digest = hashlib.sha256(b"photo").hexdigest()
        report = {
            "category": "strike-reported",
            "description": "Explosion near the hospital.",
            "location": {"type": "Point", "coordinates": list(east_of(*HOSPITAL, 2000))},
            "time": at(10.5),
            "casualties": {"killed": 0, "injured": 2},
            "evidence": [digest],
        }
        refused(
            lambda: m.submit("incident", {**report, "evidence": ["not-a-digest"]}), 400, "SHA-256"
        )
        incident = m.submit("incident", report, ["monitor", "alpha"])
        related = incident["related"]
        assert [o["operation"] for o in related["operations"]] == [near["id"]]
        # bravo's, outside monitor's view, is neither named nor counted (docs/workflows.md)
        assert "operations_you_cannot_see" not in related
        assert far["id"] not in str(related) and secret["id"] not in str(related)
        (told,) = [x for x in alerts(a) if x["kind"] == "incident-correlation"]
        assert told["record"] == incident["id"]
        assert [x for x in alerts(b) if x["kind"] == "incident-correlation"] == []

        request = m.submit(
            "review",
            {
                "incident": incident["id"],
                "step": "request",
                "to": "alpha",
                "text": "Were you flying here?",
            },
            ["monitor", "alpha"],
        )
        refused(
            lambda: b.submit(
                "review",
                {
                    "incident": incident["id"],
                    "step": "answer",
                    "request": request["id"],
                    "text": "no",
                },
            ),
            404,
            "no incident",
        )  # bravo is outside the incident's audience
        refused(
            lambda: a.submit(
                "review",
                {"incident": incident["id"], "step": "assessment", "finding": "inconclusive"},
            ),
            403,
            "only observers",
        )
        a.submit(
            "review",
            {
                "incident": incident["id"],
                "step": "answer",
                "request": request["id"],
                "text": "Yes, a patrol at 3 km.",
            },
            ["monitor", "alpha"],
        )
        refused(
            lambda: m.submit(
                "review", {"incident": incident["id"], "step": "assessment", "finding": "maybe"}
            ),
            400,
            "finding must be",
        )
        m.submit(
            "review",
            {"incident": incident["id"], "step": "assessment", "finding": "inconclusive"},
            ["monitor", "alpha"],
        )


def test_resolution_of_a_conflict_is_a_signed_submission_by_its_party(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha, bravo, charlie = parties["alpha"], parties["bravo"], parties["charlie"]
    with server.client(alpha) as a, server.client(bravo) as b, server.client(charlie) as c:
        a.submit("operation", operation(38.5, 35.5, 3000))
        conflict = b.submit("operation", operation(38.5, 35.5, 3000))["conflicts"][0]["id"]
        resolved = a.submit(
            "resolution",
            {
                "conflict": conflict,
                "outcome": "accepted-after-coordination",
                "comment": "separated by altitude by phone",
            },
            ["alpha", "bravo"],  # the parties the conflict alerted: its audience
        )
        assert resolved["kind"] == "resolution"
        refused(
            lambda: c.submit("resolution", {"conflict": conflict, "outcome": "amended"}),
            404,
            "no conflict",
        )
        refused(
            lambda: b.submit("resolution", {"conflict": conflict, "outcome": "ignored"}),
            400,
            "outcome must be",
        )


def test_reminders_and_expiry_are_raised_once_per_party(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    from datetime import timedelta as td

    from parley.hub.housekeeping import expire, remind

    relief, alpha, bravo = parties["relief"], parties["alpha"], parties["bravo"]
    soon = clock.now() + td(seconds=1)
    with server.client(relief) as r, server.client(alpha) as a, server.client(bravo) as b:
        lasting = r.submit("site", site(*HOSPITAL))
        brief = r.submit(
            "site",
            {
                **site(40.0, 35.0),
                "valid": {"start": clock.iso(clock.now() - td(days=1)), "end": clock.iso(soon)},
            },
        )
        a.submit("acknowledgement", {"record": lasting["id"]})
        assert remind(server.hub, td(0)) == 5  # alpha owes 1 receipt, bravo and charlie 2
        assert remind(server.hub, td(0)) == 0  # once only
        reminded = [x for x in alerts(b) if x["kind"] == "reminder"]
        assert sorted(x["record"] for x in reminded) == sorted([lasting["id"], brief["id"]])
        assert "not acknowledged receiving" in reminded[0]["message"]
        assert expire(server.hub, soon - td(seconds=2)) == 0
        assert expire(server.hub, soon + td(seconds=1)) == 3  # every member is told
        assert expire(server.hub, soon + td(seconds=1)) == 0
        assert [x["record"] for x in alerts(a) if x["kind"] == "expired"] == [brief["id"]]
        assert [x for x in alerts(r) if x["kind"] in ("expired", "reminder")] == []
