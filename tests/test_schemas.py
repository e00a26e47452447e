"""The JSON Schemas of submission bodies and API answers, and the hub checking bodies with them.

docs/formats.md's examples are submitted as written and its bad bodies are refused by the
published schema and by the hub alike, naming the same field; the kinds' own rules, run without
the schema, refuse the same bad bodies for the same field (the schema says nothing the rules do
not); and the hub's real answers match the answer schemas the OpenAPI document points to.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from parley import clock
from parley.api import schemas as published
from parley.errors import ParleyError
from parley.geo import shapes
from parley.hub.rules import RESOLUTIONS
from parley.parties import roles
from parley.records import areamaps, incidents, notices, operations
from parley.records import schemas as bodies

from .conftest import PartyHandle, Server

DOC = Path(__file__).resolve().parent.parent / "docs" / "formats.md"
BLOCK = re.compile(r"<!-- (example|bad): (\S+)(?: (\S+))? -->\n```json\n(.*?)\n```", re.S)
# What a library's own wording looks like; a problem must say it in the user's words.
LIBRARY = ("is not valid under", "False schema", "is a required property", "does not match")


def documented() -> list[tuple[str, str, str | None, str]]:
    """(example or bad, kind, the field a bad body is refused for, the JSON) from the doc."""
    return [(m[1], m[2], m[3], m[4]) for m in BLOCK.finditer(DOC.read_text())]


def strict(schema: dict[str, Any]) -> Draft202012Validator:
    """An independent validator: the reference implementation's own format checks."""
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_every_kind_has_a_schema_an_example_and_a_bad_body() -> None:
    assert set(bodies.BODIES) == roles.KINDS
    blocks = documented()
    assert {k for what, k, _, _ in blocks if what == "example"} == roles.KINDS
    assert {k for what, k, _, _ in blocks if what == "bad"} == roles.KINDS
    for kind in roles.KINDS:
        Draft202012Validator.check_schema(bodies.schema(kind))
    for name in published.ANSWERS:
        Draft202012Validator.check_schema(published.answer(name))
    # the enums the hub's rules keep elsewhere are the schema's
    assert bodies.BODIES["resolution"]["properties"]["outcome"]["enum"] == list(RESOLUTIONS)


def _rules_alone(kind: str, body: dict[str, Any]) -> None:
    """The kind's own checks that need no hub, without the schema."""
    if kind == "site":
        shapes.parse_site(body)
        notices.check_site(body)
    elif kind == "operation":
        shapes.parse_volumes(body)
    elif kind == "movement":
        shapes.parse_movement(body)
    elif kind == "area":
        shapes.parse_area(body)
    elif kind == "area-map":
        areamaps.parse_proposal(body)
    elif kind == "area-vote":
        version = areamaps.Version(1, "record", "alpha", {}, {})
        areamaps.check_vote(areamaps.AreaMap("line-of-contact", {1: version}), "bravo", body)
    elif kind == "incident":
        incidents.check_report(body)
    elif kind == "review":
        incidents.check_review("observer", "monitor", body, None, True)
    elif kind == "operation-status":
        operations.check_transition("OPERATION-ID", operations.PLANNED, str(body.get("status")))
    elif kind == "withdrawal":
        notices.check_withdrawal(body)


# Kinds whose rules all need the hub (a record to refer to, a conflict to resolve) or, for
# intelligence, the STIX validator: the server test below holds them to the schema.
NEEDS_THE_HUB = {"acknowledgement", "resolution", "intelligence", "alert-acknowledgement"}


@pytest.mark.parametrize("what", ["example", "bad"])
def test_the_kinds_rules_alone_agree_with_the_schema(what: str) -> None:
    for found, kind, field, text in documented():
        if found != what or kind in NEEDS_THE_HUB:
            continue
        body = json.loads(text)
        if what == "example":
            _rules_alone(kind, body)
            bodies.check(kind, body)
            continue
        with pytest.raises(ParleyError) as by_rules:
            _rules_alone(kind, body)
        with pytest.raises(ParleyError) as by_schema:
            bodies.check(kind, body)
        assert by_rules.value.extra["field"] == field, (kind, by_rules.value.detail)
        assert by_schema.value.extra["field"] == field, (kind, by_schema.value.detail)


