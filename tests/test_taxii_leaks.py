"""Audiences hold on every TAXII path, on both backends.

alpha adds objects to the collection it shares with bravo only. charlie (a member), relief (a
notifier) and monitor (an observer) must learn nothing of them through any endpoint: the listing,
the collection, objects, object by id, versions, manifest, status, ``next`` values, headers or
error messages. Where they ask for something hidden, the answer must be byte for byte the answer
to asking for something that does not exist. Collection ids are derived from audiences, so an
outsider can compute the hidden collection's id: the tests use exactly that id.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from .conftest import PartyHandle
from .conftest import Server as Hub
from .test_taxii import (
    ALL,
    MEDIA,
    add,
    all_objects,
    collection,
    ids,
    indicator,
    pair_id,
    raw,
    root_of,
    threat_actor,
)

OUTSIDERS = ("charlie", "relief", "monitor")
# Headers that legitimately differ between two otherwise identical answers.
VARYING = {"date"}


def same(a: httpx.Response, b: httpx.Response) -> None:
    """Two answers indistinguishable to the client: status, headers and body."""
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.content == b.content
    keep = [(k, v) for k, v in a.headers.items() if k not in VARYING]
    other = [(k, v) for k, v in b.headers.items() if k not in VARYING]
    assert keep == other


class Secret:
    """What alpha shares with bravo only."""

    def __init__(self, server: Hub, parties: dict[str, PartyHandle]) -> None:
        self.collection = pair_id("alpha", "bravo")
        alpha = collection(server, parties["alpha"], self.collection)
        self.id = f"indicator--{uuid.uuid4()}"
        first, second = (indicator(n, stix_id=self.id, modified=n) for n in (1, 2))
        self.objects = [first, second, threat_actor(3)]
        self.status = add(alpha, self.objects).id
        page = alpha.get_objects(limit=1, version="all")
        self.next = page["next"]
        self.submissions = [
            s["message"].split("submission ")[1].split(" ")[0]
            for s in root_of(server, parties["alpha"]).get_status(self.status).successes
        ]
        self.public = indicator(9)
        add(collection(server, parties["alpha"]), [self.public])

    def words(self) -> list[str]:
        """What an outsider must never read: ids, names, the collection's title."""
        return [
            self.id,
            self.collection,
            self.status,
            self.objects[2]["id"],
            *self.submissions,
            "beacon 1",
            "alpha and bravo",  # the hidden collection's title and alias
            "alpha+bravo",
        ]


@pytest.fixture
def secret(server: Hub, parties: dict[str, PartyHandle]) -> Secret:
    return Secret(server, parties)


def assert_silent(response: httpx.Response, secret: Secret) -> None:
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for word in secret.words():
        assert word not in text


