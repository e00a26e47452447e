"""Checking an envelope's objects on every core, and building their records there too.

An envelope of 100 simple indicators costs a serving process about 7 ms of checking and 8 ms of
building the records the hub logs (the document, its RFC 8785 bytes, its log entry), all of it
holding the GIL. A TAXII client sends one envelope at a time and waits for the answer, so on a
process that has a core to itself beside it, that work is latency while the other core idles.
Envelopes of at least :data:`SPLIT_AT` objects are therefore shared out (:class:`_Sharing`):
free helper processes take chunks from the front while the calling thread works from the back.

The helpers are plain processes on pipes, not a ``ProcessPoolExecutor``: the calling thread
pickles each chunk and writes it itself, and reads the answers between its own objects. The
executor's feeder and result threads each had to win the GIL back from the checking thread (5 ms
switch interval each way), which made a split envelope slower than an unsplit one (13 against
6.5 ms for 100 objects; bench/README.md, session 10).

How many: the cores this serving process may call its own (``cpu_count // serve processes``),
less the one it runs on, at most three, as for signed submissions
(:func:`parley.hub.checkers.helper_count`). ``parley serve --workers N`` with N at the core count
starts none. A helper is started on first need, in the background, and used only once
it has loaded the checker; a busy or broken one is passed over and its objects checked in the
calling thread. A broken one is replaced, at once if it had been working, else (it could not
start) after :data:`RESTART_S`. The verdicts and records are the same either way: the helpers
run the same code (tests/test_taxii_helpers.py).

The helpers end with the process however it ends: the pipe's other end closes when it does
(EOF), and each also watches its parent (a ``parley serve`` stopped by SIGKILL runs no
clean-up). At a clean exit the pipes are closed first, so the interpreter's join of its
children does not wait on a helper that is waiting for work.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from parley.errors import ParleyError
from parley.hub.admission import Checked as Admitted
from parley.hub.admission import token_authenticated
from parley.hub.checkers import helper_count, watch_parent
from parley.intel.stix import Checked, Refused, Validator
from parley.store.db import Party

SPLIT_AT = 16
CHUNK = 8
ANSWER_S = 120.0  # a helper that has not answered a chunk by then is taken for hung
RESTART_S = 30.0  # a helper that cannot start must not cost 5 s of CPU every envelope

Verdict = Checked | Refused
Result = tuple[Verdict, Admitted | None]

_local = Validator()  # in each helper too: the module is imported afresh there


@dataclass(frozen=True)
class Admission:
    """What building each valid object's token-authenticated record needs (hub/admission.py).

    ``parties`` are the registered parties among the audience, asked in the serving process:
    a helper has no database."""

    kind: str
    party: Party
    audience: str | list[str]
    parties: frozenset[str]
    received: datetime

    def admit(self, checked: Checked) -> Admitted | None:
        try:
            return token_authenticated(
                self.kind,
                self.party,
                checked.object,
                self.audience,
                self.parties.__contains__,
                self.received,
            )
        except ParleyError:
            # Rare (the collection's audience changed); the hub admits it again itself and
            # refuses it there, with the error in its context.
            return None


def check_all(
    items: Sequence[object], admission: Admission | None = None, processes: int = 1
) -> list[Result]:
    """Each item's verdict and, for a valid one when ``admission`` is given, its record (None
    where it could not be built), in order. ``processes``: how many serving processes share
    this machine's cores."""
    helpers = _helpers.free(helper_count(processes)) if len(items) >= SPLIT_AT else []
    if not helpers:
        return _check_slice(items, admission)
    return _Sharing(items, admission).run(helpers)


class _Sharing:
    """One envelope shared out: helpers take chunks of :data:`CHUNK` from the front, each
    given its next as it answers, while the calling thread takes objects one at a time from
    the back, until they meet. A helper slowed by whatever else runs on its core therefore
    takes less, and the caller never waits for more than one chunk."""

    def __init__(self, items: Sequence[object], admission: Admission | None) -> None:
        self.items = items
        self.admission = admission
        self.found: list[Result | None] = [None] * len(items)
        self.front = 0
        self.back = len(items)
        self.out: dict[int, tuple[_Helper, int, int]] = {}  # by pipe: a chunk not yet answered
        self.poller = select.poll()

    def run(self, helpers: Sequence[_Helper]) -> list[Result]:
        try:
            for helper in helpers:
                self._feed(helper)
            while self.front < self.back:
                self.back -= 1
                self.found[self.back] = _check_one(self.items[self.back], self.admission)
                if self.out:
                    self._collect(0)
            while self.out:
                self._collect(int(ANSWER_S * 1000))
            done = [r for r in self.found if r is not None]
            if len(done) != len(self.items):  # never silently an object short
                raise RuntimeError("an envelope's share came back incomplete")
            return done
        finally:
            for helper, _, _ in self.out.values():  # its answer was never read: unusable
                helper.close()
            for helper in helpers:
                helper.release()

    def _feed(self, helper: _Helper) -> None:
        if self.front >= self.back:
            return
        end = min(self.front + CHUNK, self.back)
        if helper.send(list(self.items[self.front : end]), self.admission):
            self.out[helper.conn.fileno()] = (helper, self.front, end)
            self.poller.register(helper.conn.fileno(), select.POLLIN)
            self.front = end

    def _collect(self, timeout_ms: int) -> None:
        ready = [fd for fd, _ in self.poller.poll(timeout_ms)]
        hung = not ready and timeout_ms > 0
        for fd in list(self.out) if hung else ready:
            helper, start, end = self.out.pop(fd)
            self.poller.unregister(fd)
            if hung:
                helper.close()
            answer = None if hung else helper.receive()
            if answer is None or len(answer) != end - start:
                answer = _check_slice(self.items[start:end], self.admission)
            else:
                _helpers.answered += end - start
            self.found[start:end] = answer
            if not helper.broken:
                self._feed(helper)


