"""The write path's screening (issue 17): a process brings the records it commits into force
from its writer's commit hook and never reads them back from the database; rows written by
another process on the same database are still read, in log order, and screened against."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from parley.client.http import document
from parley.config import Settings
from parley.hub.admission import Accepted
from parley.hub.core import Hub
from parley.parties import jws

from .conftest import PartyHandle
from .test_screening_hub import HOSPITAL, east_of, operation, site


def _submit(hub: Hub, party: PartyHandle, kind: str, body: dict[str, Any]) -> Accepted:
    signed = jws.sign(document(kind, party.id, body), party.key, party.id)
    (outcome,) = asyncio.run(hub.submit(hub.authenticate(party.token), [signed]))
    assert isinstance(outcome, Accepted), outcome
    return outcome


def counting_reads(hub: Hub) -> Callable[[], int]:
    """From now on, count the times ``hub`` asks the database for other processes' rows."""
    reads = 0
    real = hub.store.iter_submissions

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return real(*args, **kwargs)

    hub.store.iter_submissions = counted  # type: ignore[method-assign]
    return lambda: reads


def test_a_process_never_reads_back_its_own_rows(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    hub = Hub(settings)
    try:
        start = hub.screening.rows_read
        hospital = _submit(hub, parties["relief"], "site", site(*HOSPITAL))
        patrol = _submit(hub, parties["alpha"], "operation", operation(*HOSPITAL, 2000))
        # A second hospital 50 m away: the duplicate probe sees the first one from memory.
        second = _submit(hub, parties["relief"], "site", site(*east_of(*HOSPITAL, 50)))
        other = _submit(hub, parties["bravo"], "operation", operation(*HOSPITAL, 500))
    finally:
        hub.close()
    assert [c["other"] for c in patrol.conflicts] == [hospital.record.id]
    assert any(hospital.record.id in flag for flag in second.flags), second.flags
    assert {c["other"] for c in other.conflicts} == {
        hospital.record.id,
        second.record.id,
        patrol.record.id,
    }
    assert hub.screening.rows_read == start  # nothing this process wrote was read back


def test_a_row_another_process_wrote_is_screened(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    # Two hubs on one database, as two `parley serve` processes (--workers 2 on SQLite).
    shared = replace(settings, workers=2)
    first, second = Hub(shared), Hub(shared)
    try:
        hospital = _submit(first, parties["relief"], "site", site(*HOSPITAL))
        patrol = _submit(second, parties["alpha"], "operation", operation(*HOSPITAL, 2000))
        assert second.screening.rows_read == 1  # the hospital, written by the other
        other = _submit(first, parties["bravo"], "operation", operation(*HOSPITAL, 500))
        assert first.screening.rows_read == 1  # the patrol, not its own hospital
        # A gap in the log (the other's row between two of ours) is read before ours is screened.
        late = _submit(second, parties["charlie"], "operation", operation(*HOSPITAL, 800))
        assert second.screening.rows_read == 2
    finally:
        first.close()
        second.close()
    assert [c["other"] for c in patrol.conflicts] == [hospital.record.id]
    assert {c["other"] for c in other.conflicts} == {hospital.record.id, patrol.record.id}
    assert {c["other"] for c in late.conflicts} == {
        hospital.record.id,
        patrol.record.id,
        other.record.id,
    }


def test_a_request_asks_the_database_for_other_processes_rows_once(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    """Each rule used to catch up on its own (two queries per site): a batch is checked against
    one view, read once when it arrives, which still holds what other processes committed."""
    shared = replace(settings, workers=2)
    first, second = Hub(shared), Hub(shared)
    try:
        hospital = _submit(first, parties["relief"], "site", site(*HOSPITAL))
        reads = counting_reads(second)
        party = parties["relief"]
        sites = [site(*east_of(*HOSPITAL, 50 + 5000 * i)) for i in range(12)]
        signed = [jws.sign(document("site", party.id, b), party.key, party.id) for b in sites]
        outcomes = asyncio.run(second.submit(second.authenticate(party.token), signed))
    finally:
        first.close()
        second.close()
    assert all(isinstance(o, Accepted) for o in outcomes), outcomes
    near = outcomes[0]
    assert isinstance(near, Accepted)
    assert any(hospital.record.id in flag for flag in near.flags), near.flags
    assert reads() == 1
    assert second.screening.rows_read == 1  # the hospital, read in that one query
