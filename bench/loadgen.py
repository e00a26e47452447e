"""A raw-socket HTTP/1.1 load generator for the benchmarks, and its own ceiling.

    .venv/bin/python bench/loadgen.py [--seconds 5] [--processes 2] [--connections 64]

The request bytes are built (and signed) before the clock starts; during the run each worker
process writes them on kept-alive connections and parses only the status line, the
``Content-Length`` and the body, with asyncio protocols (no streams, no HTTP library): httpx's
client cost more CPU per request than the hub it measured. Several worker processes share the
load, so the client is not one core's worth of Python.

Two modes:

- closed loop (``rate=None``): every connection sends its next request as soon as the previous
  answer is in; the throughput is the server's maximum for that many requests in flight;
- open loop (``rate=R``): request *i* is due at ``start + i / R`` whatever the server does, and
  its latency runs from when it was due (not when a connection was free to send it), so a
  saturated server shows as growing latency instead of a slower offered rate.

Connections are spread over several ports (N separate ``parley serve`` processes); when one
breaks (a server killed), the request on it is recorded as failed (status 0) and the connection
moves to the next port that still accepts connections, so the load keeps going on the survivors.

Run as a script it measures its own ceiling: closed-loop requests/s against a trivial raw asyncio
server (two processes sharing a port with SO_REUSEPORT) that answers every request with a fixed
201.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil

HOST = "127.0.0.1"


def request(
    method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """The bytes of one HTTP/1.1 request (any port: the Host header carries none)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# Under uvicorn's default keep-alive timeout (5 s).
IDLE_REUSE_S = 4.0


class HTTPError(Exception):
    """The peer broke the connection or answered something this client does not parse."""


