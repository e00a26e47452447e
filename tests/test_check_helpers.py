"""Signed submissions checked in a helper process (hub/checkers.py, issue 17) are answered as the
serving thread alone answers them: the same verdicts with the same texts in the same places,
and records whose log entries commit to what was sent. A helper that dies costs time, never a
submission.

Real helper processes (``spawn``ed, as ``parley serve`` starts them), a real hub served by
uvicorn on a loopback socket, httpx. Needs two cores: with one, no helper is started.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import clock
from parley.client.http import document
from parley.config import Settings
from parley.hub import setup
from parley.hub.admission import log_entry
from parley.parties import jws

from .conftest import PartyHandle, Server

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no helper starts")


def _site(lon: float, name: str, radius: float = 300) -> dict[str, Any]:
    return {
        "category": "hospital",
        "name": name,
        "geometry": {"type": "Point", "coordinates": [lon, 35.0]},
        "radius_m": radius,
        "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
    }


def _mix(relief: PartyHandle, alpha: PartyHandle, lon: float) -> list[str]:
    """Valid sites with every kind of refusal between them; ``lon`` keeps each call's sites
    kilometres from the other's, so no site is flagged as a duplicate of the other call's."""

    def signed(body: dict[str, Any], **changes: Any) -> str:
        return jws.sign({**document("site", relief.id, body), **changes}, relief.key, relief.id)

    valid = signed(_site(lon, "Al-Shifa"))
    skewed = clock.iso(clock.now() - timedelta(hours=3))
    return [
        valid,
        jws.sign(document("site", relief.id, _site(lon + 0.01, "B")), alpha.key, relief.id),
        jws.sign(document("site", alpha.id, _site(lon + 0.02, "C")), relief.key, relief.id),
        signed(_site(lon + 0.03, "D"), audience=["alpha", "zulu"]),
        signed(_site(lon + 0.04, "E", radius=-5)),
        signed(_site(lon + 0.05, "F"), client_time=skewed),
        valid,  # a replay: refused by the store, in the transaction
        "not.a.jws",
        signed(_site(lon + 0.06, "G"), audience=["alpha"]),
        jws.sign(document("operation", relief.id, {}), relief.key, relief.id),
        signed(_site(lon + 0.07, "H")),
    ]


def _post(server: Server, party: PartyHandle, compacts: list[str]) -> list[dict[str, Any]]:
    answer = httpx.post(
        f"{server.url}/api/v1/submissions/batch",
        json={"submissions": compacts},
        headers={"Authorization": f"Bearer {party.token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def _verdict(result: dict[str, Any]) -> tuple[Any, ...]:
    return (result["status"], result.get("detail"), result.get("field"), result.get("flags"))


def _await_helper(server: Server) -> None:
    server.hub.use_check_helpers()
    checkers = server.hub.checkers
    assert checkers is not None, "a machine with two cores gives one serving process a helper"
    deadline = time.monotonic() + 60
    while not checkers.ready():
        assert time.monotonic() < deadline, "the checking helper did not start"
        time.sleep(0.05)


def test_a_helper_answers_as_the_serving_thread_does(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    _await_helper(server)
    checkers = server.hub.checkers
    assert checkers is not None
    sent = _mix(relief, alpha, 36.0)
    helped = _post(server, relief, sent)
    assert checkers.answered >= len(sent), "the helper checked the batch"
    server.hub.checkers = None  # the serving thread alone, on the same hub
    try:
        alone = _post(server, relief, _mix(relief, alpha, 36.5))
    finally:
        server.hub.checkers = checkers

    assert [_verdict(r) for r in helped] == [_verdict(r) for r in alone]
    assert [r["status"] for r in helped] == [201, 422, 403, 422, 400, 422, 409, 400, 201, 403, 201]
    # The serving thread wrote the one refusal that reads the key history from the database.
    assert "signature" in helped[1]["detail"]
    for compact, result in zip(sent, helped, strict=True):
        if result["status"] != 201:
            continue
        stored = server.hub.store.get_submission(result["id"], relief.id)
        assert stored is not None and stored.jws == compact
        assert stored.log_index == result["sequence"]
        (entry,) = server.hub.store.entries(stored.log_index, stored.log_index + 1)
        expected = log_entry(
            stored.id, stored.kind, relief.id, stored.received_at, stored.jws, stored.salt
        )
        assert entry == expected


def test_a_party_registered_after_the_helper_started_is_seen(
    server: Server, settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    _await_helper(server)
    setup.add_party(settings, "delta", "Delta", "member", Ed25519PrivateKey.generate().public_key())
    compact = jws.sign(
        document("site", relief.id, _site(37.0, "New"), ["delta"]), relief.key, relief.id
    )
    (result,) = _post(server, relief, [compact])
    assert result["status"] == 201, result
    stored = server.hub.store.get_submission(result["id"], "delta")
    assert stored is not None and not stored.audience_all


def test_a_killed_helper_costs_no_submission_and_is_replaced(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    _await_helper(server)
    checkers = server.hub.checkers
    assert checkers is not None
    before = {h.process.pid for h in checkers._all}
    for pid in before:
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    sent = [
        jws.sign(document("site", relief.id, _site(38.0 + i / 100, f"S{i}")), relief.key, relief.id)
        for i in range(20)
    ]
    results = _post(server, relief, sent)
    assert [r["status"] for r in results] == [201] * 20
    listed = {server.hub.store.get_submission(r["id"], relief.id) is not None for r in results}
    assert listed == {True}
    deadline = time.monotonic() + 60
    while not checkers.ready():
        assert time.monotonic() < deadline, "no helper replaced the killed one"
        time.sleep(0.05)
    assert {h.process.pid for h in checkers._all}.isdisjoint(before)
    answered = checkers.answered
    last = jws.sign(document("site", relief.id, _site(39.0, "T")), relief.key, relief.id)
    (again,) = _post(server, relief, [last])
    assert again["status"] == 201 and checkers.answered == answered + 1
