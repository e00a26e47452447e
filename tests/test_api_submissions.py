"""Signed submissions over real HTTP, on SQLite and PostgreSQL: what is accepted, what is refused.

Every refusal is checked for its status, its RFC 9457 body and that nothing was stored.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import clock
from parley.client.http import document
from parley.parties import jws

from .conftest import PartyHandle, Server

SITE = {
    "category": "hospital",
    "name": "Test hospital",
    "geometry": {"type": "Point", "coordinates": [37.16, 36.2]},
    "radius_m": 300,
    "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
}


OPERATION = {
    "name": "Patrol",
    "volumes": [
        {
            "footprint": {"type": "Point", "coordinates": [38.0, 35.0]},
            "radius_m": 2000,
            "altitude": {"lower_m": 1000, "upper_m": 3000},
            "time": {
                "start": clock.iso(clock.now() + timedelta(days=1)),
                "end": clock.iso(clock.now() + timedelta(days=1, hours=2)),
            },
        }
    ],
}


def post(
    server: Server,
    party: PartyHandle,
    content: str | bytes,
    content_type: str = "application/jose",
    token: str | None = None,
) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if token is not False:
        headers["Authorization"] = f"Bearer {token or party.token}"
    return httpx.post(f"{server.url}/api/v1/submissions", content=content, headers=headers)


def signed(
    handle: PartyHandle,
    kind: str = "site",
    body: dict[str, Any] | None = None,
    audience: Any = "all",
    key: Ed25519PrivateKey | None = None,
    **changes: Any,
) -> str:
    doc = document(kind, handle.id, body or SITE, audience)
    doc.update(changes)
    return jws.sign(doc, key or handle.key, handle.id)


def stored_count(server: Server, reader: PartyHandle) -> int:
    page = httpx.get(
        f"{server.url}/api/v1/submissions?limit=1000",
        headers={"Authorization": f"Bearer {reader.token}"},
    )
    assert page.status_code == 200
    return len(page.json()["items"])


def assert_problem(response: httpx.Response, status: int, words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["type"].startswith("https://")
    assert words.lower() in body["detail"].lower(), body["detail"]
    return body


def test_accepted_submission_is_stored_exactly_as_signed(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    compact = signed(relief)
    response = post(server, relief, compact)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["sequence"] == 0 and answer["kind"] == "site"
    assert response.headers["location"] == f"/api/v1/submissions/{answer['id']}"

    second = post(server, relief, signed(relief)).json()
    assert second["sequence"] == 1

    record = httpx.get(
        f"{server.url}{response.headers['location']}",
        headers={"Authorization": f"Bearer {parties['alpha'].token}"},
    ).json()
    assert record["jws"] == compact
    assert record["party"] == "relief"
    # Anyone can check the stored bytes against the party's public key, long after.
    header, payload, sig = compact.split(".")
    relief.key.public_key().verify(
        base64.urlsafe_b64decode(sig + "=="), f"{header}.{payload}".encode()
    )
    assert record["document"]["body"] == SITE


def test_json_wrapped_submission_is_accepted(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    response = post(server, relief, json.dumps({"jws": signed(relief)}), "application/json")
    assert response.status_code == 201


def test_batch_accepts_and_refuses_each_on_its_own(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    good = [signed(relief) for _ in range(5)]
    bad = signed(relief, kind="operation")
    with server.client(relief) as client:
        results = client.submit_batch([*good, bad, good[0]])
    assert [r["status"] for r in results] == [201] * 5 + [403, 409]
    assert [r["sequence"] for r in results[:5]] == [0, 1, 2, 3, 4]
    assert stored_count(server, relief) == 5


BAD_INPUTS = [
    "malformed-json",
    "wrong-content-type",
    "missing-token",
    "wrong-token",
    "other-partys-signature",
    "changed-after-signing",
    "stale-time",
    "future-time",
    "missing-audience",
    "empty-audience",
    "unknown-audience-party",
    "unknown-party-in-document",
    "role-may-not-submit-kind",
    "not-canonical",
    "over-the-size-limit",
    "not-a-jws",
]


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_refused_and_nothing_is_stored(
    server: Server, parties: dict[str, PartyHandle], case: str
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    now = clock.now()
    expected: tuple[int, str]
    token: Any = None
    content_type = "application/jose"
    if case == "malformed-json":
        content, content_type = '{"jws": "abc', "application/json"
        expected = (400, "not valid JSON")
    elif case == "wrong-content-type":
        content, content_type = signed(relief), "text/plain"
        expected = (415, "application/json")
    elif case == "missing-token":
        content, token = signed(relief), False
        expected = (401, "bearer token is required")
    elif case == "wrong-token":
        content, token = signed(relief), "pt_not-a-real-token"
        expected = (401, "not valid")
    elif case == "other-partys-signature":
        # relief's token, a document naming relief, but signed with alpha's key
        content = signed(relief, key=alpha.key)
        expected = (422, "does not verify")
    elif case == "changed-after-signing":
        header, payload, sig = signed(relief).split(".")
        doc = json.loads(base64.urlsafe_b64decode(payload + "=="))
        doc["body"]["radius_m"] = 1
        changed = base64.urlsafe_b64encode(jws.canonical(doc)).rstrip(b"=").decode()
        content = f"{header}.{changed}.{sig}"
        expected = (422, "does not verify")
    elif case == "stale-time":
        content = signed(relief, client_time=clock.iso(now - timedelta(minutes=6)))
        expected = (422, "client_time")
    elif case == "future-time":
        content = signed(relief, client_time=clock.iso(now + timedelta(minutes=6)))
        expected = (422, "client_time")
    elif case == "missing-audience":
        content = signed(relief, audience=None)
        expected = (400, "audience is required")
    elif case == "empty-audience":
        content = signed(relief, audience=[])
        expected = (400, "non-empty list")
    elif case == "unknown-audience-party":
        content = signed(relief, audience=["relief", "nobody"])
        expected = (422, "unknown parties: nobody")
    elif case == "unknown-party-in-document":
        content = signed(relief, party="nobody")
        expected = (403, "names party 'nobody'")
    elif case == "role-may-not-submit-kind":
        content = signed(relief, kind="operation")
        expected = (403, "may submit")
    elif case == "not-canonical":
        header, _, _ = signed(relief).split(".")
        doc = document("site", relief.id, SITE)
        loose = base64.urlsafe_b64encode(json.dumps(doc, indent=1).encode()).rstrip(b"=")
        signing_input = f"{header}.{loose.decode()}".encode()
        sig = base64.urlsafe_b64encode(relief.key.sign(signing_input)).rstrip(b"=").decode()
        content = f"{signing_input.decode()}.{sig}"
        expected = (400, "canonical")
    elif case == "over-the-size-limit":
        body = dict(SITE, name="x" * (server.settings.max_body_bytes + 10))
        content = signed(relief, body=body)
        expected = (413, "over the limit")
    elif case == "not-a-jws":
        content = "hello"
        expected = (400, "three dot-separated parts")
    else:  # pragma: no cover - the list above is the contract
        raise AssertionError(case)
    response = post(server, relief, content, content_type, token)
    assert_problem(response, *expected)
    assert stored_count(server, alpha) == 0
    assert server.hub.store.log_size() == 0


def test_replayed_nonce_is_refused(server: Server, parties: dict[str, PartyHandle]) -> None:
    relief = parties["relief"]
    compact = signed(relief)
    assert post(server, relief, compact).status_code == 201
    assert_problem(post(server, relief, compact), 409, "replay")
    assert stored_count(server, relief) == 1


def test_chunked_body_over_the_limit_is_refused(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    limit = server.settings.max_body_bytes

    def chunks() -> Any:
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = httpx.post(
        f"{server.url}/api/v1/submissions",
        content=chunks(),
        headers={"Authorization": f"Bearer {relief.token}", "Content-Type": "application/jose"},
    )
    assert_problem(response, 413, "over the limit")


def test_record_outside_audience_looks_like_no_record(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    alpha, bravo, charlie = parties["alpha"], parties["bravo"], parties["charlie"]
    body = OPERATION
    with server.client(alpha) as client:
        secret = client.submit("operation", body, ["bravo"])
        public = client.submit("operation", body, "all")

    def get(party: PartyHandle, record_id: str) -> httpx.Response:
        return httpx.get(
            f"{server.url}/api/v1/submissions/{record_id}",
            headers={"Authorization": f"Bearer {party.token}"},
        )

    assert get(alpha, secret["id"]).status_code == 200
    assert get(bravo, secret["id"]).json()["audience"] == ["alpha", "bravo"]
    hidden = get(charlie, secret["id"])
    missing = get(charlie, "00000000-0000-4000-8000-000000000000")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(secret["id"], "X") == missing.json()["detail"].replace(
        "00000000-0000-4000-8000-000000000000", "X"
    )
    listed = httpx.get(
        f"{server.url}/api/v1/submissions", headers={"Authorization": f"Bearer {charlie.token}"}
    ).json()
    assert [i["id"] for i in listed["items"]] == [public["id"]]
    assert secret["id"] not in json.dumps(listed)


def test_list_pages_with_a_cursor_and_filters(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief, alpha = parties["relief"], parties["alpha"]
    with server.client(relief) as r, server.client(alpha) as a:
        for _ in range(7):
            r.submit("site", SITE)
        a.submit("operation", OPERATION)
        seen: list[int] = []
        cursor = -1
        while cursor is not None:
            page = a.get("/api/v1/submissions", limit=3, cursor=cursor)
            seen += [i["sequence"] for i in page["items"]]
            cursor = page["next"]
        assert seen == list(range(8))
        assert len(a.get("/api/v1/submissions", kind="operation")["items"]) == 1
        assert len(a.get("/api/v1/submissions", party="relief")["items"]) == 7
        future = clock.iso(clock.now() + timedelta(hours=1))
        assert a.get("/api/v1/submissions", since=future)["items"] == []
        assert len(a.get("/api/v1/submissions", until=future)["items"]) == 8


def test_errors_everywhere_are_problem_documents(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    auth = {"Authorization": f"Bearer {parties['alpha'].token}"}
    assert_problem(httpx.get(f"{server.url}/no/such/path"), 404, "not found")
    assert_problem(httpx.delete(f"{server.url}/api/v1/submissions", headers=auth), 405, "")
    assert_problem(
        httpx.get(f"{server.url}/api/v1/submissions?limit=0", headers=auth), 400, "limit"
    )
    assert_problem(
        httpx.get(f"{server.url}/api/v1/submissions?since=yesterday", headers=auth), 400, "since"
    )
    assert_problem(httpx.get(f"{server.url}/api/v1/parties"), 401, "bearer")


def test_parties_and_health(server: Server, parties: dict[str, PartyHandle]) -> None:
    auth = {"Authorization": f"Bearer {parties['bravo'].token}"}
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    listed = httpx.get(f"{server.url}/api/v1/parties", headers=auth).json()["items"]
    assert {p["id"] for p in listed} == set(parties)
    me = httpx.get(f"{server.url}/api/v1/parties/me", headers=auth).json()
    assert me["role"] == "member" and "token" not in json.dumps(listed)
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/api/v1/submissions" in spec["paths"]
