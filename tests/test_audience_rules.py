"""The one audience rule for records that refer to records, and metadata computed over what the
viewer may see, over real HTTP on both backends (issue 10, "Audiences").

A record that names another record may not be wider than it: a reference wider than its subject
is refused with a 422 naming the audience field, stores nothing, and its words name no party.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from parley.client.http import Client, HubError

from .conftest import PartyHandle, Server
from .test_screening_hub import HOSPITAL, at, east_of, operation, site


def too_wide(server: Server, call: Callable[[], Any], *hidden_words: str) -> dict[str, Any]:
    """``call`` is refused by the audience rule and stores nothing."""
    before = server.hub.store.log_size()
    with pytest.raises(HubError) as refused:
        call()
    body: dict[str, Any] = refused.value.body
    assert refused.value.status == 422, body
    assert body["field"] == "audience", body
    assert "audience must" in body["detail"], body
    assert server.hub.store.log_size() == before
    for word in hidden_words:  # nothing of the subject's audience travels in the refusal
        assert word not in str(body), (word, body)
    return body


def incident_report(lon: float, lat: float, hours: float = 9) -> dict[str, Any]:
    return {
        "category": "strike-reported",
        "description": "Explosion reported.",
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "time": at(hours),
        "casualties": {"killed": 0, "injured": 0},
        "evidence": [hashlib.sha256(b"photo").hexdigest()],
    }


def test_an_acknowledgement_wider_than_its_site_is_refused(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """Issue 10: relief's site for bravo only; bravo acknowledges it to every party."""
    with server.client(parties["relief"]) as r, server.client(parties["bravo"]) as b:
        hidden = r.submit("site", site(*HOSPITAL), ["bravo"])
        body = too_wide(server, lambda: b.submit("acknowledgement", {"record": hidden["id"]}))
        assert body["detail"] == (
            "the acknowledgement's audience must lie within the record's: it may name only "
            "parties that can see the record"
        )
        assert body["refers"] == "body.record"
        too_wide(server, lambda: b.submit("acknowledgement", {"record": hidden["id"]}, ["charlie"]))
        # within: the site's own audience, or part of it
        b.submit("acknowledgement", {"record": hidden["id"]}, ["relief"])
    with server.client(parties["charlie"]) as c:
        assert hidden["id"] not in str(c.get("/api/v1/submissions", limit=1000))