def test_insiders_see_it(server: Hub, parties: dict[str, PartyHandle], secret: Secret) -> None:
    """The control: bravo, in the audience, sees everything the others must not."""
    bravo = collection(server, parties["bravo"], secret.collection)
    assert ids(all_objects(bravo, version="all")) == ids(secret.objects)
    assert len(bravo.object_versions(secret.id)["versions"]) == 2


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_the_collection_is_not_listed(
    server: Hub, parties: dict[str, PartyHandle], secret: Secret, outsider: str
) -> None:
    listed = raw(server, parties[outsider], "GET", "/taxii2/parley/collections/")
    assert listed.status_code == 200
    assert secret.collection not in {c["id"] for c in listed.json()["collections"]}
    assert_silent(listed, secret)


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_the_hidden_collection_answers_as_a_missing_one(
    server: Hub, parties: dict[str, PartyHandle], secret: Secret, outsider: str
) -> None:
    party = parties[outsider]
    missing = str(uuid.uuid4())
    envelope = {"objects": [threat_actor()]}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/", {}),
        ("GET", "/objects/", {}),
        ("GET", "/objects/", {"params": {"match[id]": secret.id, "match[version]": "all"}}),
        ("GET", "/objects/", {"params": {"next": secret.next, "match[version]": "all"}}),
        ("GET", "/manifest/", {}),
        ("GET", f"/objects/{secret.id}/", {}),
        ("GET", f"/objects/{secret.id}/versions/", {}),
        ("DELETE", f"/objects/{secret.id}/", {}),
        ("POST", "/objects/", {"json": envelope, "headers": {"Content-Type": MEDIA}}),
        ("PUT", "/objects/", {}),
    ]
    for method, path, options in requests:
        hidden = raw(
            server,
            party,
            method,
            f"/taxii2/parley/collections/{secret.collection}{path}",
            **options,
        )
        absent = raw(
            server, party, method, f"/taxii2/parley/collections/{missing}{path}", **options
        )
        assert hidden.status_code in (404, 405), (method, path, hidden.text)
        same(hidden, absent)
        assert_silent(hidden, secret)


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_the_hidden_object_answers_as_a_missing_one_elsewhere(
    server: Hub, parties: dict[str, PartyHandle], secret: Secret, outsider: str
) -> None:
    """The hidden object's id asked of a collection the outsider can read."""
    party = parties[outsider]
    missing = f"indicator--{uuid.uuid4()}"
    base = f"/taxii2/parley/collections/{ALL}"
    for path, params in [
        ("/objects/{}/", {}),
        ("/objects/{}/", {"match[version]": "all"}),
        ("/objects/{}/versions/", {}),
        ("/objects/", {"match[id]": "{}", "match[version]": "all"}),
        ("/manifest/", {"match[id]": "{}", "match[version]": "all"}),
    ]:

        def ask(stix_id: str, path: str = path, params: dict[str, str] = params) -> httpx.Response:
            filled = {k: v.format(stix_id) for k, v in params.items()}
            return raw(server, party, "GET", base + path.format(stix_id), params=filled)

        hidden, absent = ask(secret.id), ask(missing)
        same(hidden, absent)
        assert_silent(hidden, secret)
    # What the outsider can read holds only what was shared with everyone.
    everything = raw(server, party, "GET", f"{base}/objects/", params={"match[version]": "all"})
    assert [o["id"] for o in everything.json()["objects"]] == [secret.public["id"]]
    assert_silent(everything, secret)
    manifest = raw(server, party, "GET", f"{base}/manifest/")
    assert [o["id"] for o in manifest.json()["objects"]] == [secret.public["id"]]
    # The date headers describe the outsider's page only.
    public = raw(server, parties["alpha"], "GET", f"{base}/manifest/")
    assert (
        everything.headers["x-taxii-date-added-last"] == public.json()["objects"][0]["date_added"]
    )


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_statuses_belong_to_their_requester(
    server: Hub, parties: dict[str, PartyHandle], secret: Secret, outsider: str
) -> None:
    party = parties[outsider]
    hidden = raw(server, party, "GET", f"/taxii2/parley/status/{secret.status}/")
    absent = raw(server, party, "GET", f"/taxii2/parley/status/{uuid.uuid4()}/")
    assert hidden.status_code == 404
    same(hidden, absent)
    assert_silent(hidden, secret)
    # Not even bravo, who may read every object it lists, reads alpha's request.
    insider = raw(server, parties["bravo"], "GET", f"/taxii2/parley/status/{secret.status}/")
    same(insider, raw(server, parties["bravo"], "GET", f"/taxii2/parley/status/{uuid.uuid4()}/"))