POINT_WITH_A_STRING = {"type": "Point", "coordinates": [37.1, "36.2"]}
VOLUME = {
    "radius_m": 500,
    "altitude": {"lower_m": 0, "upper_m": 100},
    "time": {"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T09:00:00Z"},
}


@pytest.mark.parametrize(
    ("kind", "body", "field", "pointer"),
    [
        ("operation", {"name": "x", "volumes": "one"}, "body.volumes", "/body/volumes"),
        (
            "operation",
            {"name": "x", "volumes": [{**VOLUME, "footprint": POINT_WITH_A_STRING}]},
            "body.volumes[0].footprint.coordinates[1]",
            "/body/volumes/0/footprint/coordinates/1",
        ),
        ("site", {"name": "x"}, "body.category", "/body/category"),
        ("movement", [], "body", "/body"),
        ("review", {"incident": "i", "step": "request"}, "body.to", "/body/to"),
        ("incident", {"description": "x", "time": "tomorrow"}, "body.location", "/body/location"),
        ("area-vote", {"map": "m", "version": 1, "vote": True}, "body.vote", "/body/vote"),
        ("intelligence", {"type": "indicator", "id": 42}, "body.id", "/body/id"),
    ],
)
def test_a_refused_body_names_its_field_in_the_users_words(
    kind: str, body: object, field: str, pointer: str
) -> None:
    with pytest.raises(ParleyError) as refused:
        bodies.check(kind, body)
    assert refused.value.status == 400
    assert refused.value.extra == {"field": field, "pointer": pointer}
    assert pointer == globals()["pointer"](field)
    assert refused.value.detail.startswith(field + " ")
    assert not any(words in refused.value.detail for words in LIBRARY), refused.value.detail
    assert errors_of(bodies.schema(kind), body)  # the published schema refuses it too


def pointer(field: str) -> str:
    """``body.volumes[0].altitude`` as a JSON Pointer: ``/body/volumes/0/altitude``."""
    return "/" + re.sub(r"\[(\d+)\]", r".\1", field).replace(".", "/")


def errors_of(schema: dict[str, Any], instance: object) -> list[str]:
    return [e.message for e in strict(schema).iter_errors(instance)]


