"""Benchmark ``parley mirror``: catch-up speed on a large log (issue 13).

    .venv/bin/python bench/mirror.py [--entries 1000000] [--workers 16] [--json]

The log is synthetic, not a hub's: building a million signed submissions through a real hub
takes far longer than the measurement. A separate process (so it takes no CPU time from the
mirror's interpreter) builds ``--entries`` entries of about the size of a hub's log entries,
their tree, every tile and entry bundle with parley's own tile code (``parley.log.tiles``) and
a checkpoint signed with a fresh log key, then serves them from memory under the hub's paths
(``/log/checkpoint``, ``/log/tile/...``) with uvicorn on loopback.

The mirror then catches up from an empty data directory in this process, exactly as one round
of ``parley mirror --once`` does: every entry bundle and level-0 tile fetched in parallel with
a bounded pool, every entry hashed and compared, the tree rebuilt and its root checked, the
upper tiles fetched and compared, everything stored in SQLite (synchronous=FULL) in one
transaction, then cosigned. A second round with nothing new measures the steady state. Goal
from the issue: a million entries under 10 s (`verify log` over HTTP took 16.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SERVER_PROCESSES = 1
ENTRY_SIZE = 180
"""About a hub log entry: a record digest, ids and a timestamp."""


def serve_synthetic(entries: int, port: int) -> None:
    """The child process: build the log, print its key, serve it until killed."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    from parley.log import checkpoint as cp
    from parley.log import note, tiles
    from parley.log.merkle import MerkleTree

    started = time.monotonic()
    signer = note.Signer.generate("bench.example/mirror-log")
    pad = b"x" * (ENTRY_SIZE - 20)
    resources: dict[str, bytes] = {}
    import hashlib

    leaves = []
    for bundle in tiles.bundles_for_size(entries):
        batch = [b"%012d" % i + pad for i in range(bundle.start, bundle.start + bundle.width)]
        resources[bundle.path] = tiles.entry_bundle(batch)
        leaves.append(b"".join(hashlib.sha256(b"\x00" + e).digest() for e in batch))
    tree = MerkleTree.from_packed(b"".join(leaves))
    for tile in tiles.tiles_for_size(entries):
        resources[tile.path] = tiles.hash_tile(tree, tile.level, tile.index, tile.width)
    signed = cp.sign_checkpoint(cp.Checkpoint(signer.name, entries, tree.root()), signer)

    async def checkpoint(_request: Request) -> Response:
        return PlainTextResponse(signed)

    async def tile(request: Request) -> Response:
        data = resources.get("tile/" + request.path_params["path"])
        if data is None:
            return Response(status_code=404)
        return Response(data, media_type="application/octet-stream")

    app = Starlette(
        routes=[Route("/log/checkpoint", checkpoint), Route("/log/tile/{path:path}", tile)]
    )
    # Several server processes share the listening socket and, copy-on-write, the tiles: one
    # pure-Python HTTP server process would be slower than the mirror under test.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.listen(1024)
    for _ in range(SERVER_PROCESSES - 1):
        if os.fork() == 0:
            break
    else:
        print(
            json.dumps(
                {"key": signer.verifier().key_string(), "build_s": time.monotonic() - started}
            ),
            flush=True,
        )
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


class Quiet:
    """A reporter that keeps the events instead of printing them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def event(self, kind: str, message: str, /, **data: Any) -> None:
        self.events.append((kind, message))

    def alarm(self, title: str, body: str) -> None:
        self.events.append(("alarm", title))

    def progress(self, done: int, total: int) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve-synthetic", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_synthetic:
        serve_synthetic(args.entries, args.serve_synthetic)
        return

    import httpx

    from parley.log import note
    from parley.mirroring import datadir
    from parley.mirroring.follow import Mirror
    from parley.mirroring.store import MirrorStore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    child = subprocess.Popen(
        [sys.executable, __file__, "--entries", str(args.entries), "--serve-synthetic", str(port)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/log/checkpoint", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            signer, _ = datadir.load_or_init(data, "bench.example/mirror")
            store = MirrorStore(datadir.db_path(data))
            reporter = Quiet()
            mirror = Mirror(
                data,
                url,
                note.Verifier.from_key(info["key"]),
                signer,
                store,
                reporter,  # type: ignore[arg-type]
                workers=args.workers,
            )
            try:
                t0 = time.perf_counter()
                mirror.sync()
                catch_up = time.perf_counter() - t0
                t0 = time.perf_counter()
                mirror.sync()
                steady = time.perf_counter() - t0
            finally:
                mirror.close()
            head = store.head()
            assert head is not None and head.cosigned is not None
            assert head.checkpoint.size == args.entries
            db_bytes = os.path.getsize(datadir.db_path(data))
    finally:
        # The server forked: end its whole process group (it is ours, started above).
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    result = {
        "entries": args.entries,
        "workers": args.workers,
        "synthetic_log_build_s": round(info["build_s"], 2),
        "catch_up_s": round(catch_up, 2),
        "entries_per_s": round(args.entries / catch_up),
        "next_round_nothing_new_s": round(steady, 3),
        "store_mb": round(db_bytes / 1e6, 1),
        "goal_s": 10,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    from rich.console import Console

    console = Console(soft_wrap=True)
    console.print(
        f"mirror catch-up: {args.entries:,} entries in {catch_up:.2f} s "
        f"({result['entries_per_s']:,} entries/s, {args.workers} parallel fetches; goal < 10 s)"
    )
    console.print(
        f"next round with nothing new: {steady * 1000:.0f} ms; SQLite store "
        f"{result['store_mb']} MB; synthetic log built in {info['build_s']:.1f} s (not counted)"
    )


if __name__ == "__main__":
    main()
