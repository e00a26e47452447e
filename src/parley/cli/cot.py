"""``parley cot serve``: a party's picture as a Cursor-on-Target TCP feed for TAK clients.

The feed runs on the party's side, not in the hub: TAK clients send no bearer token, so a feed
inside the hub could not tell whose picture to send. This process holds the party's token,
reads ``/api/v1/export/cot`` (the hub's audience check decides what it holds), and hands the
events to every TAK client that connects: the whole picture on connect, then each new or
changed event as the hub's export changes, and a ``t-x-d-d`` delete when a record leaves the
picture. Whoever can connect sees the party's picture, so it listens on loopback unless told
otherwise, and with ``--tls-client-ca`` accepts only clients with a certificate from that CA
(TAK's own practice: mutual TLS on 8089).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import click
import httpx

from parley.cli.base import cli, trust_options
from parley.formats import cot
from parley.transport import Trust

READ_LIMIT = 1 << 20  # what a TAK client sends us (its own position reports) is read and dropped


@cli.group("cot")
def cot_group() -> None:
    """Cursor-on-Target (TAK) feeds."""


@cot_group.command("serve")
@click.option("--hub", "hub_url", required=True, envvar="PARLEY_HUB", help="Hub base URL.")
@click.option("--token", required=True, envvar="PARLEY_TOKEN", help="The party's token.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8087, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--tls-client-ca",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Accept only TAK clients with a certificate from this CA.",
)
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.05, 3600),
    help="Seconds between reads of the hub's export.",
)
@trust_options
def serve(
    hub_url: str,
    token: str,
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_client_ca: Path | None,
    interval: float,
    trust: Trust,
) -> None:
    """Serve the party's picture (sites, operations, movements, conflicts) as CoT over TCP."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_client_ca is not None and tls_cert is None:
        raise click.UsageError("--tls-client-ca needs --tls-cert and --tls-key")
    context: ssl.SSLContext | None = None
    if tls_cert is not None and tls_key is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_cert, tls_key)
        if tls_client_ca is not None:
            context.load_verify_locations(tls_client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
    trust.check(hub_url)  # before the port opens
    feed = Feed(hub_url, token, interval, trust)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(feed.serve(host, port, context))


class Feed:
    def __init__(
        self, hub_url: str, token: str, interval: float, trust: Trust | None = None
    ) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.trust = trust or Trust()
        self.token = token
        self.interval = interval
        self.events: dict[str, bytes] = {}
        self.clients: set[asyncio.StreamWriter] = set()

    async def serve(self, host: str, port: int, context: ssl.SSLContext | None) -> None:
        async with self.trust.async_client(self.hub_url, token=self.token) as http:
            # The first picture comes before the port opens: a client that connects gets it.
            while not await self.refresh(http):
                await asyncio.sleep(self.interval)
            server = await asyncio.start_server(
                self.client, host, port, ssl=context, limit=READ_LIMIT
            )
            bound = server.sockets[0].getsockname()
            scheme = "tls" if context else "tcp"
            print(f"CoT feed on {scheme}://{bound[0]}:{bound[1]}", flush=True)
            async with server:
                while True:
                    await asyncio.sleep(self.interval)
                    await self.refresh(http)

    async def refresh(self, http: httpx.AsyncClient) -> bool:
        """Read the hub's export; send what is new or changed, and deletes for what left."""
        try:
            response = await http.get("/api/v1/export/cot")
            response.raise_for_status()
            root = ET.fromstring(response.content)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in (401, 403):
                # A wrong or revoked token will not mend itself: say so and stop.
                raise click.ClickException(
                    f"the hub refused the token ({exc.response.status_code}): "
                    f"{_detail(exc.response)}"
                ) from None
            print(f"cot: cannot read the hub's export: {exc}", file=sys.stderr, flush=True)
            return False
        except (httpx.HTTPError, ET.ParseError) as exc:
            # Keep serving the last picture: a TAK client is better off with it than with none.
            print(f"cot: cannot read the hub's export: {exc}", file=sys.stderr, flush=True)
            return False
        fresh = {e.get("uid", ""): cot.to_bytes(e) for e in root.iter("event")}
        changed = [data for uid, data in fresh.items() if self.events.get(uid) != data]
        gone = [cot.to_bytes(cot.delete(uid)) for uid in self.events if uid not in fresh]
        self.events = fresh
        if changed or gone:
            await self.broadcast(b"".join(changed + gone))
        return True

    async def broadcast(self, data: bytes) -> None:
        for writer in list(self.clients):
            try:
                writer.write(data)
                await asyncio.wait_for(writer.drain(), timeout=10)
            except (OSError, TimeoutError):
                # A client that stopped reading is dropped, not allowed to hold up the others.
                self.clients.discard(writer)
                writer.close()

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            # Joined and written with no await in between, so no change can slip past
            # unsent: anything newer than this picture reaches the client by broadcast.
            self.clients.add(writer)
            writer.write(b"".join(self.events.values()))
            await writer.drain()
            while await reader.read(65536):
                pass  # TAK clients send their own position; this feed only publishes
        except (OSError, ssl.SSLError):
            pass
        finally:
            self.clients.discard(writer)
            writer.close()


def _detail(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return response.text[:200]
    return str(problem.get("detail") or problem.get("title")) if isinstance(problem, dict) else ""
