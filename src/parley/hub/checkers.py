"""Checking signed submissions on the spare cores, while the event loop serves other requests.

One ``parley serve`` process runs HTTP, the rules, the screening and the writer under one GIL.
The checks that need nothing but the document and its author's key (the strict JWS parse, the
Ed25519 verification, RFC 8785, the kind's schema, the record's id and log entry) cost about a
fifth of a submission one per request and two fifths in batches (bench/README.md, session 11).
A serving process with a core beside it hands them to helper processes instead and awaits the
answer, so its event loop goes on with other requests' HTTP, rules and commits meanwhile.

The helpers answer with the record the hub would have built, or None for a refusal: the hub
then checks that submission again itself, so every refusal's text (and the signature
explanation that reads the key history from the database) comes from one place, and a party
registered since the job was sent is seen. A helper is given the author's key in force, the
registered parties and the receive time, so its answer is the one the serving thread would have
given at that moment.

Helpers are plain processes on Unix socket pairs. The serving side writes each job whole and a
reader task per helper resolves the answers in order; a helper is attached to the event loop
that first uses it, and moved to another only when idle (the tests run many loops in one
process). A busy-looking helper is not avoided: jobs queue on it in order. One that is not
ready yet, broken or hung is passed over and the caller checks in its own thread; a broken
one is replaced on the next job, one that never started after :data:`RESTART_S`.

They end with the server: the socket's other end closes when it does (EOF), each also watches
its parent (a ``parley serve`` stopped by SIGKILL runs no clean-up), and SIGINT, which a
Ctrl-C sends the whole process group, is ignored so that the server decides.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import os
import pickle
import signal
import socket
import struct
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from multiprocessing.process import BaseProcess

from parley.errors import ParleyError
from parley.hub.admission import Checked, check
from parley.parties import roles
from parley.records import schemas
from parley.store.rows import Party

MAX_HELPERS = 3
WATCH_S = 0.2
ANSWER_S = 60.0  # a helper that has not answered a job by then is taken for hung
START_S = 60.0
RESTART_S = 30.0  # a helper that cannot start must not be spawned again on every request
# A helper that dies ends its stream, which its lane sees at once; asking the kernel too (a
# waitpid) cost 35-57 us of every request (py-spy, session 12), so that is done once a second.
POLL_S = 1.0
_HEADER = struct.Struct("!Q")
_READY = b"ready"


@dataclass(frozen=True)
class Job:
    """One request's submissions and what checking them needs, taken in the serving process."""

    compacts: tuple[str, ...]
    signer: Party  # the author, with the key in force at ``received``
    parties: frozenset[str]  # registered party ids, for the audience
    received: datetime
    max_skew_s: float


def run(job: Job) -> list[Checked | None]:
    """Each submission's record, or None where a check refused it (in a helper, or here)."""
    found: list[Checked | None] = []
    for compact in job.compacts:
        try:
            found.append(
                check(compact, job.signer, job.parties.__contains__, job.received, job.max_skew_s)
            )
        except ParleyError:
            found.append(None)
    return found