def _head(raw: bytes) -> tuple[int, int | None, bool]:
    """An answer's status, ``Content-Length`` (None: to the end of the connection) and whether
    the server closes the connection after it."""
    head = raw.split(b"\r\n")
    try:
        status = int(head[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise HTTPError(f"bad status line {head[0][:80]!r}") from None
    length, close = None, head[0].startswith(b"HTTP/1.0")
    for line in head[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise HTTPError("chunked answers are not supported")
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    return status, length, close


class _Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False
        self.close_after = False
        self.idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._parse(eof=False)

    def eof_received(self) -> bool | None:
        self._parse(eof=True)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self._parse(eof=True)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HTTPError(f"connection lost: {exc!r}"))

    def _parse(self, *, eof: bool) -> None:
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        try:
            status, length, close = _head(bytes(self.buffer[:end]))
        except HTTPError as exc:
            self.waiter.set_exception(exc)
            return
        self.close_after = self.close_after or close
        start = end + 4
        if length is None:
            # No length: the body runs to the end of the connection (HTTP/1.0 style).
            if not eof:
                return
            length = len(self.buffer) - start
        if len(self.buffer) - start < length:
            return
        body = bytes(self.buffer[start : start + length])
        del self.buffer[: start + length]
        self.idle_since = time.monotonic()
        self.waiter.set_result((status, body))

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter


class OneAtATime:
    """A blocking raw-socket HTTP/1.1 client for requests one after another (a paged read):
    one kept-alive connection with TCP_NODELAY, opened again when the server closes it (as
    Werkzeug does after every answer). Parses the status line, ``Content-Length`` and body only."""

    def __init__(self, port: int, timeout_s: float = 600.0) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.sock: socket.socket | None = None
        self.buffer = bytearray()

    def __enter__(self) -> OneAtATime:
        return self

    def __exit__(self, *exc: object) -> None:
        self._drop()

    def send(self, data: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection((HOST, self.port), timeout=self.timeout_s)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(data)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._read()
        status, length, close = _head(bytes(self.buffer[:end]))
        start = end + 4
        while length is None or len(self.buffer) - start < length:
            if not self._read(eof_ok=length is None):
                length = len(self.buffer) - start
        body = bytes(self.buffer[start : start + length])
        del self.buffer[: start + length]
        if close:
            self._drop()
        return status, body

    def _read(self, eof_ok: bool = False) -> bool:
        assert self.sock is not None
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            if eof_ok:
                return False
            raise HTTPError("the server closed the connection mid-answer")
        self.buffer += chunk
        return True

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buffer.clear()


@dataclass
class Result:
    """What every request got, in the order given; times are ``time.monotonic()`` seconds."""

    statuses: list[int]  # 0: no answer (see errors)
    bodies: list[bytes]
    due: list[float]  # when it was (open loop) or could first be (closed loop) sent
    done: list[float]  # when its answer was complete
    errors: list[str]
    started: float
    elapsed_s: float  # first send to last answer
    client_cpu_s: float  # all worker processes, user + system

    @property
    def latencies(self) -> list[float]:
        return [d - s for d, s, st in zip(self.done, self.due, self.statuses, strict=True) if st]

    def failures(self, expected: int) -> list[str]:
        bad = [
            f"HTTP {status}: {body[:300].decode(errors='replace')}"
            for status, body in zip(self.statuses, self.bodies, strict=True)
            if status not in (expected, 0)
        ]
        return self.errors + bad


@dataclass
class _Share:
    """One worker process's part of the run."""

    indices: list[int]
    connections: int
    ports: list[int]
    rate: float | None
    processes: int
    keep_bodies: bool
    answered: Any = field(default=None)  # a shared array: answers so far, one slot a process
    slot: int = 0


async def _drive(
    share: _Share, requests: Sequence[bytes], start: float
) -> tuple[dict[int, tuple[int, bytes, float, float]], list[str]]:
    loop = asyncio.get_running_loop()
    results: dict[int, tuple[int, bytes, float, float]] = {}
    errors: list[str] = []
    dead: set[int] = set()
    count = 0
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def connect(first: int) -> tuple[_Connection, int]:
        """A connection to ``ports[first]``, or the next port that still accepts one."""
        for attempt in range(len(share.ports) * 20):
            port = share.ports[(first + attempt) % len(share.ports)]
            if port in dead and len(dead) < len(share.ports):
                continue
            try:
                _, conn = await loop.create_connection(_Connection, HOST, port)
                conn.transport.get_extra_info("socket").setsockopt(  # type: ignore[union-attr]
                    socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
                )
                return conn, port
            except OSError:
                dead.add(port)
                await asyncio.sleep(0.05)
        raise HTTPError(f"no port of {share.ports} accepts connections")

    async def connection(number: int) -> None:
        nonlocal count
        slot = number * share.processes  # spread over ports across processes too
        conn: _Connection | None = None
        port = 0
        while (job := await queue.get()) is not None:
            i, due = job
            try:
                # A connection idle for IDLE_REUSE_S is not reused: the server may be closing
                # it for its keep-alive timeout (uvicorn: 5 s) just as a request goes out on it,
                # and the request would be lost to the race (open loop at low rates).
                stale = conn is not None and time.monotonic() - conn.idle_since > IDLE_REUSE_S
                if conn is None or conn.closed or conn.close_after or stale:
                    if conn is not None and conn.transport is not None:
                        conn.transport.close()
                    conn, port = await connect(slot)
                status, body = await conn.send(requests[i])
            except (HTTPError, OSError) as exc:
                errors.append(f"request {i} on port {port}: {exc}")
                results[i] = (0, b"", due, time.monotonic())
                if conn is not None and conn.transport is not None:
                    conn.transport.close()
                dead.add(port)
                conn = None
                slot += 1
            else:
                results[i] = (status, body if share.keep_bodies else b"", due, time.monotonic())
            count += 1
            # Each process writes only its own slot: no lock on the per-request path.
            share.answered[share.slot] = count
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    tasks = [asyncio.create_task(connection(c)) for c in range(share.connections)]
    delay = start - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    if share.rate is None:
        for i in share.indices:
            queue.put_nowait((i, start))
    else:
        for i in share.indices:
            due = start + i / share.rate
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            queue.put_nowait((i, due))
    for _ in tasks:
        queue.put_nowait(None)
    await asyncio.gather(*tasks)
    return results, errors


def _worker(
    share: _Share,
    requests: Sequence[bytes],
    ready: Any,
    go: multiprocessing.connection.Connection,
    out: multiprocessing.connection.Connection,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    ready.wait()
    start = go.recv()
    cpu = time.process_time()
    results, errors = asyncio.run(_drive(share, requests, start))
    out.send((results, errors, time.process_time() - cpu))
    out.close()


def run(
    requests: Sequence[bytes],
    ports: Sequence[int],
    *,
    connections: int = 32,
    processes: int = 2,
    rate: float | None = None,
    keep_bodies: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> Result:
    """Send every request (closed loop, or open loop at ``rate``/s); answers in request order.

    ``on_progress`` is called in this process (about every 20 ms) with the number of answers so
    far, e.g. to kill a server half-way.
    """
    processes = max(1, min(processes, connections, len(requests)))
    ctx = mp.get_context("fork")  # the workers inherit ``requests`` without pickling them
    answered = ctx.Array("q", processes, lock=False)
    ready = ctx.Barrier(processes + 1)
    shares = [
        _Share(
            list(range(p, len(requests), processes)),
            connections // processes + (p < connections % processes),
            [*ports[p % len(ports) :], *ports[: p % len(ports)]],
            None if rate is None else rate,
            processes,
            keep_bodies,
            answered,
            p,
        )
        for p in range(processes)
    ]
    pipes = []
    workers = []
    for share in shares:
        go_recv, go_send = ctx.Pipe(duplex=False)
        out_recv, out_send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_worker, args=(share, requests, ready, go_recv, out_send))
        process.start()
        out_send.close()
        pipes.append((go_send, out_recv))
        workers.append(process)
    ready.wait()
    # A common start a little ahead, so every worker's clock (CLOCK_MONOTONIC) starts together.
    start = time.monotonic() + 0.1
    for go_send, _ in pipes:
        go_send.send(start)
    statuses = [0] * len(requests)
    bodies = [b""] * len(requests)
    due = [0.0] * len(requests)
    done = [0.0] * len(requests)
    errors: list[str] = []
    cpu = 0.0
    pending = {out for _, out in pipes}
    while pending:
        for out in multiprocessing.connection.wait(list(pending), timeout=0.02):
            assert isinstance(out, multiprocessing.connection.Connection)
            try:
                results, share_errors, share_cpu = out.recv()
            except EOFError:
                errors.append("a load-generator worker died")
                pending.discard(out)
                continue
            pending.discard(out)
            for i, (status, body, d, f) in results.items():
                statuses[i], bodies[i], due[i], done[i] = status, body, d, f
            errors += share_errors
            cpu += share_cpu
        if on_progress is not None:
            on_progress(sum(answered))
    for process in workers:
        process.join()
    last = max(done) if done else start
    return Result(statuses, bodies, due, done, errors, start, last - start, cpu)


# -- server CPU ------------------------------------------------------------------------------


def tree(pids: Sequence[int]) -> list[psutil.Process]:
    found: list[psutil.Process] = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            found += [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    return found


class CPU:
    """User + system CPU of server processes and all their children, over a stretch of time.

    Children that exit during the stretch count once their parent has reaped them (the
    ``children_*`` times); a process killed during it loses what it used since the last
    :meth:`sample` — call that often when killing servers.
    """

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.sample()
        self.first = dict(self.last)

    def sample(self) -> None:
        for process in tree(self.pids):
            try:
                t = process.cpu_times()
                used = t.user + t.system + t.children_user + t.children_system
                self.last[process.pid] = used
                self.first.setdefault(process.pid, 0.0)
            except psutil.NoSuchProcess:
                pass

    def used(self) -> float:
        self.sample()
        return sum(self.last[p] - self.first.get(p, 0.0) for p in self.last)


def serve_has_workers(parley: str) -> bool:
    """Whether this ``parley serve`` takes ``--workers`` (several processes on one port)."""
    done = subprocess.run([parley, "serve", "--help"], capture_output=True, text=True, check=False)
    return "--workers" in done.stdout


def settle(pids: Sequence[int], idle_share: float = 0.05, timeout_s: float = 120.0) -> float:
    """Wait until the processes (and their children) use under ``idle_share`` of a core over a
    second: a server that has just started may still be importing or building in a background
    thread, which a long-running hub has long finished. Answers the seconds waited."""
    started = time.monotonic()
    cpu = CPU(pids)
    last = cpu.used()
    while time.monotonic() - started < timeout_s:
        time.sleep(1.0)
        now = cpu.used()
        if now - last < idle_share:
            break
        last = now
    return time.monotonic() - started


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# -- ceiling ---------------------------------------------------------------------------------

_FIXED = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"
    b'{"ok":true}\n'
)


class _Trivial(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            self.transport.write(_FIXED)


def trivial_server(port: int) -> None:
    """Answer every request with the same 201, on ``port`` (shared with SO_REUSEPORT)."""

    async def main() -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((HOST, port))
        server = await asyncio.get_running_loop().create_server(_Trivial, sock=sock, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())


@contextmanager
def trivial(processes: int = 2) -> Iterator[tuple[int, list[int]]]:
    """A trivial server (``processes`` processes on one port); yields (port, pids)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = int(s.getsockname()[1])
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--serve-trivial", str(port)], stdout=subprocess.DEVNULL
        )
        for _ in range(processes)
    ]
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the trivial server did not start") from None
                time.sleep(0.05)
        time.sleep(0.2)  # let every process bind before connections are spread
        yield port, [c.pid for c in children]
    finally:
        for child in children:
            child.kill()
            child.wait()


def ceiling(
    seconds: float = 3.0, processes: int = 2, connections: int = 64, body: int = 900
) -> dict[str, float]:
    """Closed-loop requests/s against the trivial server, with bodies about a submission's size."""
    one = request("POST", "/x", b"x" * body, {"Content-Type": "application/jose"})
    with trivial() as (port, pids):
        # A short probe sizes the run to about ``seconds``.
        probe = run([one] * 2000, [port], connections=connections, processes=processes)
        n = max(2000, int(2000 / probe.elapsed_s * seconds))
        cpu = CPU(pids)
        result = run([one] * n, [port], connections=connections, processes=processes)
        server_cpu = cpu.used()
    if result.failures(201):
        raise RuntimeError(f"the trivial server failed: {result.failures(201)[:3]}")
    return {
        "requests": n,
        "per_s": n / result.elapsed_s,
        "client_cpu_us_per_request": result.client_cpu_s / n * 1e6,
        "server_cpu_us_per_request": server_cpu / n * 1e6,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--serve-trivial", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_trivial:
        trivial_server(args.serve_trivial)
        return 0
    found = ceiling(args.seconds, args.processes, args.connections)
    print(
        f"load generator ceiling: {found['per_s']:,.0f} requests/s closed loop "
        f"({args.processes} processes, {args.connections} connections, {found['requests']:,} "
        f"requests; client CPU {found['client_cpu_us_per_request']:.0f} µs/request, trivial "
        f"server {found['server_cpu_us_per_request']:.0f} µs/request; load average "
        f"{load_average()}, {os.cpu_count()} cores)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
