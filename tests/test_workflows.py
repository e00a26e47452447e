"""Notification workflows over real HTTP on both backends: an operation's life, amendments,
the planning horizon, acknowledgements of receipt, and participation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from parley import clock
from parley.client.http import Client, HubError

from .conftest import PartyHandle, Server
from .test_screening_hub import HOSPITAL, at, east_of, operation, site


def refused(call: Any, status: int, words: str) -> dict[str, Any]:
    with pytest.raises(HubError) as caught:
        call()
    assert caught.value.status == status, caught.value.body
    assert words in caught.value.body["detail"], caught.value.body
    body: dict[str, Any] = caught.value.body
    return body


def status(client: Client, op: str, new: str, audience: str | list[str] = "all") -> dict[str, Any]:
    return client.submit("operation-status", {"operation": op, "status": new}, audience)


def test_operation_lifecycle_and_invalid_transitions(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha, bravo, charlie = parties["alpha"], parties["bravo"], parties["charlie"]
    with server.client(alpha) as a, server.client(bravo) as b, server.client(charlie) as c:
        ab = ["alpha", "bravo"]  # a status is told to exactly the operation's audience
        op = a.submit("operation", operation(38.0, 35.0, 1000), ab)["id"]
        before = server.hub.store.log_size()
        refused(
            lambda: status(a, op, "completed", ab), 409, "is planned; it cannot become completed"
        )
        refused(lambda: status(a, op, "approved", ab), 400, "status must be one of")
        refused(lambda: status(b, op, "cancelled"), 403, "belongs to alpha")
        refused(lambda: status(c, op, "cancelled"), 404, "no operation")  # outside audience
        assert server.hub.store.log_size() == before  # nothing stored by any refusal
        status(a, op, "active", ab)
        status(a, op, "completed", ab)
        refused(lambda: status(a, op, "active", ab), 409, "is completed")
        refused(lambda: status(a, op, "cancelled", ab), 409, "is completed")


def test_amendment_is_screened_again_and_the_old_version_leaves_force(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha, bravo = parties["relief"], parties["alpha"], parties["bravo"]
    with server.client(relief) as r, server.client(alpha) as a, server.client(bravo) as b:
        hospital = r.submit("site", site(*HOSPITAL))
        away = east_of(*HOSPITAL, 20_000)
        first = a.submit("operation", operation(*away, 1000))
        assert first["conflicts"] == []
        amended = a.submit("operation", {**operation(*HOSPITAL, 1000), "supersedes": first["id"]})
        assert [x["other"] for x in amended["conflicts"]] == [hospital["id"]]
        # bravo flies where the first version was: it is no longer in force
        assert b.submit("operation", operation(*away, 1000))["conflicts"] == []
        refused(
            lambda: a.submit("operation", {**operation(*away, 500), "supersedes": first["id"]}),
            409,
            "superseded",
        )
        status(a, amended["id"], "cancelled")
        # a cancelled operation no longer conflicts: bravo meets only the hospital
        over = b.submit("operation", operation(*HOSPITAL, 800, {"start": at(8), "end": at(9)}))
        assert [x["kind"] for x in over["conflicts"]] == ["protected-site"]


def test_planning_horizon_and_no_backdating(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha = parties["alpha"]
    far = clock.now() + timedelta(days=40)
    past = clock.now() - timedelta(hours=3)
    with server.client(alpha) as a:
        refused(
            lambda: a.submit(
                "operation",
                operation(
                    38.0,
                    35.0,
                    100,
                    {"start": clock.iso(far), "end": clock.iso(far + timedelta(hours=1))},
                ),
            ),
            422,
            "planning horizon",
        )
        refused(
            lambda: a.submit(
                "operation",
                operation(
                    38.0,
                    35.0,
                    100,
                    {"start": clock.iso(past), "end": clock.iso(past + timedelta(hours=1))},
                ),
            ),
            422,
            "ended in the past",
        )
    assert server.hub.store.log_size() == 0


def test_acknowledgement_is_a_receipt_per_member(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha, bravo = parties["relief"], parties["alpha"], parties["bravo"]
    with server.client(relief) as r, server.client(alpha) as a, server.client(bravo) as b:
        shared = r.submit("site", site(*HOSPITAL))
        secret = r.submit("site", site(40.0, 35.0), ["relief", "bravo"])
        assert [s["id"] for s in a.get("/api/v1/sites/unacknowledged")["items"]] == [shared["id"]]
        assert {s["id"] for s in b.get("/api/v1/sites/unacknowledged")["items"]} == {
            shared["id"],
            secret["id"],
        }
        a.submit("acknowledgement", {"record": shared["id"]})
        assert a.get("/api/v1/sites/unacknowledged")["items"] == []
        refused(
            lambda: a.submit("acknowledgement", {"record": shared["id"]}),
            409,
            "already acknowledged",
        )
        # acknowledging a record one cannot see is the same as acknowledging nothing
        before = server.hub.store.log_size()
        hidden = refused(
            lambda: a.submit("acknowledgement", {"record": secret["id"]}),
            404,
            "no site or movement",
        )
        missing = refused(
            lambda: a.submit("acknowledgement", {"record": "nope"}), 404, "no site or movement"
        )
        assert hidden["title"] == missing["title"]
        assert server.hub.store.log_size() == before
        refused(lambda: r.submit("acknowledgement", {"record": shared["id"]}), 403, "may submit")
        rows = {p["party"]: p for p in a.get("/api/v1/participation")["items"]}
        assert rows["alpha"]["unacknowledged_sites"] == 0
        # bravo has not acknowledged the shared site; alpha is not told about the secret one
        assert rows["bravo"]["unacknowledged_sites"] == 1
        assert rows["relief"]["unacknowledged_sites"] is None
        assert rows["relief"]["silent_for_s"] is not None
        assert rows["monitor"]["last_submitted_at"] is None
