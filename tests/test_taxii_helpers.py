"""An envelope shared with a checking helper process (intel/pool.py, issue 17) is answered as
if the serving thread had checked it alone: the same verdicts in the same places, records the
hub can log, and a helper that dies costs time, never an object.

Real helper processes (``spawn``ed, as ``parley serve`` starts them); the TAXII add goes through
taxii2-client over real HTTP. Needs two cores: with one, no helper is started.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from datetime import UTC, datetime
from typing import Any

import psutil
import pytest

from parley.hub.admission import Checked as Admitted
from parley.hub.admission import log_entry
from parley.intel import pool
from parley.intel.stix import Checked, Refused
from parley.store.db import Party

from .conftest import PartyHandle
from .conftest import Server as Hub
from .test_taxii import add, all_objects, collection, indicator, pair_id, threat_actor

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no helper starts")

ONE_PROCESS = 1  # a serving process alone on the machine: it may use a helper
NO_SPARE_CORE = 10_000  # as many serving processes as could be: no helper


def _mixed(n: int) -> list[Any]:
    """Valid objects, with refusals spread through (some fall in a helper's chunks, some in
    the calling thread's share from the back)."""
    items: list[Any] = []
    for i in range(n):
        if i % 7 == 3:
            items.append(dict(indicator(i), pattern="[ipv4-addr:value = "))
        elif i % 11 == 5:
            items.append("not an object")
        elif i % 13 == 6:
            items.append(dict(threat_actor(i), spec_version="2.0"))
        else:
            items.append(indicator(i) if i % 2 else threat_actor(i))
    return items


def _admission(audience: str | list[str] = "all") -> pool.Admission:
    party = Party(
        "alpha", "Alpha", "member", "A" * 43, "2026-01-01T00:00:00Z", "active", None, None
    )
    named = frozenset() if isinstance(audience, str) else frozenset(audience)
    return pool.Admission("intelligence", party, audience, named, datetime.now(UTC))


def _helped_once() -> None:
    """Start a helper (first call) and wait until one has answered: it loads stix2-validator
    and compiles its schemas first, seconds of CPU."""
    before = pool.answered_by_helpers()
    deadline = time.monotonic() + 120
    while pool.answered_by_helpers() == before:
        assert time.monotonic() < deadline, "no checking helper answered within 120 s"
        pool.check_all([indicator(i) for i in range(pool.SPLIT_AT * 4)], None, ONE_PROCESS)
        time.sleep(0.2)


def _alive(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _helpers() -> list[psutil.Process]:
    """This process's helpers (``spawn``ed children), not yet dead."""
    found = []
    for p in psutil.Process().children():
        try:
            if "spawn_main" in " ".join(p.cmdline()) and _alive(p):
                found.append(p)
        except psutil.NoSuchProcess:
            continue
    return found


def _same_verdict(a: Checked | Refused, b: Checked | Refused) -> bool:
    if isinstance(a, Refused) or isinstance(b, Refused):
        return type(a) is type(b) and str(a) == str(b)
    return a == b


def _payload(compact: str) -> Any:
    part = compact.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _assert_loggable(built: Admitted, obj: dict[str, Any], audience: list[str]) -> None:
    record = built.record
    assert record.kind == "intelligence" and record.party_id == "alpha"
    assert record.audience == tuple(sorted(audience))
    assert built.document["body"] == obj
    assert _payload(record.jws) == built.document  # what is logged is what was checked
    assert record.entry == log_entry(
        record.id, record.kind, record.party_id, record.received_at, record.jws, record.salt
    )


def test_shared_envelopes_get_the_verdicts_and_records_of_one_thread() -> None:
    _helped_once()
    items = _mixed(200)
    audience = ["alpha", "bravo"]
    admission = _admission(audience)
    before = pool.answered_by_helpers()
    shared = pool.check_all(items, admission, ONE_PROCESS)
    assert pool.answered_by_helpers() - before >= pool.CHUNK, "the helper took no part"
    alone = pool.check_all(items, admission, NO_SPARE_CORE)

    assert len(shared) == len(alone) == len(items)
    for i, ((verdict, built), (expected, _)) in enumerate(zip(shared, alone, strict=True)):
        assert _same_verdict(verdict, expected), (i, verdict, expected)
        if isinstance(verdict, Checked):
            assert verdict.object == items[i]
            assert built is not None
            _assert_loggable(built, items[i], audience)
        else:
            assert built is None
    records = [built.record.id for _, built in shared if built is not None]
    assert len(set(records)) == len(records)  # each its own submission id


def test_a_helper_killed_costs_time_not_objects() -> None:
    _helped_once()
    helpers = _helpers()
    assert helpers, "no helper process found"
    for helper in helpers:
        os.kill(helper.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_alive(h) for h in helpers):  # the pool reaps them itself, so no wait() here
        assert time.monotonic() < deadline
        time.sleep(0.05)

    items = _mixed(120)
    shared = pool.check_all(items, _admission(), ONE_PROCESS)
    alone = pool.check_all(items, _admission(), NO_SPARE_CORE)
    assert [type(v) for v, _ in shared] == [type(v) for v, _ in alone]
    assert all(_same_verdict(a, b) for (a, _), (b, _) in zip(shared, alone, strict=True))
    assert all((b is None) == isinstance(v, Refused) for v, b in shared)

    # A new helper takes the dead one's place.
    _helped_once()
    assert not {p.pid for p in _helpers()} & {p.pid for p in helpers}


def test_a_shared_add_reports_each_object_in_its_place(
    server: Hub, parties: dict[str, PartyHandle]
) -> None:
    _helped_once()
    alpha = parties["alpha"]
    col = collection(server, alpha, pair_id("alpha", "bravo"))
    repeat = indicator(10_000)
    add(col, [repeat])
    items = _mixed(60)
    items[2] = repeat  # in the helper's first chunk
    items[-2] = dict(repeat)  # in the calling thread's share, a second time

    before = pool.answered_by_helpers()
    status = add(col, items)
    assert pool.answered_by_helpers() > before, "the helper took no part"

    alone = pool.check_all(items, None, NO_SPARE_CORE)
    refused = {i for i, (v, _) in enumerate(alone) if isinstance(v, Refused)}
    assert status.total_count == len(items)
    assert status.failure_count == len(refused)
    assert sorted(f["id"] for f in status.failures) == sorted(
        items[i]["id"] if isinstance(items[i], dict) else "" for i in refused
    )
    again = [s for s in status.successes if "already in the collection" in s["message"]]
    assert [s["id"] for s in again] == [repeat["id"], repeat["id"]]

    reader = collection(server, parties["bravo"], pair_id("alpha", "bravo"))
    logged = [items[i] for i in range(len(items)) if i not in refused and i not in (2, 58)]
    assert all_objects(reader)[1:] == logged  # in the envelope's order, each once