def test_a_review_wider_than_its_incident_is_refused(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """Issue 10: a review for every party of an incident restricted to alpha (and its
    reporter) would carry the incident id and the finding to everyone."""
    with server.client(parties["monitor"]) as m, server.client(parties["alpha"]) as a:
        incident = m.submit("incident", incident_report(*HOSPITAL), ["alpha"])["id"]
        finding = {"incident": incident, "step": "assessment", "finding": "substantiated"}
        too_wide(server, lambda: m.submit("review", finding))
        too_wide(server, lambda: m.submit("review", finding, ["bravo"]))
        ask = {"incident": incident, "step": "request", "to": "alpha", "text": "Yours?"}
        too_wide(server, lambda: m.submit("review", ask))
        request = m.submit("review", ask, ["alpha"])["id"]
        answer = {"incident": incident, "step": "answer", "request": request, "text": "No."}
        too_wide(server, lambda: a.submit("review", answer))
        a.submit("review", answer, ["monitor"])
        m.submit("review", finding, ["alpha"])

        # an answer is also bound by the request it answers
        public = m.submit("incident", incident_report(*east_of(*HOSPITAL, 5000)))["id"]
        narrow = m.submit(
            "review", {"incident": public, "step": "request", "to": "alpha"}, ["alpha"]
        )["id"]
        reply = {"incident": public, "step": "answer", "request": narrow, "text": "No."}
        body = too_wide(server, lambda: a.submit("review", reply))
        assert body["refers"] == "body.request"
        a.submit("review", reply, ["monitor", "alpha"])


def test_participation_shows_an_outsider_nothing_of_a_restricted_submission(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """Issue 10: relief's site for bravo only; charlie reads participation."""
    with (
        server.client(parties["relief"]) as r,
        server.client(parties["charlie"]) as c,
        server.client(parties["bravo"]) as b,
    ):
        hidden = r.submit("site", site(*HOSPITAL), ["bravo"])
        b.submit("acknowledgement", {"record": hidden["id"]}, ["relief"])
        rows = {p["party"]: p for p in c.get("/api/v1/participation")["items"]}
        assert rows["relief"]["last_submitted_at"] is None
        assert rows["relief"]["silent_for_s"] is None
        assert rows["bravo"]["last_submitted_at"] is None
        assert hidden["received_at"] not in str(rows)
        # the audience sees it
        seen = {p["party"]: p for p in b.get("/api/v1/participation")["items"]}
        assert seen["relief"]["last_submitted_at"] == hidden["received_at"]
        # a public record is seen by all
        shown = r.submit("site", site(*east_of(*HOSPITAL, 3000)))
        rows = {p["party"]: p for p in c.get("/api/v1/participation")["items"]}
        assert rows["relief"]["last_submitted_at"] == shown["received_at"]


def test_unacknowledged_counts_only_acknowledgements_the_viewer_may_see(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """bravo acknowledges a public site to relief only: charlie must not see bravo's count
    drop, which would reveal the restricted acknowledgement."""
    with (
        server.client(parties["relief"]) as r,
        server.client(parties["bravo"]) as b,
        server.client(parties["charlie"]) as c,
    ):
        shared = r.submit("site", site(*HOSPITAL))
        b.submit("acknowledgement", {"record": shared["id"]}, ["relief"])
        rows = {p["party"]: p for p in c.get("/api/v1/participation")["items"]}
        assert rows["bravo"]["unacknowledged_sites"] == 1
        own = {p["party"]: p for p in r.get("/api/v1/participation")["items"]}
        assert own["bravo"]["unacknowledged_sites"] == 0
        assert b.get("/api/v1/sites/unacknowledged")["items"] == []


def test_incident_answers_reveal_no_hidden_operations(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """Issue 10: a notifier reporting incidents restricted to itself must not be able to map
    operations it cannot see: the answer near a hidden operation is the answer far from it."""
    with server.client(parties["alpha"]) as a, server.client(parties["relief"]) as r:
        hidden = a.submit("operation", operation(*HOSPITAL, 1000), ["bravo"])["id"]
        near = r.submit("incident", incident_report(*east_of(*HOSPITAL, 500)), ["relief"])
        far = r.submit("incident", incident_report(*east_of(*HOSPITAL, 80_000)), ["relief"])
        assert near["related"] == far["related"] == {"operations": []}
        assert hidden not in str(near)
        # alpha sees its own operation named, and bravo (in its audience) too
        mine = a.submit("incident", incident_report(*east_of(*HOSPITAL, 500)), ["bravo"])
        assert [o["operation"] for o in mine["related"]["operations"]] == [hidden]


def _alpha_operation(a: Client, audience: list[str]) -> str:
    found: str = a.submit("operation", operation(38.0, 35.0, 1000), audience)["id"]
    return found


def test_every_referring_kind_keeps_within_its_subject(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """Withdrawals, statuses, amendments, keys, resolutions and votes, each wider than its
    subject (refused) and within it (accepted)."""
    with (
        server.client(parties["relief"]) as r,
        server.client(parties["alpha"]) as a,
        server.client(parties["bravo"]) as b,
    ):
        # withdrawal: exactly the record's audience
        shared = r.submit("site", site(*HOSPITAL), ["bravo", "alpha"])["id"]
        too_wide(server, lambda: r.submit("withdrawal", {"record": shared}))
        body = too_wide(server, lambda: r.submit("withdrawal", {"record": shared}, ["bravo"]))
        assert "must be the record's" in body["detail"]
        r.submit("withdrawal", {"record": shared}, ["alpha", "bravo"])

        # operation status and amendment: exactly the operation's audience
        op = _alpha_operation(a, ["bravo"])
        status = {"operation": op, "status": "active"}
        too_wide(server, lambda: a.submit("operation-status", status))
        too_wide(server, lambda: a.submit("operation-status", status, ["alpha"]))
        a.submit("operation-status", status, ["bravo"])
        amended = {**operation(38.0, 35.0, 800), "supersedes": op}
        body = too_wide(server, lambda: a.submit("operation", amended))
        assert body["refers"] == "body.supersedes"
        a.submit("operation", amended, ["bravo"])

        # a stale-picture key names records: each must admit the operation's audience
        secret = r.submit("site", site(*east_of(*HOSPITAL, 40_000)), ["alpha"])["id"]
        keyed = {**operation(*east_of(*HOSPITAL, 40_000), 500), "key": [secret]}
        body = too_wide(server, lambda: a.submit("operation", keyed))
        assert body["refers"] == "body.key[0]"
        a.submit("operation", keyed, ["relief"])

        # resolution: a conflict's audience is the parties it alerted
        a.submit("operation", operation(38.5, 35.5, 3000), ["bravo"])
        conflict = b.submit("operation", operation(38.5, 35.5, 3000), ["alpha"])["conflicts"][0]
        resolve = {"conflict": conflict["id"], "outcome": "accepted-after-coordination"}
        body = too_wide(server, lambda: b.submit("resolution", resolve), "charlie")
        assert "within the conflict's" in body["detail"]
        too_wide(server, lambda: b.submit("resolution", resolve, ["charlie"]))
        b.submit("resolution", resolve, ["alpha"])


def test_votes_on_a_map_for_every_party_stay_for_every_party(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    area = {
        "id": "north",
        "name": "North",
        "rule": "no-operations",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[36.0, 36.0], [36.1, 36.0], [36.1, 36.1], [36.0, 36.1], [36.0, 36.0]]],
        },
    }
    proposal = {
        "map": "main",
        "version": 1,
        "areas": [area],
        "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
    }
    vote = {"map": "main", "version": 1, "vote": "accept"}
    with server.client(parties["alpha"]) as a, server.client(parties["bravo"]) as b:
        a.submit("area-map", proposal)
        with pytest.raises(HubError) as refused:
            b.submit("area-vote", vote, ["alpha"])
        assert refused.value.status == 400 and refused.value.body["field"] == "audience"
        b.submit("area-vote", vote)


def test_a_stix_object_may_name_only_objects_its_whole_audience_can_see(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    """A relationship for every party whose source is an indicator alpha shares with bravo only
    would publish the hidden indicator's id: refused, before and after TAXII has indexed it."""
    import httpx

    from .test_taxii import indicator

    hidden = indicator(7)
    relationship = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--6f1f6f66-4e4a-4d6e-9a55-0c1b6c1d2f01",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "relationship_type": "related-to",
        "source_ref": hidden["id"],
        "target_ref": "threat-actor--0e7e1c57-2b1a-4a4c-9f0e-5b9f3f1f5a11",
    }
    alpha = parties["alpha"]
    with server.client(alpha) as a:
        a.submit("intelligence", hidden, ["bravo"])
        body = too_wide(server, lambda: a.submit("intelligence", relationship), "bravo")
        assert body["refers"] == "body.source_ref"
        # once TAXII has indexed the indicator, the index finds it
        # The first TAXII read waits for the STIX validator, loaded in the background at start.
        listed = httpx.get(
            f"{server.url}/taxii2/parley/collections/",
            timeout=60,
            headers={
                "Authorization": f"Bearer {alpha.token}",
                "Accept": "application/taxii+json;version=2.1",
            },
        )
        assert listed.status_code == 200
        report = {**relationship, "type": "report", "object_refs": [hidden["id"]]}
        body = too_wide(server, lambda: a.submit("intelligence", report, ["charlie"]))
        assert body["refers"] == "body.object_refs[0]"
        a.submit("intelligence", relationship, ["bravo"])


def test_every_object_of_an_envelope_naming_a_hidden_identity_is_refused(
    server: Server, parties: dict[str, PartyHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TAXII envelope's objects usually all name the same author (``created_by_ref``). The
    rule holds for each of them, and the store is asked about that id once an envelope, not
    once an object: asking took about 2 ms, so an envelope of 100 spent 0.4 s on it."""
    from .test_taxii import collection, indicator, pair_id

    alpha = parties["alpha"]
    author = {
        "type": "identity",
        "spec_version": "2.1",
        "id": "identity--2f6c8e36-7f63-4b4e-9d0e-6a8f5b1c3d21",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "Alpha's analysts",
        "identity_class": "group",
    }
    with server.client(alpha) as a:
        a.submit("intelligence", author, ["bravo"])
    store = server.hub.store
    original = store.intelligence_audiences
    asked: list[str] = []

    def counted(stix_id: str, viewer: str) -> list[frozenset[str] | None]:
        asked.append(stix_id)
        return original(stix_id, viewer)

    monkeypatch.setattr(store, "intelligence_audiences", counted)
    naming = [dict(indicator(40 + i), created_by_ref=author["id"]) for i in range(5)]
    unrelated = indicator(50)
    before = store.log_size()
    status = collection(server, alpha).add_objects({"objects": [*naming, unrelated]})
    assert (status.success_count, status.failure_count) == (1, 5)
    assert status.successes[0]["id"] == unrelated["id"]
    for failure in status.failures:
        assert "audience must" in failure["message"] and "bravo" not in failure["message"]
    assert sorted(f["id"] for f in status.failures) == sorted(o["id"] for o in naming)
    assert store.log_size() == before + 1
    assert asked == [author["id"]]

    # Shared with bravo, as the author is: every one of them is taken.
    asked.clear()
    shared = collection(server, alpha, pair_id("alpha", "bravo")).add_objects({"objects": naming})
    assert (shared.success_count, shared.failure_count) == (5, 0)
    assert asked == [author["id"]]
