"""A response's body does not wait for the client's delayed ACK (issue 17, the TAXII paged read).

``parley serve`` binds its own listening socket (api/serve.py ``bind``) and hands it to uvicorn.
asyncio turns Nagle's algorithm off only on sockets whose ``proto`` is IPPROTO_TCP, and accepted
connections inherit the listener's: a listener made with proto 0 left Nagle on, so every
response written as headers then body (Starlette's way) had its body held until the client's
delayed ACK of the headers, about 40 ms. A page of 100 TAXII objects took 50 ms for 13 ms of
work.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from parley.api.serve import bind

BODY = b"x" * 30_000  # about a page of 100 indicators


async def _app(scope: dict[str, object], receive: object, send: object) -> None:
    assert scope["type"] in ("http", "lifespan")
    if scope["type"] == "lifespan":
        while True:
            message = await receive()  # type: ignore[operator]
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})  # type: ignore[operator]
            else:
                await send({"type": "lifespan.shutdown.complete"})  # type: ignore[operator]
                return
    # Headers and body as two writes, as Starlette's Response sends them.
    await send(  # type: ignore[operator]
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(BODY)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": BODY})  # type: ignore[operator]


@pytest.fixture
def served() -> Iterator[int]:
    """uvicorn on a socket from ``bind``, as ``parley serve`` runs it."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_accepted_connections_have_nagle_off() -> None:
    """The listener says TCP, so asyncio sets TCP_NODELAY on what it accepts."""

    async def check() -> int:
        sock = bind("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                accepted = transport.get_extra_info("socket")
                seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        port = sock.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(check()) != 0


def test_body_follows_headers_without_a_delayed_ack_stall(served: int) -> None:
    """Over a real socket: the gap between a response's headers and its body. With Nagle on
    it is the client's delayed ACK, 40 ms or more every time once the connection has left
    Linux's quick-ACK start (the first few responses are ACKed at once, hence the first ten are
    not counted); without, well under it. The smallest gap is taken, so a busy machine cannot
    fail the test by itself."""
    gaps = []
    with socket.create_connection(("127.0.0.1", served), timeout=10) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(30):
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += client.recv(65536)
            headers_at = time.perf_counter()
            body = buf.partition(b"\r\n\r\n")[2]
            while len(body) < len(BODY):
                body += client.recv(65536)
            gaps.append(time.perf_counter() - headers_at)
    assert min(gaps[10:]) < 0.030, [round(g * 1e3, 1) for g in gaps]
