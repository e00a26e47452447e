"""Signed alert acknowledgements (issue 18, item 1), over real HTTP on both backends: logged and
receipted like any other record, made only by the party the alert was sent to, once, for an
audience no wider than the conflict's; the unsigned call is gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.client.http import Client, HubError

from .conftest import ParleyAs, PartyHandle, Server
from .test_screening_hub import HOSPITAL, operation, site

KIND = "alert-acknowledgement"


def only_alert(client: Client) -> dict[str, Any]:
    (alert,) = client.get("/api/v1/alerts")["items"]
    return alert


def refused(client: Client, body: dict[str, Any], audience: Any) -> dict[str, Any]:
    with pytest.raises(HubError) as caught:
        client.submit(KIND, body, audience)
    return caught.value.problem()


def test_the_cli_signs_an_acknowledgement_that_is_logged_and_receipted(
    server: Server,
    parties: dict[str, PartyHandle],
    parley_as: ParleyAs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    with server.client(relief) as r, server.client(alpha) as a:
        r.submit("site", site(*HOSPITAL))
        a.submit("operation", operation(*HOSPITAL, 500))
        alert = only_alert(a)
        assert alert["conflict"]["state"] == "open"
        # the unsigned call is gone
        gone = a.http.post(f"/api/v1/alerts/{alert['id']}/ack")
        assert gone.status_code in (404, 405) and only_alert(a)["acknowledged_at"] is None

    ran = parley_as(alpha, "alerts", "ack", alert["id"], "--json")
    assert ran.code == 0, ran.err
    (answer,) = json.loads(ran.out)
    assert answer["kind"] == KIND
    receipt = tmp_path / "receipt.json"
    assert parley_as(alpha, "receipt", answer["id"], "--out", str(receipt)).code == 0
    monkeypatch.setenv("PARLEY_LOG_KEY", httpx.get(f"{server.url}/log/verifier-key").text.strip())
    proven = parley_as(alpha, "verify", "receipt", str(receipt), "--json")
    assert proven.code == 0, proven.err
    assert json.loads(proven.out)["kind"] == KIND

    with server.client(alpha) as a, server.client(relief) as r:
        record = a.get(f"/api/v1/submissions/{answer['id']}")
        assert record["audience"] == ["alpha"]  # the acknowledging party alone, by default
        assert record["document"]["body"] == {
            "alert": alert["id"],
            "conflict": alert["conflict"]["id"],
        }
        acked = only_alert(a)
        # the alert's time is the logged record's
        assert acked["acknowledged_at"] == answer["received_at"]
        assert acked["conflict"]["state"] == "acknowledged"
        assert r.http.get(f"/api/v1/submissions/{answer['id']}").status_code == 404
    again = parley_as(alpha, "alerts", "ack", alert["id"])
    assert again.code == 1 and "already acknowledged" in again.err


def test_only_the_alerted_party_acknowledges_once_within_the_conflicts_audience(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha, bravo, charlie = parties["alpha"], parties["bravo"], parties["charlie"]
    with server.client(alpha) as a, server.client(bravo) as b, server.client(charlie) as c:
        a.submit("operation", operation(38.5, 35.5, 3000))
        b.submit("operation", operation(38.5, 35.52, 3000))
        alert = only_alert(a)
        body = {"alert": alert["id"], "conflict": alert["conflict"]["id"]}

        # another party: the answer a missing alert gets, naming nothing of the real one
        missing = refused(c, {"alert": "0" * 36, "conflict": body["conflict"]}, ["charlie"])
        for other in (b, c):
            problem = refused(other, body, [other.party])
            assert problem["status"] == 404
            assert problem["detail"] == missing["detail"].replace("0" * 36, alert["id"])
            assert body["conflict"] not in json.dumps(problem)

        # the alert and the conflict must match; the alert's conflict is named
        wrong = refused(a, {**body, "conflict": "f" * 36}, ["alpha"])
        assert wrong["status"] == 422 and wrong["field"] == "body.conflict"
        assert refused(a, {"alert": alert["id"]}, ["alpha"])["status"] == 422
        # no wider than the conflict (the parties it alerted)
        for audience in ("all", ["alpha", "charlie"]):
            wide = refused(a, body, audience)
            assert wide["status"] == 422 and wide["field"] == "audience"
        assert only_alert(a)["acknowledged_at"] is None  # nothing of that was stored

        done = a.submit(KIND, body, ["alpha", "bravo"])  # the conflict's whole audience
        assert b.get(f"/api/v1/submissions/{done['id']}")["audience"] == ["alpha", "bravo"]
        assert c.http.get(f"/api/v1/submissions/{done['id']}").status_code == 404
        twice = refused(a, body, ["alpha"])
        assert twice["status"] == 409 and "already acknowledged" in twice["detail"]
        # bravo's own alert about the same conflict is bravo's to acknowledge, still open
        theirs = only_alert(b)
        assert theirs["acknowledged_at"] is None and theirs["conflict"]["state"] == "open"
        b.submit(KIND, {"alert": theirs["id"], "conflict": body["conflict"]}, ["bravo"])
        assert only_alert(b)["conflict"]["state"] == "acknowledged"


def test_an_alert_about_a_record_is_acknowledged_without_a_conflict(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    with server.client(relief) as r, server.client(alpha) as a:
        notified = r.submit("site", site(*HOSPITAL), ["alpha"])
        r.submit("withdrawal", {"record": notified["id"]}, ["alpha"])
        alert = only_alert(a)
        assert alert["kind"] == "withdrawal" and alert["conflict"] is None
        problem = refused(a, {"alert": alert["id"], "conflict": "f" * 36}, ["alpha"])
        assert problem["status"] == 422 and problem["field"] == "body.conflict"
        # told to alpha alone, so is its acknowledgement
        assert refused(a, {"alert": alert["id"]}, ["alpha", "relief"])["status"] == 422
        done = a.submit(KIND, {"alert": alert["id"]}, ["alpha"])
        assert only_alert(a)["acknowledged_at"] == done["received_at"]
