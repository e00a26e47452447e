"""The whole-log verifier against a tiled log held in a dict, tampered with in every way a
hostile or broken hub could: a changed entry, a changed tile, a wrong checkpoint, deleted
entries, and history rewritten after a client saved its state."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from parley.errors import CheckpointError, ProofError, TileError
from parley.log import checkpoint as cp
from parley.log import tiles
from parley.log.merkle import MerkleTree, leaf_hash
from parley.log.note import Signer
from parley.log.verifier import StateError, VerifierState, verify_log

ORIGIN = "test.parley/log"
SIGNER = Signer.generate(ORIGIN)
VERIFIER = SIGNER.verifier()


def entry(i: int) -> bytes:
    return b"submission %d " % i + b"." * (i % 7)


class Log:
    """A tlog-tiles log served from a dict; ``fetched`` records every path asked for."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries
        self.served: dict[str, bytes] = {}
        self.fetched: list[str] = []
        self.publish()

    def publish(self, signer: Signer = SIGNER, origin: str = ORIGIN) -> None:
        tree = MerkleTree(leaf_hash(e) for e in self.entries)
        size = len(self.entries)
        checkpoint = cp.Checkpoint(origin, size, tree.root())
        self.served["checkpoint"] = cp.sign_checkpoint(checkpoint, signer).encode()
        for t in tiles.tiles_for_size(size):
            self.served[t.path] = tiles.hash_tile(tree, t.level, t.index, t.width)
        for b in tiles.bundles_for_size(size):
            self.served[b.path] = tiles.entry_bundle(self.entries[b.start : b.start + b.width])

    def fetch(self, path: str) -> bytes:
        self.fetched.append(path)
        return self.served[path]


def verify(log: Log, state: VerifierState | None = None) -> VerifierState:
    return verify_log(log.fetch, VERIFIER, ORIGIN, state)


@pytest.mark.parametrize("size", [0, 1, 2, 255, 256, 257, 1000, 66000])
def test_an_honest_log_verifies(size: int) -> None:
    log = Log([entry(i) for i in range(size)])
    state = verify(log)
    assert state.size == size
    assert state.root == MerkleTree(leaf_hash(entry(i)) for i in range(size)).root()
    assert state.leaf_hash(size - 1 if size else 0) == (leaf_hash(entry(size - 1)) if size else b"")
    assert state.note == log.served["checkpoint"].decode()
    bundles = [p for p in log.fetched if p.startswith("tile/entries/")]
    assert len(bundles) == len(tiles.bundles_for_size(size))
    # Every hash tile, including levels 1 and 2 for 66000 entries, is checked.
    assert sorted(p for p in log.fetched if p.startswith("tile/") and p not in bundles) == sorted(
        t.path for t in tiles.tiles_for_size(size)
    )


def test_a_tampered_entry_is_named() -> None:
    log = Log([entry(i) for i in range(1000)])
    changed = list(log.entries[:256])
    changed[41] = b"something else"
    log.served["tile/entries/000"] = tiles.entry_bundle(changed)
    with pytest.raises(TileError, match=r"^entry 41 does not match the tree: .*tile/0/000"):
        verify(log)


def test_the_first_of_several_tampered_entries_is_named() -> None:
    log = Log([entry(i) for i in range(1000)])
    changed = list(log.entries[512:768])
    changed[200] = changed[7] = b"x"
    log.served["tile/entries/002"] = tiles.entry_bundle(changed)
    with pytest.raises(TileError, match=r"^entry 519 does not match"):
        verify(log)


def test_an_entry_changed_together_with_its_tile_breaks_the_root() -> None:
    log = Log([entry(i) for i in range(1000)])
    size = len(log.entries)
    log.entries[41] = b"rewritten"
    checkpoint = log.served["checkpoint"]
    log.publish()
    log.served["checkpoint"] = checkpoint  # the old signed root, the new entries and tiles
    with pytest.raises(CheckpointError, match=f"the {size} entries hash to root .* but the"):
        verify(log)


def test_a_wrong_upper_level_tile_is_named() -> None:
    log = Log([entry(i) for i in range(66000)])
    tile = bytearray(log.served["tile/1/000"])
    tile[5 * 32] ^= 1
    log.served["tile/1/000"] = bytes(tile)
    with pytest.raises(TileError, match=re.escape("tile/1/000 does not match the tree at hash 5")):
        verify(log)


