"""Run the hub behind the HTTP API: the one place that starts uvicorn.

Before any port is served, the checks an operator would otherwise learn from a traceback: the
hub key is there, the database's schema is the one this code was written for, the TLS files
load, and the port is free (bound here, then handed to uvicorn, so nothing can take it between).
Each refusal is a :class:`ServiceError`: a message and a non-zero exit, no traceback.
"""

from __future__ import annotations

import socket
import ssl
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from parley import __version__
from parley.api import tls
from parley.api.workers import WorkersFailed, run_uvicorn, supervise
from parley.config import Settings, worker_count
from parley.errors import ParleyError

if TYPE_CHECKING:
    from parley.hub.core import Hub


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class ServiceError(ParleyError):
    title = "Cannot start"
    slug = "cannot-start"


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path


def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    migrate: bool = False,
    banner: bool = True,
    workers: int | None = None,
) -> None:
    """Serve until stopped: in this process with one worker, else with ``workers`` processes
    on one socket (api/workers.py); None takes the ``workers`` setting."""
    check_hub_key(settings)
    schema(settings, migrate)
    chosen = tls_files(settings, tls_cert, tls_key)
    count = worker_count(settings.workers if workers is None else workers)
    settings = replace(settings, workers=count)
    sock = bind(host, port)
    from parley.hub.core import Hub

    # The hub (and its start-up check of the stored log) comes up before the server, so a
    # log that fails the check ends the command with its message (and before the slow
    # imports of the whole API, or any worker starts).
    try:
        hub = Hub(settings)
    except BaseException:
        sock.close()
        raise
    cert, key = (chosen.cert, chosen.key) if chosen else (None, None)
    hub_open = True
    try:
        if banner:
            print_banner(settings, hub, host, sock.getsockname()[1], chosen)
        if count == 1:
            run_uvicorn(settings, hub, sock, cert, key)
            return
        # Each worker makes (and checks) its own hub; this one has done its part.
        hub_open = False
        hub.close()
        try:
            supervise(settings, sock, cert, key, count)
        except WorkersFailed as exc:
            raise ServiceError(str(exc)) from None
    finally:
        sock.close()
        if hub_open:
            hub.close()


def check_hub_key(settings: Settings) -> None:
    if not settings.hub_key_path.exists():
        raise ServiceError(
            f"no hub key at {settings.hub_key_path}: this hub cannot sign its log. Restore the "
            "key from your backup; `parley init` makes a new one only for a new hub (a new key "
            "makes every party's saved log state useless)"
        )


def revisions(settings: Settings) -> tuple[str | None, str, set[str]]:
    """The database's alembic revision, this code's head, and every revision this code knows."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    import parley.store
    from parley.store.db import Store

    script = ScriptDirectory(str(Path(parley.store.__file__).parent / "migrations"))
    head = script.get_current_head()
    assert head is not None
    known = {r.revision for r in script.walk_revisions()}
    store = Store(settings.database)
    try:
        with store.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        store.close()
    return current, head, known


def schema(settings: Settings, migrate: bool) -> None:
    """Refuse a database this code does not know how to read; migrate it when asked to."""
    current, head, known = revisions(settings)
    if current is not None and current not in known:
        raise ServiceError(
            f"the database ({mask(settings.database)}) has schema revision {current}, newer than "
            f"this parley {__version__} knows (up to {head}): run a newer parley, or restore a "
            "backup made by this version"
        )
    if current == head:
        return
    if migrate:
        from parley.hub import setup

        store = setup.open_store(settings)
        try:
            store.migrate()
        finally:
            store.close()
        return
    raise ServiceError(
        f"the database ({mask(settings.database)}) is at schema revision {current or 'none'}, "
        f"this parley needs {head}: run `parley migrate` (after a backup), or serve with --migrate"
    )


def tls_files(settings: Settings, cert: Path | None, key: Path | None) -> Tls | None:
    """The certificate and key given, else the data directory's, else none (plain HTTP)."""
    if (cert is None) != (key is None):
        raise ServiceError("--tls-cert and --tls-key go together: give both or neither")
    if cert is None or key is None:
        cert, key = tls.paths(settings.data_dir)
        if not cert.exists() or not key.exists():
            return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ServiceError(f"cannot use {cert} with {key} for TLS: {exc}") from None
    return Tls(cert, key)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: accepted connections inherit it, and asyncio turns Nagle
    # off (TCP_NODELAY) only on sockets whose proto says TCP. Without it a response's body
    # waited behind its header segment for the client's delayed ACK: 40 ms a response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # As uvicorn binds: a restart need not wait out TIME_WAIT, but a live listener still
    # holds the port.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == 98 or "in use" in str(exc).lower():
            raise ServiceError(
                f"port {port} on {host} is in use: another parley serve (or another program) "
                "is listening there. Stop it, or choose another port with --port"
            ) from None
        raise ServiceError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def mask(url: str) -> str:
    """A database URL with its password replaced by ***, for screens and logs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable database URL)"


def public_url(host: str, port: int, scheme: str) -> str:
    shown = host
    if host in ("0.0.0.0", "::", ""):
        shown = socket.gethostname()
    elif ":" in host and not host.startswith("["):
        shown = f"[{host}]"
    return f"{scheme}://{shown}:{port}/"


def print_banner(settings: Settings, hub: Hub, host: str, port: int, chosen: Tls | None) -> None:
    from rich.console import Console
    from rich.markup import escape

    from parley.hub.hubrecords import HUB

    # soft_wrap: a key or URL split over two lines cannot be copied whole; emoji=False: a
    # fingerprint's ":AB:" is not an emoji.
    console = Console(soft_wrap=True, highlight=False, emoji=False, file=sys.stdout)
    scheme = "https" if chosen else "http"
    roles: dict[str, list[str]] = {}
    for party in sorted(hub.parties().values(), key=lambda p: p.id):
        if party.id == HUB:
            continue
        roles.setdefault(party.role, []).append(party.id)
    where = (
        f"database: {mask(settings.database_url)}"
        if settings.database_url
        else f"data directory: {settings.data_dir.resolve()}"
    )
    lines = [
        f"[bold]parley {__version__}[/] serving [bold]{escape(public_url(host, port, scheme))}[/]",
        f"origin: {escape(settings.origin)}",
        f"log key: {escape(hub.log.verifier_key)}",
        escape(where),
        f"workers: {settings.workers} processes on the one port, each a whole hub"
        if settings.workers > 1
        else "workers: 1 process",
    ]
    if settings.database_url:
        lines.append(f"data directory: {escape(str(settings.data_dir.resolve()))}")
    if chosen:
        described = tls.describe(chosen.cert)
        lines.append(f"TLS: {escape(str(chosen.cert))} sha256 {described['sha256_fingerprint']}")
    elif host in LOOPBACK:
        lines.append("plain HTTP, on this machine only")
    else:
        lines.append(
            "[yellow]plain HTTP[/]: tokens travel in clear; give --tls-cert/--tls-key or put a "
            "TLS proxy in front (docs/operations.md)"
        )
    if roles:
        for role in sorted(roles):
            lines.append(f"{role}s ({len(roles[role])}): {escape(', '.join(roles[role]))}")
    else:
        lines.append("no parties yet: `parley party add`")
    console.print("\n".join(lines))
