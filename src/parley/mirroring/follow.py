"""One round of following the hub, and the comparison with peers.

A round: fetch the hub's checkpoint and check the log's signature; fetch the new entry bundles
in parallel; hash every entry; extend the tree and compare its root with the checkpoint; fetch
the hash tiles above level 0 and compare them with the tree (level 0 is the leaf hashes,
computed from the entries); commit tiles and checkpoint to the store; only
then cosign. The tree of everything verified so far stays in memory (about 64 bytes an entry)
so proofs against any earlier size cost nothing.

Then each peer's latest checkpoint is proven consistent with the mirror's, by the mirror's own
tree when the peer is behind, by the hub's consistency proof or the peer's own tiles when it is
ahead. Two checkpoints that cannot be consistent are a fork: see :mod:`.evidence`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx

from parley.errors import CheckpointError, LogError, ProofError, TileError
from parley.log import checkpoint as cp
from parley.log import keychain, note
from parley.log.merkle import HASH_SIZE, MerkleTree, verify_consistency
from parley.log.tiles import (
    bundles_for_size,
    hash_tile,
    parse_entry_bundle,
    tile_path,
    upper_tiles,
)
from parley.mirroring import evidence
from parley.mirroring.fetch import LogFetcher, peer_checkpoint
from parley.mirroring.report import Reporter, now
from parley.mirroring.store import Head, MirrorStore
from parley.transport import Trust

CHUNK = 512
"""Bundles between progress reports, and per batch when a whole tree is fetched."""


class ForkDetected(Exception):
    def __init__(self, proof: evidence.Evidence, path: Path) -> None:
        super().__init__(proof.explanation)
        self.evidence = proof
        self.path = path


@dataclass
class PeerResult:
    url: str
    status: str  # consistent, stale, ahead, unknown
    size: int | None


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


class Mirror:
    def __init__(
        self,
        data_dir: Path,
        hub_url: str,
        log_verifier: note.Verifier,
        signer: note.CosignatureSigner,
        store: MirrorStore,
        reporter: Reporter,
        peers: list[str] | None = None,
        workers: int = 16,
        trust: Trust | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.hub_url = hub_url
        self.verifier = log_verifier
        self.origin = log_verifier.name
        self.ring = keychain.KeyRing.single(log_verifier)
        self.signer = signer
        self.store = store
        self.reporter = reporter
        self.peers = list(peers or [])
        self.trust = trust or Trust()
        self.hub = LogFetcher(hub_url, workers, trust=self.trust)
        self.head: Head | None = store.head()
        if self.head is not None and self.head.checkpoint.origin != self.origin:
            raise CheckpointError(
                f"{data_dir} mirrors origin {self.head.checkpoint.origin!r}, not {self.origin!r}"
            )
        self.tree = (
            MerkleTree.from_packed(store.leaves(self.head.checkpoint.size))
            if self.head
            else MerkleTree()
        )

    def close(self) -> None:
        self.hub.close()

    def _verify(self, signed: str) -> cp.Checkpoint:
        # By the pinned key or one it rotated to, through the hub's key history.
        self.ring, checkpoint = keychain.verify_following(self.ring, signed, self.hub.get)
        return checkpoint

    @property
    def size(self) -> int:
        return self.head.checkpoint.size if self.head else 0

    # -- the hub ----------------------------------------------------------------------------

    def sync(self) -> None:
        """One round against the hub; raises ``ForkDetected`` or a ``LogError``."""
        signed = self.hub.checkpoint()
        new = self._verify(signed)
        held = self.head
        if held is None or new.size > held.checkpoint.size:
            self._catch_up(signed, new)
        elif new.size == held.checkpoint.size:
            if new.root != held.checkpoint.root:
                self._fork(
                    "rewrite",
                    evidence.Side(held.note, f"{self.hub_url} (earlier)"),
                    evidence.Side(signed, self.hub_url),
                    None,
                    f"the hub signed two roots for size {new.size}",
                )
        else:
            old = held.checkpoint
            if self.tree.root(new.size) != new.root:
                self._fork(
                    "rollback",
                    evidence.Side(signed, self.hub_url),
                    evidence.Side(held.note, f"{self.hub_url} (earlier)"),
                    self._own_proof(new.size),
                    f"the hub rolled its log back from {old.size} to {new.size} entries "
                    "with a different history",
                )
            self.reporter.event(
                "stale",
                f"the hub served an older checkpoint (size {new.size}, mirror holds "
                f"{old.size}); it is a prefix of what the mirror holds: not a fork",
                size=new.size,
                held=old.size,
            )
            return
        if self.head is not None and self.head.cosigned is None:
            self._cosign()

    def _catch_up(self, signed: str, new: cp.Checkpoint) -> None:
        old = self.size
        try:
            self._take_entries(signed, new, old)
            tiles = self._upper_tiles(new, old)
        except BaseException:
            # The in-memory tree may hold entries of a checkpoint that failed: back to what
            # the store holds.
            self.tree = MerkleTree.from_packed(self.store.leaves(old))
            raise
        self.store.save(signed, new, tiles)
        self.head = Head(signed, new, None)
        self.reporter.event(
            "checkpoint",
            f"verified and stored the log at size {new.size} ({new.size - old} new entries)",
            size=new.size,
            root=_b64(new.root),
            new_entries=new.size - old,
        )
        self._cosign()

    def _take_entries(self, signed: str, new: cp.Checkpoint, old: int) -> None:
        bundles = bundles_for_size(new.size, old)
        batch: list[tuple[str, bytes]] = []
        sha256 = hashlib.sha256
        # All bundles are queued at once, so fetching runs ahead while earlier ones are hashed
        # and stored; the pool's size bounds what is in flight. Level-0 hash tiles are not
        # fetched: they are the entries' leaf hashes by definition, computed here, and the root
        # check binds them to the signed checkpoint. The tiles above level 0 are fetched and
        # compared in _finish.
        fetched = self.hub.many([b.path for b in bundles])
        for bundle, (_, data) in zip(bundles, fetched, strict=True):
            try:
                entries = parse_entry_bundle(data, bundle.width)
            except TileError as exc:
                raise TileError(f"{bundle.path}: {exc.detail}") from None
            leaves = b"".join([sha256(b"\x00" + e).digest() for e in entries])
            held = max(0, min(old - bundle.start, bundle.width))
            if held and leaves[: held * HASH_SIZE] != self.tree.hashes(
                0, bundle.start, bundle.start + held
            ):
                # An entry the mirror verified before now hashes differently.
                self._diverged(signed, new)
            self.tree.extend_packed(leaves[held * HASH_SIZE :])
            batch.append((bundle.path, data))
            batch.append((tile_path(0, bundle.index, bundle.width), leaves))
            if len(batch) >= 2 * CHUNK:
                # Tiles beyond the stored head are not served; storing them as they come lets
                # SQLite's writes (which release the GIL) overlap the fetching.
                self.store.add_tiles(batch)
                batch = []
                self.reporter.progress(bundle.start + bundle.width, new.size)
        self.store.add_tiles(batch)
        if self.tree.root() != new.root:
            self._diverged(signed, new)

    def _upper_tiles(self, new: cp.Checkpoint, old: int) -> list[tuple[str, bytes]]:
        """The hub's hash tiles above level 0 that changed, each checked against the tree."""
        tiles: list[tuple[str, bytes]] = []
        upper = upper_tiles(new.size, old)
        served = dict(self.hub.many([tile_path(*t) for t in upper]))
        for level, index, width in upper:
            path = tile_path(level, index, width)
            want = hash_tile(self.tree, level, index, width)
            if served[path] != want:
                raise TileError(f"the hub's {path} does not match the tree its entries make")
            tiles.append((path, want))
        return tiles

    def _cosign(self) -> None:
        assert self.head is not None
        head = self.head
        cosigned = note.add_signatures(head.note, self.signer)
        self.store.set_cosigned(head.checkpoint.size, cosigned)
        self.head = Head(head.note, head.checkpoint, cosigned)
        self.reporter.event(
            "cosigned",
            f"size {head.checkpoint.size} as {self.signer.name}",
            size=head.checkpoint.size,
        )

    def _diverged(self, signed: str, new: cp.Checkpoint) -> NoReturn:
        """The hub's new checkpoint does not extend what the mirror holds, going by the
        entries it serves now. Fetch its whole tree: if that hashes to its checkpoint, the
        hub's own tiles prove the fork; if not, the hub serves bad tiles (no proof either way)."""
        assert self.head is not None
        held = self.head
        other = self._fetch_tree(self.hub, new.size)
        if other.root() != new.root:
            raise TileError(f"the hub's entries do not hash to its checkpoint of size {new.size}")
        if other.root(held.checkpoint.size) == held.checkpoint.root:
            raise TileError(
                f"the hub served entries that differ from its own tree of size {new.size}"
            )
        self._fork(
            "rewrite",
            evidence.Side(held.note, f"{self.hub_url} (earlier)"),
            evidence.Side(signed, self.hub_url),
            evidence.Consistency(
                held.checkpoint.size,
                new.size,
                other.root(held.checkpoint.size),
                other.consistency_proof(held.checkpoint.size),
            ),
            f"the hub's size-{new.size} log rewrote the first {held.checkpoint.size} entries "
            "the mirror had verified",
        )

    def _fetch_tree(self, fetcher: LogFetcher, size: int) -> MerkleTree:
        bundles = bundles_for_size(size)
        leaves = []
        for start in range(0, len(bundles), CHUNK):
            batch = bundles[start : start + CHUNK]
            for bundle, (_, data) in zip(batch, fetcher.many([b.path for b in batch]), strict=True):
                entries = parse_entry_bundle(data, bundle.width)
                leaves.append(b"".join([hashlib.sha256(b"\x00" + e).digest() for e in entries]))
        return MerkleTree.from_packed(b"".join(leaves))

    def _own_proof(self, smaller: int) -> evidence.Consistency:
        return evidence.Consistency(
            smaller, self.size, self.tree.root(smaller), self.tree.consistency_proof(smaller)
        )

    # -- peers ------------------------------------------------------------------------------

    def check_peers(self, client: httpx.Client) -> list[PeerResult]:
        return [self.check_peer(client, url) for url in self.peers]

    def check_peer(self, client: httpx.Client, url: str) -> PeerResult:
        got = peer_checkpoint(client, url, self.origin)
        if got is None:
            self.reporter.event("peer", f"{url} has no checkpoint of {self.origin} yet", peer=url)
            return PeerResult(url, "unknown", None)
        signed, where = got
        try:
            theirs = self._verify(signed)
        except CheckpointError as exc:
            self.reporter.event(
                "warning",
                f"{where} serves a checkpoint the log's key does not sign: {exc.detail}",
                peer=url,
            )
            return PeerResult(url, "unknown", None)
        if self.head is None:
            return PeerResult(url, "unknown", theirs.size)
        ours = self.head.checkpoint
        mine = evidence.Side(self.head.note, self.hub_url)
        peer = evidence.Side(signed, where)
        if theirs.size == ours.size:
            if theirs.root != ours.root:
                self._fork(
                    "split-view",
                    mine,
                    peer,
                    None,
                    f"the hub showed this mirror and {url} two different trees of size {ours.size}",
                )
            return self._peer_ok(url, "consistent", theirs.size)
        if theirs.size < ours.size:
            if theirs.size > 0 and self.tree.root(theirs.size) != theirs.root:
                self._fork(
                    "split-view",
                    peer,
                    mine,
                    self._own_proof(theirs.size),
                    f"{url}'s size-{theirs.size} checkpoint is not a prefix of this mirror's "
                    f"size-{ours.size} log",
                )
            return self._peer_ok(url, "stale", theirs.size)
        return self._peer_ahead(url, signed, where, theirs)

    def _peer_ok(self, url: str, status: str, size: int) -> PeerResult:
        words = {
            "consistent": "holds the same tree",
            "stale": "is behind, on a prefix of this mirror's tree (not a fork)",
            "ahead": "is ahead, on an extension of this mirror's tree",
        }[status]
        self.reporter.event(
            "consistent", f"{url} (size {size}) {words}", peer=url, size=size, status=status
        )
        return PeerResult(url, status, size)

    def _peer_ahead(self, url: str, signed: str, where: str, theirs: cp.Checkpoint) -> PeerResult:
        assert self.head is not None
        ours = self.head.checkpoint
        if ours.size == 0:
            return self._peer_ok(url, "ahead", theirs.size)
        proof = self.hub.consistency_proof(ours.size, theirs.size)
        if proof is not None:
            try:
                verify_consistency(ours.size, theirs.size, ours.root, theirs.root, proof)
                return self._peer_ok(url, "ahead", theirs.size)
            except ProofError:
                pass
        # No proof from the hub: the peer's own copy decides, if it serves one that matches
        # its checkpoint.
        fetcher = LogFetcher(url, self.hub.workers, trust=self.trust)
        try:
            other = self._fetch_tree(fetcher, theirs.size)
        except LogError:
            other = None
        finally:
            fetcher.close()
        if other is None or other.root() != theirs.root:
            self.reporter.event(
                "warning",
                f"{url} is at size {theirs.size}, ahead of this mirror ({ours.size}), and "
                "neither the hub nor the peer proves it consistent yet",
                peer=url,
                size=theirs.size,
            )
            return PeerResult(url, "unknown", theirs.size)
        if other.root(ours.size) == ours.root:
            return self._peer_ok(url, "ahead", theirs.size)
        self._fork(
            "split-view",
            evidence.Side(self.head.note, self.hub_url),
            evidence.Side(signed, where),
            evidence.Consistency(
                ours.size, theirs.size, other.root(ours.size), other.consistency_proof(ours.size)
            ),
            f"{url}'s size-{theirs.size} log does not extend this mirror's size-{ours.size} one",
        )

    # -- forks ------------------------------------------------------------------------------

    def _fork(
        self,
        kind: str,
        a: evidence.Side,
        b: evidence.Side,
        consistency: evidence.Consistency | None,
        explanation: str,
    ) -> NoReturn:
        at = now()
        proof = evidence.Evidence(
            self.origin, kind, at, self.signer.name, explanation, a, b, consistency
        )
        # The file is written and the fork recorded before anything else can fail.
        path = self.data_dir / "forks" / f"fork-{at.replace(':', '')}-{kind}.json"
        n = 1
        while path.exists():
            n += 1
            path = path.with_name(f"fork-{at.replace(':', '')}-{kind}-{n}.json")
        proof.write(path)
        self.store.add_fork(at, kind, str(path), explanation, proof.to_json())
        raise ForkDetected(proof, path)