@pytest.mark.parametrize(
    ("path", "data", "why"),
    [
        ("tile/0/003.p/232", b"\x00" * 31, "tile/0/003.p/232 is 31 bytes; 232 hashes are 7424"),
        ("tile/entries/003.p/232", b"\x00\x05ab", "tile/entries/003.p/232: entry bundle is cut"),
        (
            "tile/entries/001",
            tiles.entry_bundle([entry(i) for i in range(256, 511)]),
            "tile/entries/001: entry bundle holds 255 entries, expected 256",
        ),
    ],
)
def test_malformed_tiles_and_bundles_are_named(path: str, data: bytes, why: str) -> None:
    log = Log([entry(i) for i in range(1000)])
    log.served[path] = data
    with pytest.raises(TileError, match=re.escape(why)):
        verify(log)


def test_deleted_newest_entries_are_reported_missing() -> None:
    log = Log([entry(i) for i in range(1000)])
    del log.served["tile/entries/003.p/232"]
    with pytest.raises(TileError, match=re.escape("cannot fetch tile/entries/003.p/232")):
        verify(log)


def test_a_checkpoint_signed_by_someone_else_is_refused() -> None:
    log = Log([entry(i) for i in range(10)])
    log.publish(signer=Signer.generate(ORIGIN))
    with pytest.raises(CheckpointError, match="no signature by a known key"):
        verify(log)


def test_a_checkpoint_for_another_origin_is_refused() -> None:
    other = Signer.generate("other.example/log")
    log = Log([entry(i) for i in range(10)])
    log.publish(signer=other, origin="other.example/log")
    with pytest.raises(CheckpointError, match=re.escape("expected 'test.parley/log'")):
        verify_log(log.fetch, other.verifier(), ORIGIN)


def test_a_missing_checkpoint_is_a_checkpoint_error() -> None:
    nothing: dict[str, bytes] = {}
    with pytest.raises(CheckpointError, match="cannot fetch checkpoint"):
        verify_log(nothing.__getitem__, VERIFIER, ORIGIN)


def test_progress_reaches_the_total() -> None:
    log = Log([entry(i) for i in range(600)])
    seen: list[tuple[int, int]] = []
    verify_log(log.fetch, VERIFIER, ORIGIN, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(256, 600), (512, 600), (600, 600)]


# -- incremental runs -------------------------------------------------------------------------


def saved(log: Log, tmp_path: Path) -> VerifierState:
    path = tmp_path / "state.json"
    verify(log).save(path)
    return VerifierState.load(path)


def test_a_second_run_fetches_and_rehashes_every_entry(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(1000)])
    state = saved(log, tmp_path)
    log.entries += [entry(i) for i in range(1000, 1500)]
    log.publish()
    log.fetched.clear()
    again = verify(log, state)
    assert again.size == 1500
    assert again.leaves == verify(Log(log.entries)).leaves
    bundles = [p for p in log.fetched if p.startswith("tile/entries/")]
    assert bundles == [tiles.entries_path(i) for i in range(5)] + ["tile/entries/005.p/220"]


def test_an_unchanged_log_is_fetched_and_rehashed_again(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(1000)])
    state = saved(log, tmp_path)
    log.fetched.clear()
    assert verify(log, state).leaves == state.leaves
    assert [p for p in log.fetched if p.startswith("tile/entries/")] == [
        b.path for b in tiles.bundles_for_size(1000)
    ]


def _serve_altered(log: Log, index: int, with_tile: bool) -> None:
    """Serve entry ``index`` altered under the same checkpoint (and the matching level-0 tile
    if ``with_tile``), as a hub rebuilding its tree from altered rows would."""
    entries = list(log.entries)
    entries[index] = b"what we never said"
    bundle = tiles.bundles_for_size(len(entries))[index // tiles.TILE_WIDTH]
    log.served[bundle.path] = tiles.entry_bundle(
        entries[bundle.start : bundle.start + bundle.width]
    )
    if with_tile:
        tree = MerkleTree(leaf_hash(e) for e in entries)
        log.served[tiles.tile_path(0, bundle.index, bundle.width)] = tiles.hash_tile(
            tree, 0, bundle.index, bundle.width
        )


@pytest.mark.parametrize("with_tile", [False, True])
def test_an_altered_entry_under_an_unchanged_checkpoint_is_named(
    tmp_path: Path, with_tile: bool
) -> None:
    log = Log([entry(i) for i in range(1000)])
    state = saved(log, tmp_path)
    _serve_altered(log, 517, with_tile)
    with pytest.raises(ProofError, match=r"^entry 517 changed since the last verified checkpoint"):
        verify(log, state)


def test_a_shrunken_log_is_caught(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(1000)])
    state = saved(log, tmp_path)
    del log.entries[990:]
    log.publish()
    with pytest.raises(ProofError, match="the log shrank from 1000 to 990 entries"):
        verify(log, state)


