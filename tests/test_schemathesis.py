"""Schemathesis against the hub's own /openapi.json, over a real socket on both backends.

Every operation in the schema gets requests generated from it, valid and invalid, sent with a
real party's bearer token. No answer may be a 5xx, and every 4xx must be a problem document
(RFC 9457), or under /taxii2/ a TAXII error message. Bounded by count and by time, so the run
stays a few seconds per backend; failures are collected over every operation and reported
together, each with the request that reproduces it.
"""

from __future__ import annotations

import time
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.transport import Response

from .conftest import PartyHandle, Server

EXAMPLES_PER_MODE = 12
BUDGET_S = 25.0
REQUEST_TIMEOUT_S = 10.0
# An endless Server-Sent Events stream cannot be fuzzed by waiting for its end; its bad
# cursors are tested in the alert tests.
ENDLESS = {"/api/v1/alerts/stream"}


def _acceptable(path: str, response: Response) -> str | None:
    """Why ``response`` breaks the contract, or None."""
    status = response.status_code
    media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    if status >= 500:
        return f"{status}: {response.text_lossy()[:300]}"
    if 400 <= status < 500:
        wanted = "application/taxii+json" if path.startswith("/taxii2/") else None
        if media != "application/problem+json" and media != wanted:
            return f"{status} as {media!r}, not a problem document: {response.text_lossy()[:300]}"
        body: Any = response.json()
        if wanted is None and not {"type", "title", "status", "detail"} <= set(body):
            return f"{status} problem document without type, title, status, detail: {body}"
    return None


def _reproduce(case: Any, base_url: str) -> str:
    kwargs = case.as_transport_kwargs(base_url=base_url)
    shown = {k: v for k, v in kwargs.items() if k in ("method", "url", "params", "json", "data")}
    headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k != "Authorization"}
    return f"{shown} headers={headers}"


class Run:
    """Requests sent and contract failures found, over every operation of one hub."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.session = requests.Session()
        self.deadline = time.monotonic() + BUDGET_S
        self.sent = 0
        self.failures: dict[str, str] = {}

    def fuzz(self, operation: Any, mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_MODE,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def probe(case: Any) -> None:
            if operation.label in self.failures or time.monotonic() > self.deadline:
                return
            response = case.call(
                base_url=self.base_url,
                session=self.session,
                headers=self.headers,
                timeout=REQUEST_TIMEOUT_S,
            )
            self.sent += 1
            why = _acceptable(operation.path, response)
            if why is not None:
                self.failures[operation.label] = f"{why}\n    {_reproduce(case, self.base_url)}"

        try:
            probe()
        except Unsatisfiable:
            # No invalid request can be made of an operation without parameters or body.
            assert mode is GenerationMode.NEGATIVE, operation.label


def test_no_operation_answers_a_5xx(server: Server, parties: dict[str, PartyHandle]) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20, "the schema lost its operations"
    run = Run(server.url, parties["alpha"].token)
    for operation in operations:
        if operation.path in ENDLESS:
            continue
        run.fuzz(operation, GenerationMode.POSITIVE)
        if len(operation.query) or len(operation.body):
            # A path parameter is any string, so nothing generated for it is invalid: negative
            # generation spins on its filters for seconds and then gives up.
            run.fuzz(operation, GenerationMode.NEGATIVE)
    print(f"schemathesis: {run.sent} requests over {len(operations)} operations")
    assert run.sent > len(operations), "the time budget ran out before most operations were tried"
    assert not run.failures, "\n".join(f"{label}: {why}" for label, why in run.failures.items())