def _check_one(item: object, admission: Admission | None) -> Result:
    try:
        verdict = _local.check(item)
    except Refused as exc:
        return exc, None
    return verdict, admission.admit(verdict) if admission is not None else None


def _check_slice(items: Sequence[object], admission: Admission | None) -> list[Result]:
    """Runs in a helper (or in the caller): verdicts and records for a slice."""
    return [_check_one(item, admission) for item in items]


def answered_by_helpers() -> int:
    """How many objects helper processes have checked for this process, for the tests (a
    plain counter: concurrent adds may undercount it)."""
    return _helpers.answered


# -- the helper processes ------------------------------------------------------------------------


def _serve(conn: Connection, parent: int) -> None:
    """A helper's life: load the checker, say so, then answer slices until the pipe closes."""
    # Ctrl-C reaches the whole process group; the server decides when its helpers end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent)
    _local.errors({})  # loads stix2-validator and compiles its schemas
    conn.send("ready")
    while True:
        try:
            items, admission = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(_check_slice(items, admission))
        except Exception as exc:  # anything unforeseen: the caller checks the slice itself
            conn.send(f"failed: {type(exc).__name__}")


class _Helper:
    def __init__(self) -> None:
        context = get_context("spawn")  # so no lock held by a server thread is copied in
        self.conn, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(theirs, os.getpid()), name="parley-stix-check"
        )
        self.lock = threading.Lock()
        self.lock.acquire()  # held until the helper has said it is ready
        self.broken = False
        self.started = False  # loaded the checker and said so
        self.process.start()
        theirs.close()
        threading.Thread(target=self._await_ready, name="stix-helper-start", daemon=True).start()

    def _await_ready(self) -> None:
        try:
            ready = self.conn.poll(ANSWER_S) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if ready:
            self.started = True
        else:
            self.close()
        self.lock.release()

    def send(self, items: list[object], admission: Admission | None) -> bool:
        try:
            self.conn.send((items, admission))
            return True
        except (OSError, ValueError):
            self.close()
            return False

    def receive(self) -> list[Result] | None:
        try:
            if self.conn.poll(ANSWER_S):
                answer: Any = self.conn.recv()
                if isinstance(answer, list):
                    return answer
        except (EOFError, OSError):
            pass
        self.close()
        return None

    def release(self) -> None:
        self.lock.release()

    def close(self) -> None:
        self.broken = True
        self.conn.close()
        if self.process.is_alive():
            self.process.terminate()


class _Helpers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._all: list[_Helper] = []
        self.answered = 0  # objects, since the process started
        self._restart_at = 0.0

    def free(self, wanted: int) -> list[_Helper]:
        """Helpers ready and not in use, each now held by the caller (release each)."""
        with self._lock:
            if any(h.broken and not h.started for h in self._all):
                self._restart_at = time.monotonic() + RESTART_S
            self._all = [h for h in self._all if not h.broken]
            if time.monotonic() >= self._restart_at:
                self._start(wanted)
            return [h for h in self._all if h.lock.acquire(blocking=False) and _usable(h)]

    def _start(self, wanted: int) -> None:
        while len(self._all) < wanted:
            try:
                self._all.append(_Helper())
            except (OSError, ValueError):  # cannot start processes here: check in-thread
                self._restart_at = time.monotonic() + RESTART_S
                return

    def close_all(self) -> None:
        with self._lock:
            for helper in self._all:
                helper.close()
            self._all = []


def _usable(helper: _Helper) -> bool:
    if helper.broken:
        helper.release()
        return False
    return True


_helpers = _Helpers()
atexit.register(_helpers.close_all)