def test_history_rewritten_and_grown_is_caught_and_named(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(1000)])
    state = saved(log, tmp_path)
    log.entries[41] = b"what we never said"
    log.entries += [entry(i) for i in range(1000, 1200)]
    log.publish()  # a fully consistent new log: only the saved state can tell
    verify(Log(log.entries))
    with pytest.raises(ProofError, match=r"^entry 41 changed since the last verified checkpoint"):
        verify(log, state)


def test_history_rewritten_at_the_same_size_is_caught_and_named(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(1000)])
    state = saved(log, tmp_path)
    log.entries[700] = b"what we never said"
    log.publish()
    with pytest.raises(ProofError, match=r"^entry 700 changed since the last verified checkpoint"):
        verify(log, state)


def test_history_rewritten_in_the_bundle_fetched_again_is_named(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(1000)])
    state = saved(log, tmp_path)
    log.entries[900] = b"what we never said"
    log.entries += [entry(i) for i in range(1000, 1100)]
    log.publish()
    with pytest.raises(ProofError, match=r"^entry 900 changed since the last verified checkpoint"):
        verify(log, state)


def test_state_files_round_trip(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(300)])
    state = verify(log)
    path = tmp_path / "state.json"
    state.save(path)
    doc = json.loads(path.read_text())
    assert doc["size"] == 300
    assert base64.b64decode(doc["root"]) == state.root
    assert doc["checkpoint"] == state.note
    assert (tmp_path / "state.json.leaves").read_bytes() == state.leaves
    assert len(state.leaves) == 300 * 32
    assert VerifierState.load(path) == state


def test_a_longer_leaves_file_from_an_interrupted_save_is_accepted(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(300)])
    path = tmp_path / "state.json"
    verify(log).save(path)
    with open(tmp_path / "state.json.leaves", "ab") as f:
        f.write(leaf_hash(b"next"))
    assert VerifierState.load(path).size == 300


def test_a_short_leaves_file_is_refused(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(300)])
    path = tmp_path / "state.json"
    verify(log).save(path)
    (tmp_path / "state.json.leaves").write_bytes(bytes(32 * 299))
    with pytest.raises(StateError, match="holds 299 leaf hashes; the state needs 300"):
        VerifierState.load(path)


def test_damaged_saved_leaves_are_caught(tmp_path: Path) -> None:
    log = Log([entry(i) for i in range(1000)])
    path = tmp_path / "state.json"
    verify(log).save(path)
    leaves = bytearray((tmp_path / "state.json.leaves").read_bytes())
    leaves[10 * 32] ^= 1
    (tmp_path / "state.json.leaves").write_bytes(bytes(leaves))
    log.entries.append(entry(1000))
    log.publish()
    with pytest.raises(StateError, match="state is damaged"):
        verify(log, VerifierState.load(path))


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("not json", "is not a verifier state file"),
        ("{}", "is not a parley-log-verifier/1 file"),
        ('{"format": "parley-log-verifier/1"}', "holds no checkpoint"),
    ],
)
def test_malformed_state_files(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    (tmp_path / "state.json.leaves").write_bytes(b"")
    with pytest.raises(StateError, match=re.escape(why)):
        VerifierState.load(path)


def test_a_state_whose_summary_disagrees_with_its_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    verify(Log([entry(i) for i in range(5)])).save(path)
    doc = json.loads(path.read_text())
    doc["size"] = 4
    path.write_text(json.dumps(doc))
    with pytest.raises(StateError, match="disagree with its checkpoint"):
        VerifierState.load(path)


def test_a_missing_state_file_is_a_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="cannot read verifier state"):
        VerifierState.load(tmp_path / "nope.json")


def test_a_state_for_another_origin_is_refused(tmp_path: Path) -> None:
    other = Signer.generate("other.example/log")
    log = Log([entry(i) for i in range(5)])
    log.publish(signer=other, origin="other.example/log")
    state = verify_log(log.fetch, other.verifier(), "other.example/log")
    with pytest.raises(StateError, match=re.escape("for origin 'other.example/log'")):
        verify(Log([entry(i) for i in range(5)]), state)
