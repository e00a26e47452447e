"""A small client that signs documents for a party and submits them to a hub."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import clock
from parley.errors import ParleyError
from parley.parties import jws
from parley.parties.keys import load_private_key


class HubError(ParleyError):
    """The hub refused a request; carries its problem document."""

    def __init__(self, problem: dict[str, Any]) -> None:
        super().__init__(str(problem.get("detail") or problem.get("title")))
        self.status = int(problem.get("status", 500))
        self.title = str(problem.get("title", "Error"))
        self.body = problem

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
    ) -> None:
        self.party = party
        self.key = load_private_key(key) if isinstance(key, Path) else key
        self.http = httpx.Client(
            base_url=hub.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
            timeout=timeout,
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
        raise HubError(body)
    return body
