"""``parley serve --workers N``: one listening socket, N processes each running a whole hub.

The parent binds the port once (api/serve.py) and hands the socket to N ``spawn``ed workers;
the kernel gives each new connection to whichever worker accepts it first. Each worker is a full
hub on the one database: entries are sequenced under the ``log_state`` row lock (PostgreSQL) or
the database's write lock (SQLite, ``BEGIN IMMEDIATE``), so the log stays dense whichever worker
takes a submission, and each worker's screening catches up from the database
(``settings.workers > 1`` tells the hub it is not the only writer).

Background duties that must not run N times in one service stay in worker 0 only: housekeeping
(each reminder and expiry notice raised once) and webhook delivery (each alert POSTed once; an
alert raised in another worker is picked up by worker 0's next round, within five seconds).
The rest is safe N times by construction: checkpoints are one row per size (the same tree, so
the same root), delivery records carry a nonce derived from the alert, and conflicts are
screened by the process that committed the record, in log order.

The parent supervises: a worker that dies is started again (a worker that keeps dying ends the
service), and when the parent stops, by SIGTERM or SIGINT, it stops its workers and waits for
them. A parent killed outright runs no clean-up, so each worker also watches its parent and
stops itself (SIGTERM, then exit) once it is gone, as the TAXII checking pool does (intel/pool.py).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import deque
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from parley.config import Settings

if TYPE_CHECKING:
    from parley.hub.core import Hub

log = logging.getLogger("parley.serve")

WATCH_S = 0.2
STOP_GRACE_S = 20.0  # a worker's graceful stop: open requests finish, the hub closes
RESTARTS = 5  # at most this many restarts ...
RESTART_WINDOW_S = 60.0  # ... within this long, else the workers cannot run: stop


class WorkersFailed(Exception):
    """The workers keep exiting: the service stops instead of restarting them for ever."""


def supervise(
    settings: Settings, sock: socket.socket, cert: Path | None, key: Path | None, count: int
) -> None:
    """Run ``count`` workers on ``sock`` until SIGTERM or SIGINT; return once all have ended."""
    context = get_context("spawn")
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=run_worker,
            args=(settings, sock, cert, key, index, os.getpid()),
            name=f"parley-worker-{index}",
        )
        process.start()
        return process

    workers: dict[int, BaseProcess] = {}
    restarts: deque[float] = deque()
    try:
        for index in range(count):
            workers[index] = start(index)
        while not stopping.is_set():
            time.sleep(WATCH_S)
            for index, process in list(workers.items()):
                if process.exitcode is None or stopping.is_set():
                    continue
                now = time.monotonic()
                while restarts and now - restarts[0] > RESTART_WINDOW_S:
                    restarts.popleft()
                if len(restarts) >= RESTARTS:
                    raise WorkersFailed(
                        f"worker {index} exited (code {process.exitcode}), the {RESTARTS + 1}th "
                        f"exit within {RESTART_WINDOW_S:g} s: see the messages above"
                    )
                restarts.append(now)
                log.warning(
                    "worker %d exited (code %s): starting it again", index, process.exitcode
                )
                workers[index] = start(index)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _stop_all(list(workers.values()))


def _stop_all(workers: list[BaseProcess]) -> None:
    for process in workers:
        if process.exitcode is None and process.pid is not None:
            # SIGTERM is uvicorn's graceful stop; a worker already stopping (a terminal's
            # Ctrl-C reaches the whole process group) takes no harm from it.
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in workers:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in workers:
        if process.exitcode is None:
            process.kill()
            process.join()


def run_worker(
    settings: Settings,
    sock: socket.socket,
    cert: Path | None,
    key: Path | None,
    index: int,
    parent: int,
) -> None:
    """One worker (a spawned process): a whole hub, served on the inherited socket."""
    _watch_parent(parent)
    from parley.hub.core import Hub

    hub = Hub(settings)
    try:
        if index != 0:
            # One round of these per service, not per worker (see the module's docstring).
            hub.housekeeping.close()
            hub.webhooks.close()
        run_uvicorn(settings, hub, sock, cert, key)
    finally:
        hub.close()
        sock.close()


def run_uvicorn(
    settings: Settings, hub: Hub, sock: socket.socket, cert: Path | None, key: Path | None
) -> None:
    """Serve ``hub`` on ``sock`` until SIGTERM or SIGINT (uvicorn's own signal handling)."""
    import uvicorn

    from parley.api.app import create_app

    hub.use_check_helpers()

    config = uvicorn.Config(
        create_app(settings, hub),
        # Measured, not assumed (bench/README.md, "ASGI server"): with the hub's own cost down,
        # httptools' parser and uvloop's loop took a fifth off a submission's server CPU.
        http="httptools",
        loop="uvloop",
        log_level="info",
        access_log=False,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _watch_parent(parent: int) -> None:
    """Stop this worker when the process that started it has ended, however it ended."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_S)
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful stop: the hub closes
        time.sleep(STOP_GRACE_S)
        os._exit(1)  # it did not stop in time: nothing may outlive the service

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
