"""``parley mirror`` against real processes over real sockets: a forking hub (test code only: the
same log key signs one tree for party A and another of the same size for party B, or rolls its
log back) is caught by the parties' mirrors, whose fork evidence ``parley verify fork`` checks
offline; a stale but consistent checkpoint is not a fork; a real hub is followed to its end and
its tiles served byte for byte; a mirror restarted after a fork still refuses to go on.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from parley.cli.app import cli
from parley.log import checkpoint as cp
from parley.log import note, tiles
from parley.log.merkle import MerkleTree, leaf_hash
from parley.mirroring import evidence
from parley.mirroring.follow import Mirror
from parley.mirroring.report import Reporter
from parley.mirroring.store import MirrorStore

from .conftest import PartyHandle, Server, free_port
from .test_log_api import fill

ORIGIN = "forking.example/log"
INTERVAL = 1.0


# -- the forking hub (test fixture) -----------------------------------------------------------


@dataclass
class View:
    """One tree, as the forking hub shows it to one party."""

    entries: list[bytes]
    signer: note.Signer
    tree: MerkleTree = field(init=False)
    signed: str = field(init=False)

    def __post_init__(self) -> None:
        self.tree = MerkleTree(leaf_hash(e) for e in self.entries)
        self.signed = cp.sign_checkpoint(
            cp.Checkpoint(ORIGIN, self.tree.size, self.tree.root()), self.signer
        )

    def resource(self, path: str) -> bytes | None:
        size = self.tree.size
        if path.startswith("entries/"):
            index, width = tiles.parse_entries_path(path.removeprefix("entries/"))
            start = index * tiles.TILE_WIDTH
            if start + width > size:
                return None
            return tiles.entry_bundle(self.entries[start : start + width])
        level, index, width = tiles.parse_tile_path(path)
        if not tiles.tile_exists(size, level, index, width):
            return None
        return tiles.hash_tile(self.tree, level, index, width)


def entries(n: int, tag: str = "") -> list[bytes]:
    return [f"entry {i}{tag}".encode() for i in range(n)]


class ForkingHub:
    """Serves ``/<view>/log/checkpoint`` and ``/<view>/log/tile/...`` for views swapped at will;
    no consistency-proof endpoint, so mirrors must prove things from tiles."""

    def __init__(self) -> None:
        self.signer = note.Signer.generate(ORIGIN)
        self.views: dict[str, View] = {}
        self.url = ""

    def show(self, name: str, log_entries: list[bytes]) -> str:
        self.views[name] = View(log_entries, self.signer)
        return f"{self.url}/{name}"

    @property
    def log_key(self) -> str:
        return self.signer.verifier().key_string()

    def app(self) -> Starlette:
        async def checkpoint(request: Request) -> Response:
            view = self.views.get(request.path_params["view"])
            if view is None:
                return Response(status_code=404)
            return PlainTextResponse(view.signed)

        async def tile(request: Request) -> Response:
            view = self.views.get(request.path_params["view"])
            data = view.resource(request.path_params["path"]) if view else None
            if data is None:
                return Response(status_code=404)
            return Response(data, media_type="application/octet-stream")

        return Starlette(
            routes=[
                Route("/{view}/log/checkpoint", checkpoint),
                Route("/{view}/log/tile/{path:path}", tile),
            ]
        )


@pytest.fixture
def forking_hub() -> Iterator[ForkingHub]:
    hub = ForkingHub()
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(hub.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "the forking hub did not start"
        time.sleep(0.01)
    hub.url = f"http://127.0.0.1:{port}"
    try:
        yield hub
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


# -- helpers ----------------------------------------------------------------------------------


def policy_file(tmp_path: Path, log_key: str) -> Path:
    path = tmp_path / "policy.txt"
    path.write_text(f"log {log_key}\nquorum none\n", encoding="utf-8")
    return path


def mirror_args(hub: str, policy: Path, data: Path, *more: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "parley",
        "mirror",
        "--hub",
        hub,
        "--policy",
        str(policy),
        "--data",
        str(data),
        "--json",
        *more,
    ]


class MirrorProcess:
    """A ``parley mirror --json`` process whose events are read as they come."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.events.append(json.loads(line))

    def wait_for(self, kind: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = of(list(self.events), kind)
            if found:
                return found[0]
            assert self.proc.poll() is None or self._reader.is_alive(), (
                f"the mirror exited {self.proc.returncode}: {self.events} "
                f"{self.proc.stderr.read().decode() if self.proc.stderr else ''}"
            )
            assert time.monotonic() < deadline, f"no {kind!r} event: {self.events}"
            time.sleep(0.05)

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


def run_once(hub: str, policy: Path, data: Path, *more: str) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run(
        mirror_args(hub, policy, data, "--once", *more),
        capture_output=True,
        timeout=30,
        check=False,
    )
    events = [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]
    return done.returncode, events


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind]


