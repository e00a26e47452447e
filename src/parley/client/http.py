"""A small client that signs documents for a party and submits them to a hub."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import clock
from parley.errors import ParleyError
from parley.parties import jws
from parley.parties.keys import load_private_key

# check_hub_url is re-exported: callers of the client check a hub URL before building one.
from parley.transport import Trust
from parley.transport import check_hub_url as check_hub_url


class HubError(ParleyError):
    """The hub refused a request; carries its problem document."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(str(problem.get("detail") or problem.get("title")))
        self.status = int(problem.get("status", 500))
        self.title = str(problem.get("title", "Error"))
        self.body = problem
        # The request refused, so a person sees which hub and path answered.
        self.url: str | None = None

    def problem(self) -> dict[str, Any]:
        return self.body


def document(
    kind: str, party: str, body: dict[str, Any], audience: str | list[str] = "all"
) -> dict[str, Any]:
    return {
        "kind": kind,
        "party": party,
        "client_time": clock.iso(clock.now()),
        "nonce": secrets.token_urlsafe(18),
        "audience": audience,
        "body": body,
    }


class Client:
    def __init__(
        self,
        hub: str,
        party: str,
        token: str,
        key: Ed25519PrivateKey | Path,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        ca: Path | None = None,
        insecure: bool = False,
    ) -> None:
        self.party = party
        self.key = load_private_key(key) if isinstance(key, Path) else key
        self.http = Trust(ca, insecure).client(
            hub, token=token, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def sign(self, kind: str, body: dict[str, Any], audience: str | list[str] = "all") -> str:
        return jws.sign(document(kind, self.party, body, audience), self.key, self.party)

    def submit(
        self, kind: str, body: dict[str, Any], audience: str | list[str] = "all"
    ) -> dict[str, Any]:
        return self.submit_signed(self.sign(kind, body, audience))

    def submit_signed(self, compact: str) -> dict[str, Any]:
        response = self.http.post(
            "/api/v1/submissions",
            content=compact,
            headers={"Content-Type": "application/jose"},
        )
        answer: dict[str, Any] = _answer(response)
        return answer

    def submit_batch(self, compacts: list[str]) -> list[dict[str, Any]]:
        response = self.http.post("/api/v1/submissions/batch", json={"submissions": compacts})
        results: list[dict[str, Any]] = _answer(response)["results"]
        return results

    def get(self, path: str, **params: Any) -> Any:
        return _answer(self.http.get(path, params=params))


def _answer(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = {
            "title": "Unexpected answer",
            "status": response.status_code,
            "detail": response.text[:500],
        }
    if response.status_code >= 400:
        if not isinstance(body, dict):
            body = {"status": response.status_code, "detail": str(body)}
        body.setdefault("status", response.status_code)
        error = HubError(body)
        error.url = f"{response.request.method} {response.request.url}"
        raise error
    return body


def pages(client: Client, path: str, start: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list (``items`` and ``next``), following ``next`` from ``start``."""
    items: list[dict[str, Any]] = []
    cursor = start
    while True:
        page = client.get(path, cursor=cursor, limit=1000, **params)
        items.extend(page["items"])
        if page.get("next") is None or not page["items"]:
            return items
        cursor = page["next"]


def submissions(client: Client, **params: Any) -> list[dict[str, Any]]:
    """Every submission the caller may see (optionally of one ``kind``), in log order."""
    return pages(client, "/api/v1/submissions", -1, **params)


UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# How each kind of screening conflict reads, from the operation's side.
VERBS = {
    "protected-site": "is within the protected distance of",
    "area-rule": "is in breach of the area rule of",
    "deconfliction": "is within the separation of",
    "movement": "is within the corridor of",
}
SIDES = ("operation", "site", "area", "movement", "other_operation")


def short(record_id: str) -> str:
    return record_id[:8]


class Names:
    """Records the caller may see, by id, to show people names rather than ids: fetched once
    per command, so a long listing costs one pass over the log, not a request per line."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = {r["id"]: r for r in records}

    @classmethod
    def fetch(cls, client: Client) -> Names:
        return cls(submissions(client))

    def body(self, record_id: str | None) -> dict[str, Any]:
        record = self.records.get(record_id or "")
        body = ((record or {}).get("document") or {}).get("body")
        return body if isinstance(body, dict) else {}

    def kind(self, record_id: str | None) -> str | None:
        record = self.records.get(record_id or "")
        return None if record is None else str(record["kind"])

    def name(self, record_id: str | None) -> str | None:
        name = self.body(record_id).get("name")
        return name if isinstance(name, str) else None

    def label(self, record_id: str | None) -> str:
        """``hospital "Al-Razi" (site 2f5e49db)``: kind, name and a short id."""
        if not record_id:
            return "a record you cannot see"
        kind = self.kind(record_id)
        if kind is None:
            return f"record {short(record_id)}"
        body = self.body(record_id)
        what = kind
        if kind == "site" and isinstance(body.get("category"), str):
            what = body["category"]
        elif kind == "area" and isinstance(body.get("rule"), str):
            what = f"{body['rule']} area"
        name = self.name(record_id)
        named = f' "{name}"' if name else ""
        return f"{what}{named} ({kind} {short(record_id)})"

    def volumes(self, operation_id: str | None, indices: list[Any]) -> str:
        """``volumes 1, 2 of operation "Dawn" (operation 1d5889b8)``: numbered from 1."""
        numbers = [str(int(i) + 1) for i in indices if isinstance(i, int)]
        if not numbers:
            return self.label(operation_id)
        word = "volume" if len(numbers) == 1 else "volumes"
        return f"{word} {', '.join(numbers)} of {self.label(operation_id)}"

    def text(self, message: str) -> str:
        """A hub message with each record id it names replaced by the record's label."""
        return UUID.sub(lambda m: self.label(m.group(0)), message)

    def sides(self, conflict: dict[str, Any]) -> dict[str, str | None]:
        """The conflict's sides by role: the hub's role keys when it gives them, else worked out
        from the kinds of ``record`` and ``other``."""
        if any(k in conflict for k in SIDES):
            return {k: conflict.get(k) for k in SIDES if k in conflict}
        found: dict[str, str | None] = {}
        for record_id in (conflict.get("record"), conflict.get("other")):
            kind = self.kind(record_id)
            if kind == "operation":
                found["other_operation" if "operation" in found else "operation"] = record_id
            elif kind in ("site", "area", "movement"):
                found[kind] = record_id
        return found

    def conflict(self, conflict: dict[str, Any]) -> str:
        """One line: severity, kind, state, and the sides by name."""
        state = f" ({conflict['state']})" if conflict.get("state") else ""
        head = f"{conflict['severity']} {conflict['kind']}{state}"
        sides = self.sides(conflict)
        facts = conflict.get("facts") or {}
        operation = sides.get("operation")
        others = [v for k, v in sides.items() if k != "operation" and v]
        hidden = conflict.get("record") is None or conflict.get("other") is None
        if operation is None or not others or hidden:
            return f"{head}: {self.text(str(conflict.get('detail', '')))}"
        if sides.get("other_operation"):
            other = self.volumes(sides["other_operation"], facts.get("other_volumes") or [])
        else:
            other = self.label(others[0])
        verb = VERBS.get(str(conflict["kind"]), "meets")
        distance = conflict.get("distance_m")
        at = f", {distance:,.0f} m apart" if isinstance(distance, int | float) else ""
        mine = self.volumes(operation, facts.get("volumes") or [])
        return f"{head}: {mine} {verb} {other}{at}"
