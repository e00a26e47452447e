"""RFC 9162 Merkle tree hashing, proofs and their verification (SHA-256).

Hashing (RFC 9162 §2.1.1): a leaf is ``SHA-256(0x00 || data)``, an interior node
``SHA-256(0x01 || left || right)``, the empty tree ``SHA-256("")``. A tree of n > 1 leaves splits
at k, the largest power of two smaller than n: MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n])).

Two ways in: list functions (``root_from_leaf_hashes``, ``inclusion_proof``,
``consistency_proof``) that follow the RFC's recursive definitions over a list of leaf hashes
and cost O(n), for tests and small trees; and :class:`MerkleTree`, which keeps every full
subtree so roots and proofs for any past size cost O(log n). The verifiers take no tree at all.

Producing a proof for arguments that make no sense (index past the size, ...) raises
``ValueError``: that is the caller's bug. A proof that does not verify raises ``ProofError``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from parley.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: the hash of one log entry, ``SHA-256(0x00 || data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: an interior node, ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hashes(hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash {i} is {len(h)} bytes, not {HASH_SIZE}")


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over leaf hashes; the empty tree is ``SHA-256("")``.

    Pairs up each level and carries an odd last node up unchanged, which builds the same
    left-balanced tree as the recursive definition without recursion.
    """
    _check_hashes(hashes)
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]) over the first ``size`` leaf hashes."""
    if not 0 <= index < size <= len(hashes):
        raise ValueError(f"no inclusion proof for index {index} in a tree of size {size}")
    _check_hashes(hashes[:size])
    return _path(index, hashes[:size])


def _path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, leaves[:k]), root_from_leaf_hashes(leaves[k:])]
    return [*_path(m - k, leaves[k:]), root_from_leaf_hashes(leaves[:k])]


def consistency_proof(hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]); empty when the sizes are equal.

    From size 0 the proof is empty too: every tree extends the empty one, so there is
    nothing to prove (and :func:`verify_consistency` refuses to "verify" it).
    """
    if not 0 <= old_size <= new_size <= len(hashes):
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    _check_hashes(hashes[:new_size])
    if old_size == 0:
        return []
    return _subproof(old_size, hashes[:new_size], True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_from_leaf_hashes(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root_from_leaf_hashes(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root_from_leaf_hashes(leaves[:k])]


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            raise ProofError(f"proof hash {i} is {len(p)} bytes, not {HASH_SIZE}")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise ProofError unless ``proof`` shows the leaf at ``index`` in the
    tree of ``size`` leaves whose root is ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash is {len(leaf_hash)} bytes, not {HASH_SIZE}")
    _check_proof(proof)
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError(f"inclusion proof is longer than a tree of size {size} needs")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # Skip the levels where this node is the last one and has no right sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof is shorter than a tree of size {size} needs")
    if r != root:
        raise ProofError(
            f"inclusion proof for leaf {index} leads to root {r.hex()}, not {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless ``proof`` shows the tree of ``old_size``
    leaves with ``old_root`` is a prefix of the tree of ``new_size`` leaves with ``new_root``.

    Equal sizes need an empty proof and equal roots. An old size of 0 is an error, as in
    transparency-dev/merkle: the check would prove nothing.
    """
    if old_size <= 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if old_size > new_size:
        raise ProofError(f"the tree shrank from {old_size} to {new_size} leaves")
    _check_proof(proof)
    if old_size == new_size:
        if proof:
            raise ProofError("trees of equal size need an empty consistency proof")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}")
        return
    if not proof:
        raise ProofError(f"consistency proof from {old_size} to {new_size} is empty")
    path = list(proof)
    # When the old tree is a complete subtree its root is the proof's omitted first node.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(
                f"consistency proof is longer than sizes {old_size} and {new_size} need"
            )
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof is shorter than sizes {old_size} and {new_size} need")
    if fr != old_root:
        raise ProofError(f"consistency proof leads to old root {fr.hex()}, not {old_root.hex()}")
    if sr != new_root:
        raise ProofError(f"consistency proof leads to new root {sr.hex()}, not {new_root.hex()}")


class MerkleTree:
    """An append-only tree that keeps every full subtree (the tlog-tiles "stored hashes").

    ``level k`` holds, in one packed ``bytearray``, the hash of every *complete* subtree of
    2**k leaves: node i covers leaves [i * 2**k, (i + 1) * 2**k). Any subtree the RFC's
    recursion names for a size <= ``size`` is either one of these or the right edge of that
    size, which folds from at most log2(n) stored nodes, so roots and proofs for past sizes
    need no leaves at all. About 64 bytes a leaf; append is O(1) amortised, O(log n) at worst.

    One writer at a time: guard appends with a lock if readers run concurrently.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaf_hashes)

    @classmethod
    def from_packed(cls, packed: bytes) -> MerkleTree:
        """A tree from concatenated 32-byte leaf hashes, built level by level in bulk."""
        tree = cls()
        tree.extend_packed(packed)
        return tree

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    def append(self, leaf_hash: bytes) -> int:
        """Add one leaf hash; return its index."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf_hash)}")
        index = self.size
        self._levels[0] += leaf_hash
        level, i = 0, index
        # Each time the new node is a right child, its parent just became complete.
        while i & 1:
            below = self._levels[level]
            parent = node_hash(
                bytes(below[(i - 1) * HASH_SIZE : i * HASH_SIZE]),
                bytes(below[i * HASH_SIZE : (i + 1) * HASH_SIZE]),
            )
            level += 1
            i >>= 1
            if level == len(self._levels):
                self._levels.append(bytearray())
            self._levels[level] += parent
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        hashes = list(leaf_hashes)
        _check_hashes(hashes)
        self.extend_packed(b"".join(hashes))

    def extend_packed(self, packed: bytes) -> None:
        """Add concatenated 32-byte leaf hashes, hashing each new complete parent once."""
        if len(packed) % HASH_SIZE:
            raise ValueError(f"packed leaf hashes must be a multiple of {HASH_SIZE} bytes")
        self._levels[0] += packed
        level = 0
        while True:
            below = self._levels[level]
            complete = len(below) // (2 * HASH_SIZE)
            if complete == 0:
                return
            if level + 1 == len(self._levels):
                self._levels.append(bytearray())
            above = self._levels[level + 1]
            have = len(above) // HASH_SIZE
            if have == complete:
                return
            start, stop = have * 2 * HASH_SIZE, complete * 2 * HASH_SIZE
            pair = 2 * HASH_SIZE
            above += b"".join(
                [_sha256(b"\x01" + below[j : j + pair]).digest() for j in range(start, stop, pair)]
            )
            level += 1

    def leaf_hash(self, index: int) -> bytes:
        return self.node(0, index)

    def node(self, level: int, index: int) -> bytes:
        """The stored hash of the complete subtree of 2**level leaves starting at
        index * 2**level."""
        if level < 0 or level >= len(self._levels) or not 0 <= index < self.width(level):
            raise ValueError(f"no complete subtree at level {level}, index {index}")
        row = self._levels[level]
        return bytes(row[index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def width(self, level: int) -> int:
        """How many complete subtrees of 2**level leaves the tree holds."""
        return self.size >> level if level >= 0 else 0

    def hashes(self, level: int, start: int, stop: int) -> bytes:
        """Stored hashes ``start`` to ``stop - 1`` at ``level``, concatenated (for tiles)."""
        if level < 0 or not 0 <= start <= stop <= self.width(level):
            raise ValueError(f"no complete subtrees {start}..{stop} at level {level}")
        if start == stop:
            return b""
        return bytes(self._levels[level][start * HASH_SIZE : stop * HASH_SIZE])

    def packed_leaves(self) -> bytes:
        return bytes(self._levels[0])

    def _subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for lo aligned to a power of two >= hi - lo, as in every subtree the
        RFC 9162 recursion visits: the complete subtrees of hi - lo's binary expansion,
        largest first, folded from the right."""
        parts: list[bytes] = []
        offset, remaining = lo, hi - lo
        while remaining:
            level = remaining.bit_length() - 1
            parts.append(self.node(level, offset >> level))
            offset += 1 << level
            remaining -= 1 << level
        h = parts.pop()
        while parts:
            h = node_hash(parts.pop(), h)
        return h

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside a tree of {self.size} leaves")

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 MTH of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        self._check_size(size)
        return self._subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size]) from stored subtrees."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"no inclusion proof for index {index} in a tree of size {size}")
        proof: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            mid = lo + _split(hi - lo)
            if index < mid:
                proof.append(self._subtree(mid, hi))
                hi = mid
            else:
                proof.append(self._subtree(lo, mid))
                lo = mid
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]) from stored subtrees; empty from
        size 0, as :func:`consistency_proof`."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
        if old_size == 0:
            return []
        proof: list[bytes] = []
        lo, hi, m, complete = 0, new_size, old_size, True
        while m != hi - lo:
            mid = lo + _split(hi - lo)
            if m <= mid - lo:
                proof.append(self._subtree(mid, hi))
                hi = mid
            else:
                proof.append(self._subtree(lo, mid))
                m -= mid - lo
                lo = mid
                complete = False
        if not complete:
            proof.append(self._subtree(lo, hi))
        proof.reverse()
        return proof