@dataclass
class Outcome:
    exit_code: int
    output: str


def verify_fork(path: Path | str, log_key: str) -> Outcome:
    """``parley verify fork`` in-process; a refusal's detail joins the output, as ``main``
    would print it."""
    result = CliRunner().invoke(cli, ["verify", "fork", str(path), "--log-key", log_key])
    detail = getattr(result.exception, "detail", "") if result.exception else ""
    return Outcome(result.exit_code, result.output + detail)


def verify_fork_process(path: Path | str, log_key: str) -> Outcome:
    done = subprocess.run(
        [sys.executable, "-m", "parley", "verify", "fork", str(path), "--log-key", log_key],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return Outcome(done.returncode, done.stdout.decode() + done.stderr.decode())


def at(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# -- tests ------------------------------------------------------------------------------------


def test_two_mirrors_catch_a_split_view_and_prove_it(
    forking_hub: ForkingHub, tmp_path: Path
) -> None:
    common = entries(300)
    hub_a = forking_hub.show("a", [*common, b"what party A is shown"])
    hub_b = forking_hub.show("b", [*common, b"what party B is shown"])
    policy = policy_file(tmp_path, forking_hub.log_key)
    port_a, port_b = free_port(), free_port()
    procs = {}
    for name, hub, port, peer in [("a", hub_a, port_a, port_b), ("b", hub_b, port_b, port_a)]:
        procs[name] = MirrorProcess(
            mirror_args(
                hub,
                policy,
                tmp_path / f"mirror-{name}",
                "--serve",
                f"127.0.0.1:{port}",
                "--peer",
                f"http://127.0.0.1:{peer}",
                "--interval",
                str(INTERVAL),
            )
        )
    outputs = {}
    try:
        for proc in procs.values():
            # A mirror that saw the fork keeps serving its branch (so its peer sees it too)
            # until stopped; then it exits 3.
            proc.wait_for("holding", timeout=15)
        for name, proc in procs.items():
            outputs[name] = (proc.stop(), proc.events)
    finally:
        for proc in procs.values():
            proc.kill()
    for name, (code, events) in outputs.items():
        assert code == 3, f"mirror {name} exited {code}: {events}"
        (started,) = of(events, "started")
        (fork,) = of(events, "fork")
        assert fork["kind"] == "split-view"
        # Within two checkpoint intervals of starting (timestamps are whole seconds).
        assert at(fork["at"]) - at(started["at"]) <= 2 * INTERVAL + 1
        assert of(events, "cosigned"), "each mirror cosigned its own view first"
        result = verify_fork_process(fork["file"], forking_hub.log_key)
        assert result.exit_code == 0, result.output
        assert "fork proven:" in result.output
        assert "two different trees of size 301" in result.output

        # Refused: under another key, with one note altered, with both sides the same tree.
        other_key = note.Signer.generate(ORIGIN).verifier().key_string()
        assert verify_fork(fork["file"], other_key).exit_code != 0
        doc = json.loads(Path(fork["file"]).read_text())
        tampered = tmp_path / f"tampered-{name}.json"
        b_note = doc["b"]["note"]
        size_line = "301\n"
        doc["b"]["note"] = b_note.replace(size_line, "302\n", 1)
        tampered.write_text(json.dumps(doc))
        result = verify_fork(tampered, forking_hub.log_key)
        assert result.exit_code != 0 and "fork proven" not in result.output
        doc["b"]["note"] = doc["a"]["note"]
        tampered.write_text(json.dumps(doc))
        result = verify_fork(tampered, forking_hub.log_key)
        assert result.exit_code != 0 and "same root" in result.output


def test_a_rolled_back_log_is_a_fork_and_the_mirror_never_forgets_it(
    forking_hub: ForkingHub, tmp_path: Path
) -> None:
    policy = policy_file(tmp_path, forking_hub.log_key)
    data = tmp_path / "mirror"
    hub = forking_hub.show("hub", entries(700))
    code, events = run_once(hub, policy, data)
    assert code == 0, events
    assert of(events, "checkpoint")[0]["size"] == 700
    (made,) = of(events, "initialised")
    assert made["verifier_key"].startswith("parley-mirror/")
    assert (data / "mirror.key").stat().st_mode & 0o777 == 0o600

    # The hub lost its tail, took new entries, and now shows a smaller, different log.
    forking_hub.show("hub", [*entries(500), *entries(100, " after the rollback")])
    code, events = run_once(hub, policy, data)
    assert code == 3, events
    (fork,) = of(events, "fork")
    assert fork["kind"] == "rollback"
    result = verify_fork(fork["file"], forking_hub.log_key)
    assert result.exit_code == 0, result.output
    assert "size-600 tree" in result.output and "not a prefix of its size-700 tree" in result.output

    # A forged proof is refused: a wrong old root, a changed hash, no proof at all.
    doc = json.loads(Path(fork["file"]).read_text())
    for damage in ("old_root", "proof", "missing"):
        forged = json.loads(json.dumps(doc))
        if damage == "old_root":
            forged["consistency"]["old_root"] = json.loads(json.dumps(doc))["consistency"]["proof"][
                0
            ]
        elif damage == "proof":
            forged["consistency"]["proof"][1] = forged["consistency"]["proof"][0]
        else:
            forged["consistency"] = None
        path = tmp_path / f"forged-{damage}.json"
        path.write_text(json.dumps(forged))
        result = verify_fork(path, forking_hub.log_key)
        assert result.exit_code != 0 and "fork proven" not in result.output, damage

    # Restarted, even against an honest-looking hub, the mirror reports the fork and stops.
    forking_hub.show("hub", entries(800))
    code, events = run_once(hub, policy, data)
    assert code == 3
    (again,) = of(events, "fork")
    assert again["file"] == fork["file"] and "recorded" in again["message"]
    assert not of(events, "cosigned")


def test_stale_consistent_checkpoints_are_not_forks(
    forking_hub: ForkingHub, tmp_path: Path
) -> None:
    policy = policy_file(tmp_path, forking_hub.log_key)
    data = tmp_path / "mirror"
    log = entries(600)
    hub = forking_hub.show("hub", log)
    behind = forking_hub.show("behind", log[:257])
    ahead = forking_hub.show("ahead", [*log, *entries(90, " later")])
    code, events = run_once(hub, policy, data, "--peer", behind, "--peer", ahead)
    assert code == 0, events
    statuses = {e["peer"]: e["status"] for e in of(events, "consistent")}
    assert statuses == {behind: "stale", ahead: "ahead"}

    # The hub itself answering with an older checkpoint (a lagging replica) is no fork either.
    forking_hub.show("hub", log[:300])
    code, events = run_once(hub, policy, data)
    assert code == 0, events
    assert of(events, "stale") and not of(events, "fork")

    # A peer ahead on another branch is: its own tiles prove it.
    other = forking_hub.show("other", [*log[:599], b"elsewhere", *entries(5)])
    code, events = run_once(hub, policy, data, "--peer", other)
    assert code == 3, events
    (fork,) = of(events, "fork")
    assert verify_fork(fork["file"], forking_hub.log_key).exit_code == 0


def test_a_log_that_rewrites_verified_entries_while_growing_is_a_fork(
    forking_hub: ForkingHub, tmp_path: Path
) -> None:
    policy = policy_file(tmp_path, forking_hub.log_key)
    data = tmp_path / "mirror"
    log = entries(700)
    hub = forking_hub.show("hub", log)
    assert run_once(hub, policy, data)[0] == 0
    rewritten = [*log[:100], b"entry 100, edited", *log[101:], *entries(200, " new")]
    forking_hub.show("hub", rewritten)
    code, events = run_once(hub, policy, data)
    assert code == 3, events
    (fork,) = of(events, "fork")
    assert fork["kind"] == "rewrite"
    result = verify_fork(fork["file"], forking_hub.log_key)
    assert result.exit_code == 0, result.output
    assert "size-700 tree" in result.output and "size-900 tree" in result.output
    # Nothing of the rewritten log was cosigned or served.
    assert not of(events, "cosigned")
    assert MirrorStore(data / "mirror.db").head().checkpoint.size == 700  # type: ignore[union-attr]


def test_a_witness_that_cosigned_the_other_branch_is_a_peer_that_reveals_it(
    forking_hub: ForkingHub, tmp_path: Path
) -> None:
    """Party B's witness (a real ``parley witness`` service) cosigned B's branch; party A's
    mirror, given that witness as a peer, finds the split view through its monitoring path."""
    from parley.witness import app as witness_app
    from parley.witness import client as witness_client
    from parley.witness import datadir as witness_dir

    common = entries(40)
    hub_a = forking_hub.show("a", [*common, b"A"])
    forking_hub.show("b", [*common, b"B"])
    witness_data = tmp_path / "witness"
    witness_dir.init(witness_data, "witness.bravo.example")
    witness_dir.add_log(witness_data, ORIGIN, forking_hub.log_key)
    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(
            witness_app.app_for(witness_data), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not uv.started:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        witness_url = f"http://127.0.0.1:{port}"
        witness_client.add_checkpoint(witness_url, 0, [], forking_hub.views["b"].signed)
        policy = policy_file(tmp_path, forking_hub.log_key)
        code, events = run_once(hub_a, policy, tmp_path / "mirror-a", "--peer", witness_url)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
    assert code == 3, events
    (fork,) = of(events, "fork")
    assert fork["kind"] == "split-view"
    doc = json.loads(Path(fork["file"]).read_text())
    assert doc["b"]["source"].startswith(witness_url + "/")
    assert verify_fork(fork["file"], forking_hub.log_key).exit_code == 0


class CheckingSigner(note.CosignatureSigner):
    """Asserts, at the moment of cosigning, that the checkpoint and its tiles are on disk."""

    db: Path
    signed: list[int]

    def sign(self, text: bytes) -> bytes:
        size = cp.parse(text.decode()).size
        with sqlite3.connect(self.db) as db:
            (held,) = db.execute("SELECT size FROM head").fetchone()
            stored = {row[0] for row in db.execute("SELECT path FROM tiles")}
        assert held == size
        needed = [t.path for t in tiles.tiles_for_size(size)]
        needed += [b.path for b in tiles.bundles_for_size(size)]
        assert set(needed) <= stored
        self.signed.append(size)
        return super().sign(text)


def test_the_mirror_cosigns_only_what_it_has_stored(
    forking_hub: ForkingHub, tmp_path: Path
) -> None:
    hub = forking_hub.show("hub", entries(1000))
    signer = CheckingSigner.generate("mirror.test/checking")
    assert isinstance(signer, CheckingSigner)
    signer.db, signer.signed = tmp_path / "mirror.db", []
    store = MirrorStore(signer.db)
    verifier = forking_hub.signer.verifier()
    mirror = Mirror(tmp_path, hub, verifier, signer, store, Reporter(as_json=True))
    try:
        mirror.sync()
        forking_hub.show("hub", entries(1300))
        mirror.sync()
    finally:
        mirror.close()
    assert signer.signed == [1000, 1300]
    head = store.head()
    assert head is not None and head.cosigned is not None
    _, verified = note.open_note_detailed(head.cosigned, [verifier, signer.verifier()])
    assert {v.name for v in verified} == {ORIGIN, "mirror.test/checking"}


def test_the_mirror_follows_a_real_hub_and_serves_its_tiles(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    fill(server, parties["relief"], 40)
    log_key = httpx.get(f"{server.url}/log/verifier-key").text.strip()
    policy = policy_file(tmp_path, log_key)
    port = free_port()
    proc = MirrorProcess(
        mirror_args(
            server.url,
            policy,
            tmp_path / "mirror",
            "--serve",
            f"127.0.0.1:{port}",
            "--interval",
            "0.2",
        )
    )
    mirror_url = f"http://127.0.0.1:{port}"
    try:
        started = proc.wait_for("started", timeout=15)
        vkey = started["verifier_key"]
        fill(server, parties["relief"], 30)
        deadline = time.monotonic() + 20
        while True:
            hub_note = httpx.get(f"{server.url}/log/checkpoint").text
            hub_cp = cp.verify_checkpoint(
                hub_note, note.Verifier.from_key(log_key), started["origin"]
            )
            try:
                mirrored = httpx.get(f"{mirror_url}/log/checkpoint")
            except httpx.TransportError:
                mirrored = None
            if mirrored is not None and mirrored.status_code == 200:
                text, verified = note.open_note_detailed(
                    mirrored.text,
                    [note.Verifier.from_key(log_key), note.CosignatureVerifier.from_key(vkey)],
                )
                if hub_cp.size >= 70 and cp.parse(text) == hub_cp and len(verified) == 2:
                    break
            assert time.monotonic() < deadline, f"no catch-up: {hub_cp} {proc.events}"
            time.sleep(0.1)
        assert hub_cp.size >= 70
        paths = [t.path for t in tiles.tiles_for_size(hub_cp.size)]
        paths += [b.path for b in tiles.bundles_for_size(hub_cp.size)]
        with httpx.Client() as client:
            for path in paths:
                ours = client.get(f"{mirror_url}/log/{path}")
                theirs = client.get(f"{server.url}/log/{path}")
                assert ours.status_code == theirs.status_code == 200, path
                assert ours.content == theirs.content, path
        result = CliRunner().invoke(cli, ["verify", "log", mirror_url, "--log-key", log_key])
        assert result.exit_code == 0, result.output
        assert proc.stop() == 0
        assert not of(proc.events, "fork") and not of(proc.events, "error")
    finally:
        proc.kill()


def test_verify_fork_refuses_what_is_not_evidence(tmp_path: Path) -> None:
    signer = note.Signer.generate(ORIGIN)
    key = signer.verifier().key_string()
    small = View(entries(5), signer)
    large = View(entries(9), signer)
    doc = evidence.Evidence(
        ORIGIN,
        "rollback",
        "2026-01-01T00:00:00Z",
        "test",
        "a consistent pair",
        evidence.Side(small.signed, "x"),
        evidence.Side(large.signed, "y"),
        evidence.Consistency(5, 9, large.tree.root(5), large.tree.consistency_proof(5)),
    ).to_json()
    path = tmp_path / "consistent.json"
    path.write_text(json.dumps(doc))
    result = verify_fork(path, key)
    assert result.exit_code != 0 and "consistent, no fork" in result.output
    path.write_text("not json")
    assert verify_fork(path, key).exit_code != 0