def _spare_bits_flipped(last: str) -> str:
    """The last base64url character with its unused low bits changed (same decoded bytes)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet[alphabet.index(last) ^ 1]


def test_next_values_cannot_be_forged_or_moved(
    server: Hub, parties: dict[str, PartyHandle], secret: Secret
) -> None:
    alpha, bravo, charlie = parties["alpha"], parties["bravo"], parties["charlie"]
    hidden = f"/taxii2/parley/collections/{secret.collection}"
    everyone = f"/taxii2/parley/collections/{ALL}"
    garbage = "x" + secret.next[1:]
    flipped = secret.next[:-2] + ("A" if secret.next[-2] != "A" else "B") + secret.next[-1]

    def objects(party: PartyHandle, base: str, value: str, **params: str) -> httpx.Response:
        query = {"next": value, "match[version]": "all", **params}
        return raw(server, party, "GET", f"{base}/objects/", params=query)

    reference = objects(alpha, everyone, "not-a-value")
    assert reference.status_code == 400
    attempts = [
        objects(alpha, everyone, secret.next),  # into another collection
        objects(charlie, everyone, secret.next),  # by another party, into its own collection
        objects(bravo, hidden, secret.next),  # by another reader of the same collection
        objects(alpha, hidden, secret.next, **{"match[type]": "indicator"}),  # other filters
        objects(alpha, hidden, garbage),
        objects(alpha, hidden, flipped),
        # Other spellings of the same bytes: a lenient decoder would take them all.
        objects(alpha, hidden, secret.next + "=" * (-len(secret.next) % 4 or 4)),
        objects(alpha, hidden, secret.next[:5] + "!" + secret.next[5:]),
        objects(alpha, hidden, secret.next[:-1] + _spare_bits_flipped(secret.next[-1])),
        raw(server, alpha, "GET", f"{hidden}/manifest/", params={"next": secret.next}),
        raw(
            server,
            alpha,
            "GET",
            f"{hidden}/objects/{secret.id}/versions/",
            params={"next": secret.next},
        ),
    ]
    for attempt in attempts:
        same(attempt, reference)
    # The value is opaque: neither the collection, the party nor a position reads in it.
    for word in (secret.collection, "alpha", secret.id):
        assert word not in secret.next
    # And it works for the one it was made for.
    rest = objects(alpha, hidden, secret.next)
    assert rest.status_code == 200
    assert len(rest.json()["objects"]) == 2  # the page after the first object


def test_adding_reveals_nothing_about_other_collections(
    server: Hub, parties: dict[str, PartyHandle], secret: Secret
) -> None:
    """charlie adds, to what it shares, an object with the hidden object's id and version:
    the answer is the one for any new object, and alpha's hidden object is untouched."""
    charlie = collection(server, parties["charlie"])
    copy = indicator(7, stix_id=secret.id, modified=2)
    fresh = indicator(7, modified=2)
    copied, new = add(charlie, [copy, fresh]).successes
    for detail in (copied, new):
        assert detail["message"].startswith("logged as submission")
    reread = collection(server, parties["bravo"], secret.collection)
    assert [o["name"] for o in all_objects(reread, version="all")][:2] == ["beacon 1", "beacon 2"]
    # Two objects with one id, one per collection: neither reader sees the other's.
    mine = charlie.get_object(secret.id, version="all")["objects"]
    assert [o["name"] for o in mine] == ["beacon 7"]


def test_basic_credentials_cannot_borrow_a_name(
    server: Hub, parties: dict[str, PartyHandle], secret: Secret
) -> None:
    import base64

    borrowed = base64.b64encode(f"alpha:{parties['charlie'].token}".encode()).decode()
    response = raw(
        server,
        None,
        "GET",
        f"/taxii2/parley/collections/{secret.collection}/objects/",
        headers={"Authorization": f"Basic {borrowed}"},
    )
    assert response.status_code == 401
    assert_silent(response, secret)


def test_the_native_api_and_the_log_agree(
    server: Hub, parties: dict[str, PartyHandle], secret: Secret
) -> None:
    """The submissions behind the hidden objects are restricted records like any other."""
    for outsider in OUTSIDERS:
        with server.client(parties[outsider]) as native:
            for submission_id in secret.submissions:
                found = native.http.get(f"/api/v1/submissions/{submission_id}")
                assert found.status_code == 404
    with server.client(parties["bravo"]) as native:
        record = native.http.get(f"/api/v1/submissions/{secret.submissions[0]}").json()
    assert record["audience"] == ["alpha", "bravo"]
    entry = server.hub.store.entries(record["sequence"], record["sequence"] + 1)[0]
    assert b"intelligence" not in entry and b"alpha" not in entry  # a bare commitment


def test_a_body_over_the_limit_is_refused_in_taxii_format(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    import httpx as _httpx

    alpha = parties["alpha"]
    media = "application/taxii+json;version=2.1"
    auth = {"Authorization": f"Bearer {alpha.token}", "Accept": media}
    listed = _httpx.get(f"{server.url}/taxii2/parley/collections/", headers=auth).json()
    writable = next(c for c in listed["collections"] if c["can_write"])
    response = _httpx.post(
        f"{server.url}/taxii2/parley/collections/{writable['id']}/objects/",
        content=b"{" + b" " * (server.settings.max_body_bytes + 10) + b"}",
        headers={**auth, "Content-Type": media},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/taxii+json")
    assert response.json()["http_status"] == "413"
