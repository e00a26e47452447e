"""The TAXII 2.1 server through taxii2-client (the OASIS client), over real HTTP, on both backends.

Discovery, API root, collections, adding objects (each one a logged submission), objects,
object, versions, manifest, status, every filter, paging through 10,000 objects, media types,
authentication, refusals. The audience leak tests are in test_taxii_leaks.py.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from parley.client.http import Client
from parley.hub import setup
from parley.intel import collections as intel_collections
from parley.intel.service import Intel

from .conftest import PartyHandle
from .conftest import Server as Hub

MEDIA = "application/taxii+json;version=2.1"
ALL = str(uuid.uuid5(intel_collections.NAMESPACE, "all"))
T = TypeVar("T")


# -- STIX objects --------------------------------------------------------------------------


def stamp(seconds: int = 0) -> str:
    return f"2026-01-01T00:{seconds // 60:02d}:{seconds % 60:02d}.000Z"


def indicator(n: int = 0, *, stix_id: str | None = None, modified: int = 0) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid4()}",
        "created": stamp(),
        "modified": stamp(modified),
        "name": f"beacon {n}",
        "pattern": f"[ipv4-addr:value = '10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }


def threat_actor(n: int = 0) -> dict[str, Any]:
    return {
        "type": "threat-actor",
        "spec_version": "2.1",
        "id": f"threat-actor--{uuid.uuid4()}",
        "created": stamp(),
        "modified": stamp(),
        "name": f"group {n}",
        "threat_actor_types": ["activist"],
    }


def location(n: int = 0) -> dict[str, Any]:
    return {
        "type": "location",
        "spec_version": "2.1",
        "id": f"location--{uuid.uuid4()}",
        "created": stamp(),
        "modified": stamp(),
        "name": f"place {n}",
        "latitude": 36.2,
        "longitude": 37.1,
    }


def address(n: int = 0) -> dict[str, Any]:
    """A cyber-observable: no created, no modified (versioned by the time it is added)."""
    return {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": f"ipv4-addr--{uuid.uuid4()}",
        "value": f"192.0.2.{n % 256}",
    }


# -- clients -------------------------------------------------------------------------------


def pair_id(a: str, b: str) -> str:
    return intel_collections.id_of(intel_collections.key_of((a, b)))


# taxii2-client keeps a requests session per endpoint object; each test closes the ones it
# made, or their sockets would outlive it.
_opened: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def opened(endpoint: T) -> T:
    _opened.append(endpoint)
    return endpoint


def root_of(hub: Hub, party: PartyHandle) -> ApiRoot:
    root = opened(ApiRoot(f"{hub.url}/taxii2/parley/", user=party.id, password=party.token))
    for found in root.collections:
        opened(found)
    return root


def collection(hub: Hub, party: PartyHandle, collection_id: str = ALL) -> Collection:
    url = f"{hub.url}/taxii2/parley/collections/{collection_id}/"
    return opened(Collection(url, user=party.id, password=party.token))


def raw(
    hub: Hub,
    party: PartyHandle | None,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """A request as any HTTP client would send it (for what taxii2-client cannot express)."""
    sent = {"Accept": MEDIA, **(headers or {})}
    if party is not None and "Authorization" not in sent:
        sent["Authorization"] = f"Bearer {party.token}"
    return httpx.request(method, f"{hub.url}{path}", headers=sent, timeout=60, **kwargs)


def add(col: Collection, objects: list[dict[str, Any]]) -> Any:
    status = col.add_objects({"objects": objects})
    assert status.status == "complete"
    return status


def all_objects(col: Collection, per_request: int = 0, **filters: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in as_pages(col.get_objects, per_request=per_request, **filters):
        found += page.get("objects", [])
    return found


def ids(objects: list[dict[str, Any]]) -> list[str]:
    return [o["id"] for o in objects]


def assert_taxii_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA
    body: dict[str, Any] = response.json()
    assert body["http_status"] == str(status)
    assert body["title"] and body["description"]
    assert "type" not in body  # a TAXII error message, not an RFC 9457 problem
    return body


# -- discovery, API root, collections ----------------------------------------------------------


def test_discovery_and_api_root(server: Hub, parties: dict[str, PartyHandle]) -> None:
    alpha = parties["alpha"]
    discovery = opened(Server(f"{server.url}/taxii2/", user="alpha", password=alpha.token))
    assert discovery.title == "parley"
    (root,) = [opened(r) for r in discovery.api_roots]
    assert root.url == f"{server.url}/taxii2/parley/"
    assert discovery.default is root
    assert root.versions == [MEDIA]
    assert root.max_content_length == server.settings.max_body_bytes
    response = raw(server, alpha, "GET", "/taxii2/")
    assert response.headers["content-type"] == MEDIA


def test_collections_follow_audiences_and_roles(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    members = intel_collections.define(
        server.hub.store, ["alpha", "bravo", "charlie"], "Shared with all members", alias="members"
    )

    def seen(party: str) -> dict[str, tuple[bool, bool]]:
        cols = root_of(server, parties[party]).collections
        return {c.id: (c.can_read, c.can_write) for c in cols}

    assert seen("alpha") == {
        ALL: (True, True),
        pair_id("alpha", "bravo"): (True, True),
        pair_id("alpha", "charlie"): (True, True),
        members.id: (True, True),
    }
    assert seen("charlie") == {
        ALL: (True, True),
        pair_id("alpha", "charlie"): (True, True),
        pair_id("bravo", "charlie"): (True, True),
        members.id: (True, True),
    }
    # A notifier and an observer read what is shared with everyone and may not add to it.
    assert seen("relief") == {ALL: (True, False)}
    assert seen("monitor") == {ALL: (True, False)}
    # A collection that includes the observer: it reads, it cannot write (its role).
    watched = intel_collections.define(server.hub.store, ["alpha", "monitor"], "Watched")
    assert seen("monitor") == {ALL: (True, False), watched.id: (True, False)}

    described = collection(server, parties["bravo"], members.id)
    assert described.title == "Shared with all members"
    assert described.alias == "members"
    assert described.media_types == ["application/stix+json;version=2.1"]


# -- adding -----------------------------------------------------------------------------------


def test_added_objects_are_logged_submissions_with_receipts(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    alpha = parties["alpha"]
    col = collection(server, alpha, pair_id("alpha", "bravo"))
    sent = [indicator(1), threat_actor(2), location(3)]
    status = add(col, sent)
    assert (status.total_count, status.success_count, status.failure_count) == (3, 3, 0)
    assert status.pending_count == 0
    assert [s["id"] for s in status.successes] == ids(sent)
    assert all(s["version"] == "2026-01-01T00:00:00.000Z" for s in status.successes)
    # The status stays readable by its requester.
    assert root_of(server, alpha).get_status(status.id).success_count == 3

    native = opened(server.client(alpha))
    for detail, obj in zip(status.successes, sent, strict=True):
        submission_id = detail["message"].split("submission ")[1].split(" ")[0]
        record = native.http.get(f"/api/v1/submissions/{submission_id}").json()
        assert record["kind"] == "intelligence"
        assert record["authenticated_by"] == "token"
        assert record["audience"] == ["alpha", "bravo"]
        assert record["document"]["body"] == obj
        receipt = native.http.get(f"/api/v1/submissions/{submission_id}/receipt?wait=10")
        assert receipt.status_code == 200
    assert sorted(ids(all_objects(col)), key=ids(sent).index) == ids(sent)


def test_each_version_once_and_every_refusal_reported(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    alpha = parties["alpha"]
    col = collection(server, alpha)
    first = indicator(1)
    add(col, [first])
    native = opened(server.client(alpha))
    logged = len(native.http.get("/api/v1/submissions").json()["items"])

    old = dict(indicator(2), spec_version="2.0")
    no_spec = {k: v for k, v in indicator(3).items() if k != "spec_version"}
    broken = dict(indicator(4), pattern="[ipv4-addr:value = ")
    late = dict(indicator(5), modified="2025-01-01T00:00:00.000Z")  # modified before created
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": []}
    status = add(col, [first, old, no_spec, broken, late, bundle, "text", threat_actor()])
    assert (status.total_count, status.success_count, status.failure_count) == (8, 2, 6)
    again, added = status.successes
    assert again["id"] == first["id"] and "already in the collection" in again["message"]
    assert "submission" in added["message"]
    reasons = {f["id"]: f["message"] for f in status.failures}
    assert "2.0" in reasons[old["id"]]
    assert "spec_version" in reasons[no_spec["id"]]
    assert "pattern" in reasons[broken["id"]].lower()
    assert "created" in reasons[late["id"]]
    assert "bundle" in reasons[bundle["id"]]
    assert "" in reasons
    # Only the new threat actor was logged: the repeat and the refusals left no record.
    items = native.http.get("/api/v1/submissions").json()["items"]
    assert len(items) == logged + 1


def test_who_may_add(server: Hub, parties: dict[str, PartyHandle]) -> None:
    for name in ("relief", "monitor"):
        response = raw(
            server,
            parties[name],
            "POST",
            f"/taxii2/parley/collections/{ALL}/objects/",
            headers={"Content-Type": MEDIA},
            json={"objects": [indicator()]},
        )
        assert_taxii_error(response, 403)
    envelope_errors = [b"{}", b'{"objects": []}', b'{"objects": {}}', b"[1]", b"{nope"]
    for body in envelope_errors:
        response = raw(
            server,
            parties["alpha"],
            "POST",
            f"/taxii2/parley/collections/{ALL}/objects/",
            headers={"Content-Type": MEDIA},
            content=body,
        )
        assert_taxii_error(response, 400)


def test_signed_intelligence_from_the_native_api_is_served_over_taxii(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    alpha, charlie = parties["alpha"], parties["charlie"]
    native = opened(server.client(alpha))
    shared, private, prose = indicator(1), threat_actor(2), {"text": "not a STIX object"}
    native.submit("intelligence", shared, "all")
    native.submit("intelligence", private, ["charlie"])
    native.submit("intelligence", prose, "all")
    assert ids(all_objects(collection(server, charlie))) == [shared["id"]]
    assert all_objects(collection(server, charlie, pair_id("alpha", "charlie"))) == [private]
    # An audience no collection had yet becomes a collection of its own, listed to its parties.
    trio = ["bravo", "charlie"]
    native.submit("intelligence", location(3), trio)
    trio_id = intel_collections.id_of("alpha,bravo,charlie")
    listed = {c.id: c.title for c in root_of(server, charlie).collections}
    assert listed[trio_id] == "Shared by alpha, bravo, charlie"
    assert trio_id not in {c.id for c in root_of(server, parties["relief"]).collections}


def test_an_add_after_signed_intelligence_keeps_the_order_of_the_log(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    """Each add is indexed in the transaction that logs it; the signed submission before them
    (indexed when the first add looked its collection up) stays first."""
    alpha = parties["alpha"]
    col = collection(server, alpha)
    native = opened(server.client(alpha))
    signed = indicator(1)
    native.submit("intelligence", signed, "all")  # no TAXII request has indexed it yet
    first = [indicator(2), threat_actor(3)]
    second = [indicator(4), dict(first[0])]  # the repeat is a success that logs nothing new
    statuses = [add(col, first), add(col, second)]
    assert [(s.success_count, s.failure_count) for s in statuses] == [(2, 0), (2, 0)]
    root = root_of(server, alpha)
    for status in statuses:  # each kept as answered (committed with its objects)
        kept = root.get_status(status.id)
        assert (kept.successes, kept.failures) == (status.successes, status.failures)
    messages = [d["message"] for s in statuses for d in s.successes]
    assert [m.startswith("logged as submission") for m in messages] == [True, True, True, False]
    manifest = col.get_manifest()["objects"]
    assert ids(manifest) == ids([signed, *first, second[0]])
    added = [entry["date_added"] for entry in manifest]
    assert added == sorted(added) and len(set(added)) == len(added)
    logged = native.http.get("/api/v1/submissions", params={"kind": "intelligence"}).json()
    assert [item["document"]["body"]["id"] for item in logged["items"]] == ids(manifest)


def test_an_add_behind_intelligence_not_yet_indexed_is_indexed_after_it(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    """A signed submission logged between an add's collection lookup and its commit: the add's
    transaction leaves indexing to the index's own step, which takes both in log order."""
    intel = Intel(server.hub)
    alpha = server.hub.parties()["alpha"]
    found = intel.collection(alpha, ALL)
    signed, added = indicator(1), indicator(2)
    opened(server.client(parties["alpha"])).submit("intelligence", signed, "all")
    status = asyncio.run(intel.add(alpha, found, {"objects": [added]}))
    assert status["success_count"] == 1
    assert status["successes"][0]["message"].startswith("logged as submission")
    assert intel.status(alpha, status["id"]) == status  # kept, though not in the add's commit
    manifest = intel.manifest(alpha, found, {}).body["objects"]
    assert ids(manifest) == [signed["id"], added["id"]]
    assert manifest[0]["date_added"] < manifest[1]["date_added"]


