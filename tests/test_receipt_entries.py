"""A receipt's entry comes from memory while it is recent (hub/hublog.py, RECENT_ENTRIES) and
from the database once it is not: the same receipt either way, verifiable offline."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from parley.client.http import document
from parley.client.receipts import verify
from parley.config import Settings
from parley.hub import hublog
from parley.hub.admission import Accepted
from parley.hub.core import Hub
from parley.parties import jws

from .conftest import PartyHandle
from .test_screening_hub import HOSPITAL, east_of, site


def test_recent_entries_are_read_from_memory_and_older_ones_from_the_database(
    settings: Settings, parties: dict[str, PartyHandle], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hublog, "RECENT_ENTRIES", 3)
    hub = Hub(settings)
    party = parties["relief"]
    reads: list[tuple[int, int]] = []
    real = hub.store.entries

    def counted(start: int, stop: int) -> list[bytes]:
        reads.append((start, stop))
        return real(start, stop)

    try:
        signed = [
            jws.sign(
                document("site", party.id, site(*east_of(*HOSPITAL, 500 * i))), party.key, party.id
            )
            for i in range(6)
        ]
        outcomes = asyncio.run(hub.submit(hub.authenticate(party.token), signed))
        hub.log.publish()
        hub.store.entries = counted  # type: ignore[method-assign]
        found: list[dict[str, Any]] = []
        for outcome in outcomes:
            assert isinstance(outcome, Accepted)
            sub = hub.store.get_submission(outcome.record.id, party.id)
            assert sub is not None
            receipt = hub.log.receipt(sub)
            assert receipt is not None
            found.append(receipt)
        stored = real(0, 6)
        key = hub.log.verifier_key
    finally:
        hub.close()
    # Only the three oldest were read back, one each.
    assert reads == [(0, 1), (1, 2), (2, 3)]
    for i, receipt in enumerate(found):
        assert base64.b64decode(receipt["entry"]) == stored[i]
        verify(receipt, key)