def test_documented_examples_are_accepted_and_bad_bodies_refused_by_schema_and_hub(
    server: Server, parties: dict[str, PartyHandle]
) -> None:
    blocks = documented()
    tomorrow = (clock.now() + timedelta(days=1)).date().isoformat()
    ids: dict[str, str] = {}
    relief, alpha, bravo, monitor = (parties[p] for p in ("relief", "alpha", "bravo", "monitor"))
    author = {
        "site": relief,
        "movement": relief,
        "withdrawal": relief,
        "area-vote": bravo,
        "review": monitor,
    }
    # a resolution goes to no one the conflict did not alert
    audience: dict[str, str | list[str]] = {
        "resolution": [bravo.id],
        "alert-acknowledgement": [alpha.id],
    }
    answers: dict[str, list[Any]] = {name: [] for name in published.ANSWERS}
    with (
        server.client(relief) as r,
        server.client(alpha) as a,
        server.client(bravo) as b,
        server.client(monitor) as m,
    ):
        clients = {relief.id: r, alpha.id: a, bravo.id: b, monitor.id: m}
        for what, kind, field, text in blocks:
            schema = httpx.get(f"{server.url}/schemas/{kind}.json")
            assert schema.headers["content-type"] == "application/schema+json"
            text = text.replace("2026-12-01", tomorrow)
            for placeholder, record in ids.items():
                text = text.replace(placeholder, record)
            body = json.loads(text)
            errors = errors_of(schema.json(), body)
            client = clients[author.get(kind, alpha).id]
            answer = client.http.post(
                "/api/v1/submissions",
                content=client.sign(kind, body, audience.get(kind, "all")),
                headers={"Content-Type": "application/jose"},
            )
            if what == "example":
                assert errors == [], (kind, errors)
                assert answer.status_code == 201, (kind, answer.text)
                answers["accepted"].append(answer.json())
                record = answer.json()["id"]
                ids[kind.upper() + "-ID"] = record
                if kind == "operation":
                    # the same volumes from bravo: a conflict alpha can resolve
                    found = b.submit("operation", body)
                    answers["accepted"].append(found)
                    ids["CONFLICT-ID"] = found["conflicts"][0]["id"]
                    ids["ALERT-ID"] = next(
                        x["id"]
                        for x in a.get("/api/v1/alerts")["items"]
                        if (x["conflict"] or {}).get("id") == ids["CONFLICT-ID"]
                    )
            else:
                assert errors, (kind, "the schema accepts a body the hub refuses")
                problem = answer.json()
                assert answer.status_code == 400, (kind, answer.text)
                assert problem["field"] == field, (kind, problem)
                assert problem["pointer"] == pointer(field), (kind, problem)
                assert not any(words in problem["detail"] for words in LIBRARY), problem
                answers["problem"].append(problem)
        assert {"SITE-ID", "OPERATION-ID", "INCIDENT-ID", "CONFLICT-ID"} <= set(ids)

        # the hub's answers, as each party reads them, match the answer schemas
        for client in clients.values():
            answers["alerts"].append(client.get("/api/v1/alerts"))
            answers["submissions"].append(client.get("/api/v1/submissions"))
            answers["participation"].append(client.get("/api/v1/participation"))
            answers["unacknowledged-sites"].append(client.get("/api/v1/sites/unacknowledged"))
        answers["conflicts"].append(
            a.get("/api/v1/conflicts", state="open,acknowledged,resolved,moot")
        )
        answers["submission"].append(a.get(f"/api/v1/submissions/{ids['SITE-ID']}"))
        alert = answers["alerts"][1]["items"][0]
        answers["alert"].append(alert)
        answers["conflict"] += answers["conflicts"][0]["items"]
        answers["conflict"] += [c for one in answers["accepted"] for c in one["conflicts"]]
        answers["problem"].append(a.http.get("/api/v1/submissions/nothing").json())
    spec = httpx.get(f"{server.url}/openapi.json").json()
    for name, found in answers.items():
        assert found, f"no {name} answer was checked"
        schema = httpx.get(f"{server.url}/schemas/answers/{name}.json").json()
        assert spec["components"]["schemas"][published.answer_component(name)]["title"]
        for one in found:
            assert errors_of(schema, one) == [], (name, one)


def test_openapi_answers_refer_to_the_answer_schemas(server: Server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    for (method, path), (status, name) in published.RESPONSES.items():
        if path not in spec["paths"]:
            continue  # a route this build does not serve
        content = spec["paths"][path][method]["responses"][status]["content"]
        ref = {"$ref": f"#/components/schemas/{published.answer_component(name)}"}
        assert content["application/json"]["schema"] == ref, (method, path)
    for kind in roles.KINDS:
        assert spec["components"]["schemas"][published.body_component(kind)]["type"] == "object"
    unknown = httpx.get(f"{server.url}/schemas/answers/nothing.json")
    assert unknown.status_code == 404 and unknown.json()["field"] == "name"


INCIDENT = {
    "description": "x",
    "location": {"type": "Point", "coordinates": [37.16, 36.2]},
    "time": "2026-11-20T14:30:00Z",
}


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        # was a 500: the incident rules called .get on whatever location was
        (
            "incident",
            {"description": "x", "location": "here", "time": "2026-11-20T14:30:00Z"},
            "body.location",
        ),
        # an answer without its request: refused for its shape before any lookup
        ("review", {"incident": "i", "step": "answer"}, "body.request"),
        # was accepted: true is no number of casualties
        (
            "incident",
            {**INCIDENT, "casualties": {"killed": True}},
            "body.casualties.killed",
        ),
    ],
)
def test_the_hub_refuses_what_the_schema_refuses_before_its_rules_run(
    server: Server, parties: dict[str, PartyHandle], kind: str, body: dict[str, Any], field: str
) -> None:
    with server.client(parties["monitor"]) as client:
        answer = client.http.post(
            "/api/v1/submissions",
            content=client.sign(kind, body),
            headers={"Content-Type": "application/jose"},
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert answer.json()["pointer"] == pointer(field)
