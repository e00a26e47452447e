"""Checking very large envelopes on every core.

Checking an indicator whose pattern is one of the common simple ones costs about 150 µs
(parley.intel.patterns reads it without ANTLR); one whose pattern needs ANTLR costs most of a
millisecond. Envelopes at least :data:`SPLIT_AT` objects long are cut into one slice per worker
process; smaller ones, and everything when the pool cannot start or breaks, are checked in the
calling thread with the same :class:`Validator`. The verdicts are the same either way: the
workers run the same code.

Why only very large ones: `parley serve` already runs one process per core, so the pool adds no
throughput, only latency for one huge envelope; and a pool costs each serving process two more
processes that import stix2-validator and compile its schemas (seconds of CPU each on start),
and pickling every object and verdict across. Measured on 2 busy cores with envelopes of 100
and 1,000 simple indicators, checking in the pool cost as much CPU per object as checking in
the calling thread (180-250 µs against 150-200 µs) and took as long. So typical envelopes (TAXII
clients send about a hundred objects) never start it.

One pool per process (``spawn``ed, so no lock held by one of the server's threads is copied into
a worker), started on first use. The workers end with the process however it ends: each watches
its parent and exits when it is gone (a ``parley serve`` stopped by SIGTERM or SIGKILL runs no
clean-up, and a worker waiting for work would otherwise wait for ever, re-parented to init, and
keep multiprocessing's resource tracker alive with it; the tracker exits once the last worker
has).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from parley.intel.stix import Checked, Refused, Validator

SPLIT_AT = 1000
MAX_WORKERS = 8
WATCH_S = 0.2

Verdict = Checked | Refused

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_local = Validator()  # in each worker too: the module is imported afresh there


def check_all(items: Sequence[object]) -> list[Verdict]:
    """Each item's verdict, in order."""
    workers = min(MAX_WORKERS, os.cpu_count() or 1)
    if len(items) < SPLIT_AT or workers < 2:
        return _check_slice(items)
    pool = _get_pool(workers)
    if pool is None:
        return _check_slice(items)
    size = -(-len(items) // workers)
    slices = [list(items[i : i + size]) for i in range(0, len(items), size)]
    try:
        return [verdict for part in pool.map(_check_slice, slices) for verdict in part]
    except (BrokenProcessPool, OSError, RuntimeError):
        _discard(pool)
        return _check_slice(items)


def _check_slice(items: Sequence[object]) -> list[Verdict]:
    """Runs in a worker (or in the caller): verdicts for a slice."""
    found: list[Verdict] = []
    for item in items:
        try:
            found.append(_local.check(item))
        except Refused as exc:
            found.append(exc)
    return found


def _watch_parent(parent: int) -> None:
    """Runs first in each worker: end the worker when the process that started it has ended."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_S)
        os._exit(0)  # no clean-up to do: a worker holds nothing but its inputs

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _get_pool(workers: int) -> ProcessPoolExecutor | None:
    global _pool
    with _lock:
        if _pool is None:
            try:
                _pool = ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=get_context("spawn"),
                    initializer=_watch_parent,
                    initargs=(os.getpid(),),
                )
            except (OSError, ValueError):
                return None
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)
