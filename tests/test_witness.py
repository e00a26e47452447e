"""The witness (c2sp.org/tlog-witness), against a real ``parley witness serve`` process over
real sockets. Checkpoints and proofs are built with parley's own log code; the cosignatures are
also checked by hand against the tlog-cosignature text and, where Debian's Go toolchain and
golang.org/x/mod are installed, by a small Go verifier built offline.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from parley.cli.app import cli
from parley.log import checkpoint as cp
from parley.log import merkle, note
from parley.witness import client, datadir
from parley.witness.protocol import request_body

from .conftest import free_port

VECTORS = json.loads(
    (Path(__file__).parent / "log" / "vectors" / "signed-note-vectors.json").read_text("utf-8")
)


@dataclass
class WitnessProcess:
    data_dir: Path
    port: int
    stderr: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _where(self) -> list[str]:
        return ["--data", str(self.data_dir), "--port", str(self.port)]

    def start(self) -> None:
        with self.stderr.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "parley", "witness", "serve", *self._where()],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr.read_text()
            try:
                httpx.get(f"{self.url}/{'0' * 64}/checkpoint", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the witness did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def signer(self) -> note.CosignatureSigner:
        return datadir.load_signer(self.data_dir)

    def verifier(self) -> note.CosignatureVerifier:
        return self.signer().verifier()


def _witness(tmp: Path, name: str = "witness.test/w1") -> WitnessProcess:
    data = tmp / "witness"
    result = CliRunner().invoke(
        cli, ["witness", "init", "--data", str(data), "--name", name, "--json"]
    )
    assert result.exit_code == 0, result.output
    return WitnessProcess(data, free_port(), tmp / "witness.stderr")


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessProcess]:
    w = _witness(tmp_path_factory.mktemp("witness"))
    w.start()
    try:
        yield w
    finally:
        w.stop()


@dataclass
class Log:
    """A test log: parley's Merkle tree and note signer, so checkpoints are the hub's own kind."""

    origin: str = field(default_factory=lambda: f"hub.test/{uuid.uuid4().hex[:12]}")
    tree: merkle.MerkleTree = field(default_factory=merkle.MerkleTree)
    signer: note.Signer | None = None

    def __post_init__(self) -> None:
        if self.signer is None:
            self.signer = note.Signer.generate(self.origin)

    @property
    def key(self) -> note.Signer:
        assert self.signer is not None
        return self.signer

    def grow(self, to: int, tag: str = "") -> Log:
        while self.tree.size < to:
            self.tree.append(merkle.leaf_hash(f"{tag}entry {self.tree.size}".encode()))
        return self

    def note(self, size: int | None = None) -> str:
        size = self.tree.size if size is None else size
        return cp.sign_checkpoint(cp.Checkpoint(self.origin, size, self.tree.root(size)), self.key)

    def body(self, old: int, size: int | None = None) -> bytes:
        size = self.tree.size if size is None else size
        return request_body(old, self.tree.consistency_proof(old, size), self.note(size))

    def fork(self, tag: str) -> Log:
        """Same origin and key, another tree: what a hub showing a split view signs."""
        return Log(self.origin, merkle.MerkleTree(), self.signer).grow(self.tree.size, tag)


def post(w: WitnessProcess, body: bytes) -> httpx.Response:
    return httpx.post(f"{w.url}/add-checkpoint", content=body, timeout=10)


@pytest.fixture
def log(witness: WitnessProcess) -> Log:
    made = Log()
    datadir.add_log(witness.data_dir, made.origin, made.key.verifier().key_string())
    return made


def _size_conflict(r: httpx.Response, size: int) -> None:
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "text/x.tlog.size"
    assert r.text == f"{size}\n"


def _problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["detail"]
    return dict(body)


# --- the cosignature -------------------------------------------------------------------------


def test_cosignature_is_the_spec_message_under_the_witness_key(
    witness: WitnessProcess, log: Log
) -> None:
    log.grow(5)
    before = int(time.time())
    r = post(witness, log.body(0))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    lines = r.text
    assert lines.endswith("\n") and lines.count("\n") == 1 and lines.startswith("— ")

    # By hand, from tlog-cosignature: "— <name> base64(key ID || u64 timestamp || Ed25519 sig)",
    # key ID SHA-256(name || "\n" || 0x04 || public key)[:4], signed message
    # "cosignature/v1\ntime <ts>\n" || checkpoint body.
    vkey = witness.verifier().key_string()
    name, hex_id, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 0x04 and len(raw) == 33
    public = raw[1:]
    assert hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4].hex() == hex_id
    line_name, sig_b64 = lines[len("— ") : -1].split(" ")
    assert line_name == name == "witness.test/w1"
    sig = base64.b64decode(sig_b64)
    assert len(sig) == 4 + 8 + 64
    assert sig[:4].hex() == hex_id
    timestamp = int.from_bytes(sig[4:12], "big")
    assert before <= timestamp <= int(time.time()) + 1
    body = cp.Checkpoint(log.origin, 5, log.tree.root(5)).body().encode()
    message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body
    Ed25519PublicKey.from_public_bytes(public).verify(sig[12:], message)

    # And with parley's own checkpoint code: log signature plus a quorum of one cosigner.
    cosigned = log.note(5) + lines
    got, verified = cp.verify_cosigned_checkpoint(
        cosigned, log.key.verifier(), log.origin, [witness.verifier()]
    )
    assert got.size == 5 and verified[0].timestamp == timestamp

    # First use is trusted, and said so in the witness's log.
    deadline = time.monotonic() + 5
    while "trusted on first use" not in witness.stderr.read_text():
        assert time.monotonic() < deadline, witness.stderr.read_text()
        time.sleep(0.05)


def test_spec_example_cosignature_has_our_layout() -> None:
    # tlog-cosignature's example line: key ID, then the timestamp 1679315147 its "Ed25519
    # signed message" example shows, then 64 signature bytes, as ours.
    example = (
        "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0"
        "xUe+mbIUBkBIfZ+qnA=="
    )
    raw = base64.b64decode(example)
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == 1679315147
    assert note.cosigned_message(b"x\n", 1679315147) == b"cosignature/v1\ntime 1679315147\nx\n"


def test_published_checkpoint_vectors_are_cosigned_and_tampered_ones_refused(
    witness: WitnessProcess,
) -> None:
    real = next(v for v in VECTORS["vectors"] if v["id"] == "sum.golang.org-real-checkpoint")
    origin = real["checkpoint"]["origin"]
    datadir.add_log(witness.data_dir, origin, real["vkey"])
    r = post(witness, request_body(0, [], real["signed_note"]))
    assert r.status_code == 200, r.text
    _, names = note.open_note(real["signed_note"] + r.text, [witness.verifier()])
    assert names == ["witness.test/w1"]
    # Replaying it is fine (same size, same root, empty proof); from 0 it is a 409.
    assert post(
        witness, request_body(real["checkpoint"]["size"], [], real["signed_note"])
    ).is_success
    _size_conflict(post(witness, request_body(0, [], real["signed_note"])), 6476701)

    tampered = next(v for v in VECTORS["vectors"] if v["id"] == "xmod-sumdb-test-tree5-tampered")
    datadir.add_log(witness.data_dir, "go.sum database tree!", tampered["vkey"])
    _problem(post(witness, request_body(0, [], tampered["signed_note"])), 403)


# --- consistency ---------------------------------------------------------------------------


def test_a_consistent_newer_checkpoint_is_cosigned(witness: WitnessProcess, log: Log) -> None:
    assert post(witness, log.grow(3).body(0)).status_code == 200
    for size in (4, 8, 13, 13, 64, 100):
        old = log.tree.size
        log.grow(size)
        r = post(witness, log.body(old))
        assert r.status_code == 200, (size, r.text)
        cp.verify_cosigned_checkpoint(
            log.note() + r.text, log.key.verifier(), log.origin, [witness.verifier()]
        )
    # Through the client the hub will use, keeping only verified lines of the named witness.
    old = log.tree.size
    log.grow(120)
    lines = client.add_checkpoint(
        witness.url,
        old,
        log.tree.consistency_proof(old),
        log.note(),
        5,
        witness=witness.verifier(),
    )
    assert lines.startswith("— witness.test/w1 ")
    # The monitor retrieval path serves what was cosigned, with the log's signature.
    origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
    latest = httpx.get(f"{witness.url}/{origin_hash}/checkpoint")
    assert latest.status_code == 200
    got, _ = cp.verify_cosigned_checkpoint(
        latest.text, log.key.verifier(), log.origin, [witness.verifier()]
    )
    assert got.size == 120


def test_a_second_branch_of_the_same_size_is_refused_and_kept_as_evidence(
    witness: WitnessProcess, log: Log
) -> None:
    log.grow(6)
    assert post(witness, log.body(0)).status_code == 200
    branch = log.fork("B:")
    assert branch.tree.root() != log.tree.root()
    # The log knows what was cosigned (old 6): same size, another root, is 422 ...
    _problem(post(witness, request_body(6, [], branch.note())), 422)
    # ... from a wrong old size, 409 with the size cosigned ...
    _size_conflict(post(witness, branch.body(0)), 6)
    # ... and the branch grown further cannot prove it extends the cosigned tree.
    branch.grow(9, "B:")
    _problem(post(witness, request_body(6, branch.tree.consistency_proof(6), branch.note())), 422)
    # The witness stayed on the first branch, which still advances.
    assert post(witness, log.grow(9).body(6)).status_code == 200
    seen = datadir.open_store(witness.data_dir).sightings(log.origin)
    assert [s.kind for s in seen] == ["fork", "fork", "inconsistent"]
    # The evidence is two notes validly signed by the log key, same size, different roots.
    a = cp.verify_checkpoint(seen[0].cosigned, log.key.verifier(), log.origin)
    b = cp.verify_checkpoint(seen[0].note, log.key.verifier(), log.origin)
    assert a.size == b.size == 6 and a.root != b.root


def test_a_rolled_back_checkpoint_gets_409_with_the_cosigned_size(
    witness: WitnessProcess, log: Log
) -> None:
    log.grow(10)
    assert post(witness, log.body(0)).status_code == 200
    # A log that lost its last leaves starts again from what it still has.
    _size_conflict(post(witness, log.body(0, 7)), 10)
    _size_conflict(post(witness, log.body(4, 7)), 10)
    # An old size above the checkpoint's is malformed, per the spec.
    _problem(post(witness, request_body(10, [], log.note(7))), 400)
    with pytest.raises(client.WitnessError) as refused:
        client.add_checkpoint(witness.url, 0, [], log.note(7), 5)
    assert (refused.value.witness_status, refused.value.size) == (409, 10)
    assert datadir.open_store(witness.data_dir).latest(log.origin).tree_size == 10  # type: ignore[union-attr]


# --- refusals --------------------------------------------------------------------------------


def test_unknown_origin_is_404(witness: WitnessProcess) -> None:
    stranger = Log().grow(2)
    _problem(post(witness, stranger.body(0)), 404)
    with pytest.raises(client.WitnessError) as refused:
        client.add_checkpoint(witness.url, 0, [], stranger.note(), 5)
    assert refused.value.witness_status == 404


def test_bad_signatures_are_403(witness: WitnessProcess, log: Log) -> None:
    log.grow(3)
    # Signed by another key under the log's name: no signature by a trusted key.
    impostor = Log(log.origin, log.tree, note.Signer.generate(log.origin))
    _problem(post(witness, impostor.body(0)), 403)
    # The trusted key's line with a broken signature.
    signed = log.note()
    text, [line] = note.parse_note(signed)
    broken = note.SignatureLine(line.name, line.key_id, bytes(64)).line()
    _problem(post(witness, request_body(0, [], text + "\n" + broken)), 403)
    # A checkpoint text changed after signing.
    _problem(post(witness, request_body(0, [], signed.replace("\n3\n", "\n2\n", 1))), 403)
    # Unknown signatures beside the trusted one are ignored.
    extra = note.add_signatures(signed, note.Signer.generate("someone.else"))
    assert post(witness, request_body(0, [], extra)).status_code == 200


def test_inconsistent_requests_are_422(witness: WitnessProcess, log: Log) -> None:
    empty = cp.sign_checkpoint(cp.Checkpoint(log.origin, 0, bytes(32)), log.key)
    _problem(post(witness, request_body(0, [], empty)), 422)
    log.grow(4)
    _problem(post(witness, request_body(0, [bytes(32)], log.note())), 422)
    assert post(witness, log.body(0)).status_code == 200
    log.grow(7)
    proof = log.tree.consistency_proof(4)
    _problem(post(witness, request_body(4, [*proof[:-1], bytes(32)], log.note())), 422)
    _problem(post(witness, request_body(4, proof[:-1], log.note())), 422)
    _problem(post(witness, request_body(4, [*proof, proof[0]], log.note())), 422)
    assert post(witness, log.body(4)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\n\n",
        b"old 1",
        b"old 01\n\nx\n",
        b"old -1\n\nx\n",
        b"Old 0\n\nx\n",
        b"old 0 \n\nx\n",
        b"old 99999999999999999999\n\nx\n",
        b"old 0\nnot base64!\n\nx\n",
        b"old 0\n" + base64.b64encode(bytes(31)) + b"\n\nx\n",
        b"old 0\n" + (base64.b64encode(bytes(32)) + b"\n") * 64 + b"\nx\n",
        b"old 0\n\nhub.test/x\n1\n",
        b"old 0\n\nhub.test/x\n01\nAAAA\n\n\xe2\x80\x94 k AAAAAAA=\n",
        b"old 0\n\n\xff\xfe\n",
    ],
)
def test_malformed_requests_are_400(witness: WitnessProcess, body: bytes) -> None:
    _problem(post(witness, body), 400)


def test_other_methods_and_paths(witness: WitnessProcess) -> None:
    assert httpx.get(f"{witness.url}/add-checkpoint").status_code == 405
    _problem(httpx.get(f"{witness.url}/{'ab' * 32}/checkpoint"), 404)
    _problem(httpx.get(f"{witness.url}/nothing"), 404)
    _problem(post(witness, b"old 0\n" * 200_000), 413)


# --- state ---------------------------------------------------------------------------------


def test_a_restarted_witness_keeps_its_state_and_never_rolls_back(tmp_path: Path) -> None:
    w = _witness(tmp_path)
    log = Log().grow(8)
    datadir.add_log(w.data_dir, log.origin, log.key.verifier().key_string())
    w.start()
    try:
        assert post(w, log.body(0)).status_code == 200
    finally:
        w.stop()
    w.start()
    try:
        _size_conflict(post(w, log.body(0, 5)), 8)
        _problem(post(w, request_body(8, [], log.fork("B:").note())), 422)
        assert post(w, log.grow(11).body(8)).status_code == 200
    finally:
        w.stop()
    # Not even a hand-typed statement rolls it back, forks it or resets it.
    conn = sqlite3.connect(w.data_dir / datadir.DB_FILE)
    for statement in (
        "UPDATE checkpoints SET tree_size = 5",
        "UPDATE checkpoints SET root = zeroblob(32)",
        "DELETE FROM checkpoints",
        "DELETE FROM sightings",
    ):
        with pytest.raises(sqlite3.DatabaseError, match=r"never|kept"):
            conn.execute(statement)
    conn.close()
    status = CliRunner().invoke(cli, ["witness", "status", "--data", str(w.data_dir), "--json"])
    assert status.exit_code == 0, status.output
    [entry] = json.loads(status.output)["logs"]
    assert entry["tree_size"] == 11 and entry["root"] == log.tree.root().hex()


def test_concurrent_requests_cannot_roll_it_back(witness: WitnessProcess, log: Log) -> None:
    log.grow(2)
    assert post(witness, log.body(0)).status_code == 200
    deadline = time.monotonic() + 20
    with httpx.Client(timeout=10) as http:
        for _ in range(15):
            old = log.tree.size
            log.grow(old + 2)
            small, large = log.body(old, old + 1), log.body(old)
            barrier = threading.Barrier(2)
            answers: dict[str, httpx.Response] = {}

            def send(
                which: str,
                body: bytes,
                barrier: threading.Barrier = barrier,
                answers: dict[str, httpx.Response] = answers,
            ) -> None:
                barrier.wait()
                answers[which] = http.post(f"{witness.url}/add-checkpoint", content=body)

            threads = [
                threading.Thread(target=send, args=("small", small)),
                threading.Thread(target=send, args=("large", large)),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            codes = sorted(a.status_code for a in answers.values())
            assert codes == [200, 409], {k: (a.status_code, a.text) for k, a in answers.items()}
            winner = "small" if answers["small"].status_code == 200 else "large"
            won = old + 1 if winner == "small" else old + 2
            loser = answers["large" if winner == "small" else "small"]
            _size_conflict(loser, won)
            latest = datadir.open_store(witness.data_dir).latest(log.origin)
            assert latest is not None and latest.tree_size == won
            if won == old + 1:
                # Catch the witness up, as a log does after a 409.
                assert post(witness, log.body(old + 1)).status_code == 200
            assert time.monotonic() < deadline


# --- the command line ------------------------------------------------------------------------


def test_cli_init_add_log_and_help(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "w"
    result = runner.invoke(
        cli, ["witness", "init", "--data", str(data), "--name", "mission.example/w", "--json"]
    )
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert os.stat(data / datadir.KEY_FILE).st_mode & 0o777 == 0o600
    verifier = note.parse_verifier_key(made["verifier_key"])
    assert isinstance(verifier, note.CosignatureVerifier)
    assert verifier == datadir.load_signer(data).verifier()
    again = runner.invoke(cli, ["witness", "init", "--data", str(data), "--name", "x"])
    assert again.exit_code != 0 and "refusing" in str(again.exception)
    assert datadir.load_signer(data).verifier() == verifier

    vkey = note.Signer.generate("hub.example/log").verifier().key_string()
    args = ["witness", "add-log", "--data", str(data), "--origin", "hub.example/log"]
    added = runner.invoke(cli, [*args, "--log-key", vkey, "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.output) == {"origin": "hub.example/log", "log_key": vkey, "added": True}
    bad = runner.invoke(cli, [*args, "--log-key", vkey[:-2] + "AA"])
    assert bad.exit_code != 0 and "log key" in str(bad.exception)
    for command in ("init", "add-log", "serve", "status"):
        shown = runner.invoke(cli, ["witness", command, "--help"])
        assert shown.exit_code == 0 and "--data" in shown.output


# --- a second implementation -----------------------------------------------------------------

GO_XMOD = Path("/usr/share/gocode/src/golang.org/x/mod/sumdb/note")


@pytest.fixture(scope="module")
def go_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/witness_go built offline from Debian's golang-go and golang-golang-x-mod-dev."""
    go = shutil.which("go")
    if go is None or not GO_XMOD.is_dir():
        pytest.skip(
            "no Go toolchain with golang.org/x/mod (apt: golang-go golang-golang-x-mod-dev)"
        )
    out = tmp_path_factory.mktemp("go") / "witness_check"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GO_XMOD.parents[5]),
        "GOCACHE": str(out.parent / "cache"),
        "GOPROXY": "off",
        "GOFLAGS": "",
    }
    source = Path(__file__).parent / "witness_go" / "main.go"
    subprocess.run([go, "build", "-o", str(out), str(source)], env=env, check=True, timeout=300)
    return out


