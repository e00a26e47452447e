"""Bad input at the edge (issue 10): every reproduction that reached a 500 is now a 4xx problem.

Over real sockets on both backends: each request is checked for a 4xx RFC 9457 body whose
detail names the input and quotes no library, and for the log size being unchanged. Then the
parser and the time reader on their own, and a record damaged in the database while the hub runs.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from parley import clock
from parley.client.http import document
from parley.errors import InvalidJSON, ParleyError
from parley.formats import strict_json
from parley.parties import jws
from parley.parties.keys import b64url

from .conftest import PartyHandle, Server

SITE = {
    "category": "hospital",
    "name": "Edge hospital",
    "geometry": {"type": "Point", "coordinates": [37.16, 36.2]},
    "radius_m": 300,
    "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
}
LIBRARY_TEXT = (
    "Traceback",
    "rfc8785",
    "OverflowError",
    "RecursionError",
    "ValueError",
    "JSONDecodeError",
    "Expecting",
    "FloatDomainError",
    "IntegerDomainError",
    "surrogates not allowed",
    "Internal error",
)
DEEP = "[" * 50000 + "]" * 50000


def auth(party: PartyHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {party.token}"}


def assert_problem(answer: httpx.Response, *names: str) -> dict[str, Any]:
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    return assert_problem_body(body, answer.status_code, *names)


def assert_problem_body(body: dict[str, Any], status: int, *names: str) -> dict[str, Any]:
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    for text in LIBRARY_TEXT:
        assert text not in body["detail"], body
    for name in names:
        assert name in body["detail"], (name, body)
    return body


def raw_signed(party: PartyHandle, payload: bytes, header: bytes | None = None) -> str:
    """A JWS over exactly these payload bytes: what a careless or hostile client can send,
    which :func:`jws.sign` (canonical by construction) cannot produce."""
    head = header or jws.canonical({"alg": "EdDSA", "kid": party.id, "typ": "parley+jws"})
    signing_input = f"{b64url(head)}.{b64url(payload)}"
    return f"{signing_input}.{b64url(party.key.sign(signing_input.encode('ascii')))}"


def payload_with(party: PartyHandle, marker: str, **changes: Any) -> bytes:
    """A site document, canonical but for ``marker`` spliced in raw where ``"@@"`` stands."""
    doc = document("site", party.id, {**SITE, "extra": "@@"}, "all")
    doc.update(changes)
    return jws.canonical(doc).replace(b'"@@"', marker.encode("ascii"))


def submit(server: Server, party: PartyHandle, compact: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/submissions",
        content=compact,
        headers={**auth(party), "Content-Type": "application/jose"},
    )


def batch(server: Server, party: PartyHandle, compacts: list[str]) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/submissions/batch",
        json={"submissions": compacts},
        headers=auth(party),
    )


# Values that RFC 8785 (and so the canonical-form check) cannot write: each reached a 500.
UNCANONICAL = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "1e400": "1e400",
    "2**100": str(2**100),
    "lone surrogate": '"\\ud800"',
}


@pytest.mark.parametrize("marker", list(UNCANONICAL.values()), ids=list(UNCANONICAL))
def test_payload_values_jcs_cannot_write_are_refused(
    server: Server, parties: dict[str, PartyHandle], marker: str
) -> None:
    relief = parties["relief"]
    size = server.hub.store.log_size()
    compact = raw_signed(relief, payload_with(relief, marker))
    assert_problem(submit(server, relief, compact), "the JWS payload")
    answer = batch(server, relief, [compact, compact])
    assert answer.status_code == 200, answer.text
    for result in answer.json()["results"]:
        assert_problem_body(result, result["status"], "the JWS payload")
        assert 400 <= result["status"] < 500
    assert server.hub.store.log_size() == size


def test_site_coordinate_nan_is_refused(server: Server, parties: dict[str, PartyHandle]) -> None:
    relief = parties["relief"]
    size = server.hub.store.log_size()
    doc = document("site", relief.id, {**SITE, "geometry": {"type": "Point", "coordinates": [0]}})
    payload = jws.canonical(doc).replace(b'"coordinates":[0]', b'"coordinates":[NaN,36.2]')
    assert b"NaN" in payload
    assert_problem(submit(server, relief, raw_signed(relief, payload)), "NaN")
    assert server.hub.store.log_size() == size


def test_deep_nesting_is_refused_quickly_everywhere(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    relief = parties["relief"]
    size = server.hub.store.log_size()
    started = time.monotonic()
    for path in ("/api/v1/submissions", "/api/v1/submissions/batch"):
        answer = httpx.post(
            f"{server.url}{path}",
            content=DEEP,
            headers={**auth(relief), "Content-Type": "application/json"},
        )
        assert_problem(answer, "the request body", "deeper than")
    deep_payload = payload_with(relief, DEEP)
    assert_problem(submit(server, relief, raw_signed(relief, deep_payload)), "the JWS payload")
    deep_header = ('{"alg":"EdDSA","x":' + DEEP + "}").encode()
    compact = raw_signed(relief, payload_with(relief, "1"), header=deep_header)
    assert_problem(submit(server, relief, compact), "the JWS protected header")
    answer = batch(server, relief, [raw_signed(relief, deep_payload)])
    (result,) = answer.json()["results"]
    assert_problem_body(result, 400, "the JWS payload", "deeper than")
    assert time.monotonic() - started < 10
    assert server.hub.store.log_size() == size


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_client_time_that_overflows_is_refused(
    server: Server, parties: dict[str, PartyHandle], moment: str
) -> None:
    relief = parties["relief"]
    size = server.hub.store.log_size()
    doc = document("site", relief.id, SITE)
    doc["client_time"] = moment
    compact = jws.sign(doc, relief.key, relief.id)
    body = assert_problem(submit(server, relief, compact), "client_time", "out of range")
    assert body["field"] == "client_time"
    (result,) = batch(server, relief, [compact]).json()["results"]
    assert_problem_body(result, 400, "client_time")
    assert server.hub.store.log_size() == size


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.parametrize("field", ["since", "until"])
def test_since_and_until_that_overflow_are_refused(
    server: Server, parties: dict[str, PartyHandle], field: str, moment: str
) -> None:
    answer = httpx.get(
        f"{server.url}/api/v1/submissions", params={field: moment}, headers=auth(parties["alpha"])
    )
    assert_problem(answer, field)


@pytest.mark.parametrize("cursor", [str(10**20), str(2**63), "9" * 5000])
def test_submissions_cursor_beyond_any_sequence_is_refused(
    server: Server, parties: dict[str, PartyHandle], cursor: str
) -> None:
    answer = httpx.get(
        f"{server.url}/api/v1/submissions",
        params={"cursor": cursor},
        headers=auth(parties["alpha"]),
    )
    assert_problem(answer, "cursor")
    largest = httpx.get(
        f"{server.url}/api/v1/submissions",
        params={"cursor": str(strict_json.MAX_SAFE_INTEGER)},
        headers=auth(parties["alpha"]),
    )
    assert largest.status_code == 200
    assert largest.json() == {"items": [], "next": None}


def _tamper(server: Server, submission_id: str, compact: str) -> None:
    with server.hub.store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE submissions SET jws = :jws WHERE id = :id"),
            {"jws": compact, "id": submission_id},
        )


def test_a_damaged_stored_jws_does_not_break_its_authors_listing(
    server: Server, parties: dict[str, PartyHandle], caplog: pytest.LogCaptureFixture
) -> None:
    relief = parties["relief"]
    ids = []
    for name in ("first", "second", "third"):
        compact = jws.sign(
            document("site", relief.id, {**SITE, "name": name}), relief.key, relief.id
        )
        answer = submit(server, relief, compact)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    damaged = "not-a-jws"
    _tamper(server, ids[1], damaged)
    for reader in (relief, parties["alpha"]):
        with caplog.at_level(logging.WARNING, logger="parley.api"):
            answer = httpx.get(
                f"{server.url}/api/v1/submissions", params={"party": "relief"}, headers=auth(reader)
            )
        assert answer.status_code == 200, answer.text
        items = {i["id"]: i for i in answer.json()["items"]}
        assert list(items) == ids
        assert items[ids[1]]["integrity"] == "the stored JWS does not parse"
        assert items[ids[1]]["jws"] == damaged
        assert items[ids[1]]["document"] is None
        assert items[ids[1]]["audience"] == "all"
        assert items[ids[0]]["document"]["body"]["name"] == "first"
        assert items[ids[2]]["document"]["body"]["name"] == "third"
        assert "integrity" not in items[ids[0]]
        single = httpx.get(f"{server.url}/api/v1/submissions/{ids[1]}", headers=auth(reader))
        assert single.status_code == 200, single.text
        assert single.json()["integrity"] == "the stored JWS does not parse"
    assert any(ids[1] in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)


# The parser on its own.


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 50000 + "]" * 50000, "deeper than 64"),
        ("{" * 100000, "deeper than 64"),
        ('{"a":' * 65 + "1" + "}" * 65, "deeper than 64"),
        ("NaN", "NaN"),
        ('{"a":[Infinity]}', "Infinity"),
        ("-Infinity", "-Infinity"),
        ("1e400", "1e400"),
        ("-1e400", "-1e400"),
        (str(2**53), "beyond"),
        (str(-(2**53)), "beyond"),
        ("1" * 10000, "beyond"),
        ('["\\ud800"]', "surrogate"),
        ('{"\\udc00":1}', "surrogate"),
        ('["\\ud800x"]', "surrogate"),
        ('{"a":1,"a":1}', "twice"),
        ('{"name":"a\\u0000b"}', "NUL"),
        ('{"\\u0000":1}', "NUL"),
        ("[1,]", "not valid JSON"),
        ("", "not valid JSON"),
        ("\ufeff{}", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        ('"\x00"', "not valid JSON"),
    ],
)
def test_strict_json_refuses(text: str | bytes, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidJSON) as refused:
        strict_json.loads(text, what="the thing sent")
    assert time.monotonic() - started < 1
    assert refused.value.status == 400
    assert refused.value.detail.startswith("the thing sent ")
    assert reason in refused.value.detail
    for library in LIBRARY_TEXT:
        assert library not in refused.value.detail


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("[" * 64 + "]" * 64, json.loads("[" * 64 + "]" * 64)),
        ('["' + "[" * 70 + '"]', ["[" * 70]),
        ('{"a":"}\\"' + "{" * 70 + '"}', None),
        (str(2**53 - 1), 2**53 - 1),
        (str(-(2**53 - 1)), -(2**53 - 1)),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ('"\\ud83d\\ude00"', "\U0001f600"),
        (b'{"a":[1,2.5,true,null]}', {"a": [1, 2.5, True, None]}),
    ],
)
def test_strict_json_accepts(text: str | bytes, value: Any) -> None:
    expected = value if value is not None else json.loads(text)
    assert strict_json.loads(text) == expected


def test_strict_json_accepts_everything_jcs_can_write_back() -> None:
    document = {"a": [1, -0.5, 1e300, "é\U0001f600", {"b": None}], "c": 2**53 - 1}
    assert strict_json.loads(jws.canonical(document)) == document


# The one time reader on its own.


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "9000-01-01T00:00:00Z",
    ],
)
def test_clock_refuses_times_out_of_range(text: str) -> None:
    with pytest.raises(ParleyError) as refused:
        clock.parse(text, "body.time")
    assert refused.value.status == 400
    assert refused.value.extra == {"field": "body.time"}
    assert refused.value.detail.startswith("body.time is out of range")


@pytest.mark.parametrize(
    ("text", "reason"),
    [(None, "must be"), (17, "must be"), ("yesterday", "not an ISO 8601"), ("2026-11-29", "zone")],
)
def test_clock_refuses_what_is_not_a_time(text: object, reason: str) -> None:
    with pytest.raises(ParleyError) as refused:
        clock.parse(text, "since")
    assert refused.value.status == 400
    assert reason in refused.value.detail


def test_clock_reads_times_in_range_as_utc() -> None:
    assert clock.iso(clock.parse("1970-01-01T00:00:00Z")) == "1970-01-01T00:00:00.000000Z"
    assert clock.iso(clock.parse("2026-11-29T12:00:00+03:00")) == "2026-11-29T09:00:00.000000Z"
    assert clock.iso(clock.parse("8999-12-31T23:59:59Z")) == "8999-12-31T23:59:59.000000Z"


@pytest.mark.parametrize(
    "marker", [str(2**60), "[" * 900 + "]" * 900, str(2**70)], ids=["2**60", "deep", "2**70"]
)
def test_taxii_envelopes_the_store_could_not_read_back_are_refused(
    server: Server, parties: dict[str, PartyHandle], marker: str
) -> None:
    """orjson admitted these: 2**60 then failed JCS (a 500), 900 levels were stored beyond what
    the hub reads back, and 2**70 was silently turned into a float."""
    from .test_taxii import ALL, MEDIA, indicator

    size = server.hub.store.log_size()
    sent = indicator(1)
    sent["x_probe"] = "@@"
    answer = httpx.post(
        f"{server.url}/taxii2/parley/collections/{ALL}/objects/",
        content=json.dumps({"objects": [sent]}).replace('"@@"', marker),
        headers={**auth(parties["alpha"]), "Accept": MEDIA, "Content-Type": MEDIA},
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == MEDIA
    assert answer.json()["description"].startswith("the envelope ")
    assert server.hub.store.log_size() == size


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/submissions", {"party": "alpha\x00"}),
        ("/api/v1/submissions", {"kind": "\x00"}),
        ("/api/v1/submissions/a%00b", {}),
        ("/api/v1/parties/a%00b", {}),
    ],
)
def test_nul_in_path_or_query_is_refused_on_both_backends(
    server: Server, parties: dict[str, PartyHandle], path: str, params: dict[str, str]
) -> None:
    """PostgreSQL cannot compare text holding NUL: this was a 500 there and a 200 on SQLite."""
    answer = httpx.get(f"{server.url}{path}", params=params, headers=auth(parties["alpha"]))
    assert_problem(answer, "NUL")


def test_nul_under_taxii_is_a_taxii_error(server: Server, parties: dict[str, PartyHandle]) -> None:
    from .test_taxii import ALL, MEDIA

    answer = httpx.get(
        f"{server.url}/taxii2/parley/collections/{ALL}/objects/",
        params={"match[id]": "indicator--\x00"},
        headers={**auth(parties["alpha"]), "Accept": MEDIA},
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == MEDIA
    assert "NUL" in answer.json()["description"]