# -- reading ----------------------------------------------------------------------------------


def test_versions_and_the_version_filter(server: Hub, parties: dict[str, PartyHandle]) -> None:
    col = collection(server, parties["alpha"])
    stix_id = f"indicator--{uuid.uuid4()}"
    v1, v2, v3 = (indicator(n, stix_id=stix_id, modified=n) for n in (1, 2, 3))
    other = indicator(9)
    add(col, [v2, other])
    add(col, [v3, v1])  # versions arrive out of order: "last" is the newest modified
    versions = col.object_versions(stix_id)
    assert versions["versions"] == [stamp(2), stamp(3), stamp(1)]  # in the order added
    assert versions["more"] is False

    def names(**filters: Any) -> list[str]:
        return sorted(o["name"] for o in all_objects(col, **filters) if o["id"] == stix_id)

    assert names() == ["beacon 3"]
    assert names(version="last") == ["beacon 3"]
    assert names(version="first") == ["beacon 1"]
    assert names(version="all") == ["beacon 1", "beacon 2", "beacon 3"]
    assert names(version=[stamp(2), "first"]) == ["beacon 1", "beacon 2"]
    assert names(version="2026-01-01T00:00:02Z") == ["beacon 2"]  # any precision
    assert names(version=stamp(7)) == []
    one = col.get_object(stix_id)
    assert [o["name"] for o in one["objects"]] == ["beacon 3"]
    every = col.get_object(stix_id, version="all")
    assert sorted(o["name"] for o in every["objects"]) == ["beacon 1", "beacon 2", "beacon 3"]
    manifest = col.get_manifest(id=stix_id, version="all")["objects"]
    assert sorted(m["version"] for m in manifest) == [stamp(1), stamp(2), stamp(3)]
    assert {m["media_type"] for m in manifest} == {"application/stix+json;version=2.1"}


