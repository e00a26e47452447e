"""Shared catch-ups (hub/catchup.py): a request's rules read a view caught up after it arrived,
and the requests that arrive while one catch-up runs share the next one, off the event loop."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any

import pytest

from parley.client.http import document
from parley.config import Settings
from parley.hub.admission import Accepted
from parley.hub.catchup import SharedCatchUp
from parley.hub.core import Hub
from parley.parties import jws

from .conftest import PartyHandle
from .test_screening_hub import HOSPITAL, east_of, site
from .test_write_path_screening import counting_reads


class Gate:
    """A catch-up that records when each run starts and waits to be let through."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.release: list[threading.Event] = []
        self.fail: set[int] = set()

    def __call__(self) -> None:
        n = len(self.started)
        self.release.append(threading.Event())
        self.started.append(n)
        assert self.release[n].wait(10)
        if n in self.fail:
            raise RuntimeError(f"the database went away in run {n}")


async def _until(condition: Any) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


def test_a_request_waits_for_a_catch_up_that_started_after_it_arrived() -> None:
    gate = Gate()
    shared = SharedCatchUp(gate, needed=True)

    async def scenario() -> None:
        first = asyncio.create_task(shared.wait())
        await _until(lambda: gate.started == [0])
        # These arrive while run 0 reads: it may have missed what was committed just now.
        later = [asyncio.create_task(shared.wait()) for _ in range(5)]
        await asyncio.sleep(0.05)
        assert not first.done()
        gate.release[0].set()
        await first
        await _until(lambda: gate.started == [0, 1])
        assert not any(t.done() for t in later)  # run 0 does not count for them
        gate.release[1].set()
        await asyncio.gather(*later)
        assert gate.started == [0, 1]  # five requests, one catch-up

    asyncio.run(scenario())


def test_a_failed_catch_up_fails_its_requests_and_the_next_one_runs() -> None:
    gate = Gate()
    gate.fail.add(0)
    shared = SharedCatchUp(gate, needed=True)

    async def scenario() -> None:
        first = asyncio.create_task(shared.wait())
        await _until(lambda: gate.started == [0])
        later = [asyncio.create_task(shared.wait()) for _ in range(3)]
        await asyncio.sleep(0.05)
        gate.release[0].set()
        with pytest.raises(RuntimeError, match="went away"):
            await first
        # Those that arrived during the failed run share the next one, which succeeds.
        await _until(lambda: gate.started == [0, 1])
        gate.release[1].set()
        await asyncio.gather(*later)

    asyncio.run(scenario())


def test_the_only_writer_never_catches_up() -> None:
    gate = Gate()
    asyncio.run(SharedCatchUp(gate, needed=False).wait())
    assert gate.started == []


def test_concurrent_requests_share_catch_ups_and_see_the_other_process(
    settings: Settings, parties: dict[str, PartyHandle]
) -> None:
    """Two processes on one database: 20 sites sent at once to the second, each 50 m from a
    hospital the first committed before they were sent, are each flagged as its duplicate,
    and the second asked the database fewer times than it had requests."""
    shared = replace(settings, workers=2)
    first, second = Hub(shared), Hub(shared)
    party = parties["relief"]
    try:
        signed = jws.sign(document("site", party.id, site(*HOSPITAL)), party.key, party.id)
        (hospital,) = asyncio.run(first.submit(first.authenticate(party.token), [signed]))
        assert isinstance(hospital, Accepted)
        reads = counting_reads(second)
        bodies = [site(*east_of(*HOSPITAL, 50 + i * 0.5)) for i in range(20)]
        each = [[jws.sign(document("site", party.id, b), party.key, party.id)] for b in bodies]

        async def all_at_once() -> list[Any]:
            who = second.authenticate(party.token)
            return await asyncio.gather(*(second.submit(who, one) for one in each))

        outcomes = [o for (o,) in asyncio.run(all_at_once())]
    finally:
        first.close()
        second.close()
    assert all(isinstance(o, Accepted) for o in outcomes), outcomes
    for outcome in outcomes:
        assert any(hospital.record.id in flag for flag in outcome.flags), outcome.flags
    assert 1 <= reads() < len(outcomes)