def _go(
    go_check: Path,
    tmp: Path,
    log: Log,
    w: WitnessProcess,
    old: int,
    proof: list[bytes],
    cosigned: str,
) -> subprocess.CompletedProcess[str]:
    (tmp / "proof").write_text("".join(base64.b64encode(h).decode() + "\n" for h in proof))
    (tmp / "note").write_text(cosigned, encoding="utf-8")
    old_root = base64.b64encode(log.tree.root(old)).decode() if old else ""
    args = [log.key.verifier().key_string(), w.verifier().key_string(), str(old), old_root]
    return subprocess.run(
        [str(go_check), *args, str(tmp / "proof"), str(tmp / "note")],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_go_x_mod_verifier_agrees(
    go_check: Path, witness: WitnessProcess, log: Log, tmp_path: Path
) -> None:
    sizes = [0, 5, 12, 16, 17, 100]
    for old, new in itertools.pairwise(sizes):
        log.grow(new)
        proof = log.tree.consistency_proof(old, new)
        r = post(witness, request_body(old, proof, log.note(new)))
        assert r.status_code == 200, r.text
        ts = int.from_bytes(base64.b64decode(r.text.split(" ")[-1])[4:12], "big")
        done = _go(go_check, tmp_path, log, witness, old, proof, log.note(new) + r.text)
        assert done.returncode == 0 and done.stdout == f"ok {new} {ts}\n", done.stderr
    # Go refuses what parley's witness refuses: a cosignature moved onto another checkpoint ...
    moved = log.fork("B:").note() + r.text
    assert _go(go_check, tmp_path, log, witness, 0, [], moved).returncode != 0
    # ... and a branch's proof from the cosigned size (which the witness answered with 422).
    branch = log.fork("B:").grow(120, "B:")
    bad = branch.tree.consistency_proof(100, 120)
    _problem(post(witness, request_body(100, bad, branch.note())), 422)
    # (Cosigned here with the witness's own key, to show the proof alone fails in Go too.)
    forged = note.add_signatures(branch.note(), witness.signer())
    refused = _go(go_check, tmp_path, log, witness, 100, bad, forged)
    assert refused.returncode != 0 and "invalid transparency proof" in refused.stderr