def test_observables_are_versioned_by_the_time_they_are_added(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    col = collection(server, parties["alpha"])
    seen = address(1)
    add(col, [seen])
    add(col, [seen])  # seen again: a new version
    (row1,) = col.get_manifest(id=seen["id"], version="first")["objects"]
    (row2,) = col.get_manifest(id=seen["id"], version="last")["objects"]
    assert row1["version"] == row1["date_added"] != row2["version"] == row2["date_added"]
    assert col.object_versions(seen["id"])["versions"] == [row1["version"], row2["version"]]


def test_every_filter(server: Hub, parties: dict[str, PartyHandle]) -> None:
    col = collection(server, parties["alpha"])
    early = [indicator(1), threat_actor(2)]
    add(col, early)
    cut = col.get_manifest()["objects"][-1]["date_added"]
    late = [location(3), indicator(4), address(5)]
    add(col, late)
    everything = early + late

    assert ids(all_objects(col)) == ids(everything)
    assert ids(all_objects(col, type="indicator")) == [everything[0]["id"], everything[3]["id"]]
    assert ids(all_objects(col, type=["location", "threat-actor"])) == [
        everything[1]["id"],
        everything[2]["id"],
    ]
    assert ids(all_objects(col, id=[everything[4]["id"], everything[0]["id"]])) == [
        everything[0]["id"],
        everything[4]["id"],
    ]
    assert ids(all_objects(col, added_after=cut)) == ids(late)
    assert ids(all_objects(col, added_after=cut, type="indicator")) == [everything[3]["id"]]
    assert ids(all_objects(col, spec_version="2.1")) == ids(everything)
    assert all_objects(col, spec_version="2.0") == []
    assert col.get_objects(type="malware") == {}  # an empty envelope
    assert ids(col.get_manifest(added_after=cut)["objects"]) == ids(late)
    later = col.get_manifest()["objects"][-1]["date_added"]
    assert col.get_manifest(added_after=later) == {}
    assert col.object_versions(everything[3]["id"], added_after=cut)["versions"] == [stamp()]
    assert col.object_versions(everything[0]["id"], added_after=cut) == {}

    for bad in ("added_after=yesterday", "match[version]=newest", "limit=0", "limit=x"):
        response = raw(
            server, parties["alpha"], "GET", f"/taxii2/parley/collections/{ALL}/objects/?{bad}"
        )
        assert_taxii_error(response, 400)


def test_date_headers_bracket_each_page_and_added_after_resumes(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    alpha = parties["alpha"]
    add(collection(server, alpha), [threat_actor(n) for n in range(7)])
    path = f"/taxii2/parley/collections/{ALL}/objects/"
    seen: list[str] = []
    after: dict[str, str] = {}
    while True:
        page = raw(server, alpha, "GET", path, params={"limit": 3, **after})
        body = page.json()
        if not body:
            assert "x-taxii-date-added-first" not in page.headers
            break
        manifest = raw(
            server, alpha, "GET", path.replace("objects", "manifest"), params={"limit": 3, **after}
        )
        dates = [m["date_added"] for m in manifest.json()["objects"]]
        assert page.headers["x-taxii-date-added-first"] == dates[0]
        assert page.headers["x-taxii-date-added-last"] == dates[-1]
        seen += ids(body["objects"])
        # Polling the way many clients do: added_after = the last date the server gave.
        after = {"added_after": page.headers["x-taxii-date-added-last"]}
    assert len(seen) == len(set(seen)) == 7


def test_paging_through_ten_thousand_objects(server: Hub, parties: dict[str, PartyHandle]) -> None:
    alpha = parties["alpha"]
    col = collection(server, alpha, pair_id("alpha", "bravo"))
    sent = [threat_actor(n) if n % 2 else location(n) for n in range(10_000)]
    for start in range(0, len(sent), 1000):
        status = add(col, sent[start : start + 1000])
        assert status.success_count == 1000
    reader = collection(server, parties["bravo"], pair_id("alpha", "bravo"))
    pages = list(as_pages(reader.get_objects, per_request=1000))
    assert len(pages) == 10
    assert [o for page in pages for o in page["objects"]] == sent
    assert pages[-1]["more"] is False and "next" not in pages[-1]
    assert all(page["more"] is True and page["next"] for page in pages[:-1])
    manifest = [
        m
        for page in as_pages(reader.get_manifest, per_request=700)
        for m in page.get("objects", [])
    ]
    assert [m["id"] for m in manifest] == ids(sent)
    dates = [m["date_added"] for m in manifest]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    # A limit above the server's maximum is lowered to it.
    big = reader.get_objects(limit=5000)
    assert len(big["objects"]) == 1000 and big["more"] is True


def test_object_versions_page_too(server: Hub, parties: dict[str, PartyHandle]) -> None:
    col = collection(server, parties["alpha"])
    stix_id = f"indicator--{uuid.uuid4()}"
    add(col, [indicator(n, stix_id=stix_id, modified=n) for n in range(5)])
    # as_pages counts "objects", which a versions resource has none of: page by hand.
    pages = [col.object_versions(stix_id, limit=2)]
    while pages[-1]["more"]:
        pages.append(col.object_versions(stix_id, limit=2, next=pages[-1]["next"]))
    assert [p["versions"] for p in pages] == [
        [stamp(0), stamp(1)],
        [stamp(2), stamp(3)],
        [stamp(4)],
    ]
    one = [p["objects"] for p in as_pages(col.get_object, 2, stix_id, version="all")]
    assert [len(objs) for objs in one] == [2, 2, 1]


# -- HTTP: media types, authentication, paths --------------------------------------------------


def test_media_types(server: Hub, parties: dict[str, PartyHandle]) -> None:
    alpha = parties["alpha"]
    path = f"/taxii2/parley/collections/{ALL}/objects/"
    for accept in ("application/json", "application/taxii+json;version=2.0", "text/html"):
        assert_taxii_error(raw(server, alpha, "GET", path, headers={"Accept": accept}), 406)
    for accept in ("application/taxii+json", "*/*", "application/*", "text/html, */*;q=0.1"):
        assert raw(server, alpha, "GET", path, headers={"Accept": accept}).status_code == 200
    for content_type in ("application/json", "application/stix+json;version=2.1", ""):
        response = raw(
            server,
            alpha,
            "POST",
            path,
            headers={"Content-Type": content_type},
            content=b'{"objects": []}',
        )
        assert_taxii_error(response, 415)
    response = raw(
        server,
        alpha,
        "POST",
        path,
        headers={"Content-Type": "application/taxii+json; version=2.1"},
        json={"objects": [threat_actor()]},
    )
    assert response.status_code == 202
    assert response.headers["content-type"] == MEDIA
    assert response.json()["success_count"] == 1


def test_authentication(server: Hub, parties: dict[str, PartyHandle]) -> None:
    alpha, bravo = parties["alpha"], parties["bravo"]

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    path = "/taxii2/parley/collections/"
    accepted = [
        basic("alpha", alpha.token),
        {"Authorization": f"Bearer {alpha.token}"},
        {"Authorization": f"Token {alpha.token}"},
    ]
    for headers in accepted:
        assert raw(server, None, "GET", path, headers=headers).status_code == 200
    refused = [
        {},
        basic("bravo", alpha.token),  # another party's name with alpha's token
        basic("alpha", bravo.token),
        basic("alpha", "wrong"),
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Digest {alpha.token}"},
    ]
    for headers in refused:
        response = raw(server, None, "GET", path, headers=headers)
        assert_taxii_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Basic")


def test_unknown_paths_methods_and_deletes(server: Hub, parties: dict[str, PartyHandle]) -> None:
    alpha = parties["alpha"]
    col = collection(server, alpha)
    thing = threat_actor()
    add(col, [thing])
    assert_taxii_error(raw(server, alpha, "GET", "/taxii2/elsewhere/"), 404)
    assert_taxii_error(raw(server, alpha, "GET", "/taxii2/parley/channels/"), 404)
    response = raw(server, alpha, "PUT", f"/taxii2/parley/collections/{ALL}/objects/")
    assert_taxii_error(response, 405)
    response = raw(server, alpha, "GET", f"/taxii2/parley/collections/{ALL}")
    assert response.status_code == 307
    assert response.headers["location"].endswith(f"/collections/{ALL}/")
    response = raw(
        server, alpha, "DELETE", f"/taxii2/parley/collections/{ALL}/objects/{thing['id']}/"
    )
    assert "logged record" in assert_taxii_error(response, 403)["description"]
    assert ids(all_objects(col)) == [thing["id"]]


def test_a_party_registered_later_sees_only_what_it_is_given(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    col = collection(server, parties["alpha"])
    add(col, [threat_actor(1)])
    key = Ed25519PrivateKey.generate()
    token = setup.add_party(server.settings, "delta", "Delta", "member", key.public_key())
    delta = PartyHandle("delta", "member", token, key)
    # "all" means every party, now and later; a pair with delta starts empty.
    assert len(all_objects(collection(server, delta))) == 1
    assert all_objects(collection(server, delta, pair_id("alpha", "delta"))) == []
    assert pair_id("alpha", "delta") in {c.id for c in root_of(server, delta).collections}
    opened(Client(server.url, "delta", token, key)).submit(
        "intelligence", threat_actor(2), ["alpha"]
    )
    assert len(all_objects(collection(server, parties["alpha"], pair_id("alpha", "delta")))) == 1