def helper_count(processes: int) -> int:
    """The cores a serving process may call its own, less the one it runs on."""
    return max(0, min(MAX_HELPERS, (os.cpu_count() or 1) // max(1, processes) - 1))


# -- the helper process --------------------------------------------------------------------------


def _serve(sock: socket.socket, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent)
    for kind in roles.KINDS:  # compile every schema before saying so: no slow first job
        schemas.validator(kind)
    _send(sock, _READY)
    while True:
        try:
            job = pickle.loads(_receive(sock))
        except (EOFError, OSError):
            return
        try:
            answer = pickle.dumps(run(job), pickle.HIGHEST_PROTOCOL)
        except Exception:  # anything unforeseen: the hub checks the job itself
            answer = pickle.dumps(None)
        try:
            _send(sock, answer)
        except OSError:
            return


def watch_parent(parent: int) -> None:
    """End this helper process once ``parent`` has (the TAXII checking helpers use it too)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_S)
        os._exit(0)  # a helper holds nothing but its inputs

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _send(sock: socket.socket, data: bytes) -> None:
    sock.sendall(_HEADER.pack(len(data)) + data)


def _receive(sock: socket.socket) -> bytes:
    (size,) = _HEADER.unpack(_exactly(sock, _HEADER.size))
    return _exactly(sock, size)


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError
        chunks += chunk
    return bytes(chunks)


# -- the serving side ----------------------------------------------------------------------------


class _Lane:
    """A helper attached to one event loop: its streams, and the answers it owes, in order."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.loop = loop
        self.reader = reader
        self.writer = writer
        self.owed: collections.deque[asyncio.Future[list[Checked | None] | None]] = (
            collections.deque()
        )
        self.ended = False  # the stream broke: nothing sent on it would be answered
        self.task = loop.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                (size,) = _HEADER.unpack(await self.reader.readexactly(_HEADER.size))
                answer = pickle.loads(await self.reader.readexactly(size))
                future = self.owed.popleft()
                if not future.done():
                    future.set_result(answer if isinstance(answer, list) else None)
        except (asyncio.IncompleteReadError, OSError, IndexError, pickle.UnpicklingError):
            pass
        finally:
            self.ended = True
            self.fail()

    def fail(self) -> None:
        while self.owed:
            future = self.owed.popleft()
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        self.task.cancel()
        self.fail()
        with contextlib.suppress(Exception):  # its loop may be closed already
            self.writer.close()


class _Helper:
    def __init__(self) -> None:
        context = get_context("spawn")  # so no lock held by a server thread is copied in
        self.sock, theirs = socket.socketpair()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(theirs, os.getpid()), name="parley-check", daemon=True
        )
        self.broken = False
        self.started = False
        self.lane: _Lane | None = None
        self._attaching: asyncio.Future[_Lane | None] | None = None
        self.process.start()
        theirs.close()
        threading.Thread(target=self._await_ready, name="check-helper-start", daemon=True).start()

    def _await_ready(self) -> None:
        try:
            self.sock.settimeout(START_S)
            ready = _receive(self.sock) == _READY
            self.sock.settimeout(None)
        except (EOFError, OSError):
            ready = False
        if ready:
            self.started = True
        else:
            self.close()

    async def attach(self, loop: asyncio.AbstractEventLoop) -> _Lane | None:
        """This helper's lane on ``loop``; None if it is busy on another loop."""
        if self.lane is not None and self.lane.loop is loop:
            return self.lane
        if self._attaching is not None:  # every reader of the socket would steal answers
            return await self._attaching if self._attaching.get_loop() is loop else None
        if self.lane is not None:
            if self.lane.owed:
                return None
            self.lane.close()
            self.lane = None
        self._attaching = attaching = loop.create_future()
        try:
            reader, writer = await asyncio.open_unix_connection(sock=self.sock.dup())
            self.lane = _Lane(loop, reader, writer)
        except OSError:
            self.close()
        finally:
            self._attaching = None
            attaching.set_result(self.lane)
        return self.lane

    def close(self) -> None:
        self.broken = True
        if self.lane is not None:
            self.lane.close()
        self.sock.close()
        if self.process.is_alive():
            self.process.terminate()


class Checkers:
    """The helpers of one serving process (see the module docstring)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._all: list[_Helper] = []
        self._restart_at = 0.0
        self._poll_at = 0.0
        self.answered = 0  # submissions, for the tests and the benchmark

    def ready(self) -> int:
        """How many helpers are ready (starting them if none were)."""
        return len(self._usable())

    async def run(self, job: Job) -> list[Checked | None] | None:
        """The helpers' answers for ``job``, or None: no helper could answer, check it here."""
        helpers = self._usable()
        if not helpers or not job.compacts:
            return None
        loop = asyncio.get_running_loop()
        lanes = [lane for h in helpers if (lane := await h.attach(loop)) is not None]
        if not lanes:
            return None
        # A job is split only when there is more than one helper; each part waits its turn
        # behind the jobs already sent to that helper.
        parts = _split(job, len(lanes))
        futures = []
        for lane, part in zip(lanes, parts, strict=False):
            data = pickle.dumps(part, pickle.HIGHEST_PROTOCOL)
            future: asyncio.Future[list[Checked | None] | None] = loop.create_future()
            lane.owed.append(future)
            lane.writer.write(_HEADER.pack(len(data)) + data)
            futures.append(future)
        try:
            answers = await asyncio.wait_for(asyncio.gather(*futures), ANSWER_S)
        except TimeoutError:
            for lane in lanes:
                self._drop(lane)
            return None
        found: list[Checked | None] = []
        for part, answer in zip(parts, answers, strict=True):
            if answer is None or len(answer) != len(part.compacts):
                return None
            found += answer
        self.answered += len(found)
        return found

    def _drop(self, lane: _Lane) -> None:
        for helper in self._all:
            if helper.lane is lane:
                helper.close()

    def _usable(self) -> list[_Helper]:
        if any(h.broken and not h.started for h in self._all):
            self._restart_at = time.monotonic() + RESTART_S
        now = time.monotonic()
        poll = now >= self._poll_at
        if poll:
            self._poll_at = now + POLL_S
        for helper in self._all:
            ended = helper.lane is not None and helper.lane.ended
            if not helper.broken and (ended or (poll and not helper.process.is_alive())):
                helper.close()
        self._all = [h for h in self._all if not h.broken]
        if len(self._all) < self.count and time.monotonic() >= self._restart_at:
            try:
                while len(self._all) < self.count:
                    self._all.append(_Helper())
            except (OSError, ValueError):  # cannot start processes here: check in-thread
                self._restart_at = time.monotonic() + RESTART_S
        return sorted(
            (h for h in self._all if h.started and not h.broken),
            key=lambda h: len(h.lane.owed) if h.lane is not None else 0,
        )

    def detach(self) -> None:
        """Close every helper's streams on the running loop, before it closes."""
        for helper in self._all:
            if helper.lane is not None:
                helper.lane.close()
                helper.lane = None

    def close(self) -> None:
        for helper in self._all:
            helper.close()
        self._all = []


def _split(job: Job, parts: int) -> list[Job]:
    size = -(-len(job.compacts) // parts)
    return [
        Job(job.compacts[i : i + size], job.signer, job.parties, job.received, job.max_skew_s)
        for i in range(0, len(job.compacts), size)
    ]


_open: list[Checkers] = []


def start(processes: int) -> Checkers | None:
    """The helpers for a serving process, one of ``processes`` sharing this machine."""
    count = helper_count(processes)
    if count == 0:
        return None
    checkers = Checkers(count)
    _open.append(checkers)
    checkers.ready()  # start them now: about half a second each, in the background
    return checkers


@atexit.register
def _close_all() -> None:
    for checkers in _open:
        checkers.close()
