from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.errors import ProofError
from parley.log.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.log.conftest import load

VECTORS = load("merkle-vectors.json")
PROBES_INCLUSION = VECTORS["td_probes"]["inclusion"]
PROBES_CONSISTENCY = VECTORS["td_probes"]["consistency"]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def leaves() -> list[bytes]:
    return [leaf_hash(h(x)) for x in VECTORS["leaves_hex"]]


def test_hasher_known_answers() -> None:
    hasher = VECTORS["hasher"]
    assert EMPTY_ROOT.hex() == hasher["empty_tree_root"]
    assert root_from_leaf_hashes([]).hex() == hasher["empty_tree_root"]
    assert leaf_hash(b"").hex() == hasher["leaf_hash_of_empty"]
    assert leaf_hash(hasher["leaf"]["input_ascii"].encode()).hex() == hasher["leaf"]["hash"]
    node = hasher["node"]
    assert (
        node_hash(node["left_ascii"].encode(), node["right_ascii"].encode()).hex() == node["hash"]
    )


@pytest.mark.parametrize("size", range(9))
def test_roots_for_every_size(size: int) -> None:
    want = VECTORS["roots_hex"][str(size)]
    assert root_from_leaf_hashes(leaves()[:size]).hex() == want
    assert MerkleTree(leaves()[:size]).root().hex() == want
    assert MerkleTree(leaves()).root(size).hex() == want


def test_node_hashes_by_level() -> None:
    tree = MerkleTree(leaves())
    for level in range(4):
        want = VECTORS["node_hashes_by_level"][str(level)]
        assert [tree.node(level, i).hex() for i in range(len(want))] == want
        assert tree.width(level) == len(want)


@pytest.mark.parametrize("case", VECTORS["inclusion_proofs"], ids=lambda c: c["source"])
def test_inclusion_proof_vectors(case: dict[str, Any]) -> None:
    index, size, want = case["leaf_index"], case["tree_size"], case["proof_hex"]
    assert [p.hex() for p in inclusion_proof(leaves(), index, size)] == want
    assert [p.hex() for p in MerkleTree(leaves()).inclusion_proof(index, size)] == want
    root = h(VECTORS["roots_hex"][str(size)])
    verify_inclusion(leaves()[index], index, size, [h(p) for p in want], root)


@pytest.mark.parametrize("case", VECTORS["consistency_proofs"], ids=lambda c: c["source"])
def test_consistency_proof_vectors(case: dict[str, Any]) -> None:
    old, new, want = case["size1"], case["size2"], case["proof_hex"]
    assert [p.hex() for p in consistency_proof(leaves(), old, new)] == want
    assert [p.hex() for p in MerkleTree(leaves()).consistency_proof(old, new)] == want
    roots = VECTORS["roots_hex"]
    verify_consistency(old, new, h(roots[str(old)]), h(roots[str(new)]), [h(p) for p in want])


def _probe_id(case: dict[str, Any]) -> str:
    return str(case["file"])


@pytest.mark.parametrize("case", PROBES_INCLUSION, ids=_probe_id)
def test_inclusion_probes(case: dict[str, Any]) -> None:
    args = (
        h(case["leaf_hash_hex"]),
        case["leaf_index"],
        case["tree_size"],
        [h(p) for p in case["proof_hex"]],
        h(case["root_hex"]),
    )
    if case["want_error"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("case", PROBES_CONSISTENCY, ids=_probe_id)
def test_consistency_probes(case: dict[str, Any]) -> None:
    args = (
        case["size1"],
        case["size2"],
        h(case["root1_hex"]),
        h(case["root2_hex"]),
        [h(p) for p in case["proof_hex"]],
    )
    if case["want_error"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_probe_count_is_the_documented_196() -> None:
    assert len(PROBES_INCLUSION) + len(PROBES_CONSISTENCY) == 196
    assert sum(not c["want_error"] for c in PROBES_INCLUSION + PROBES_CONSISTENCY) == 12


def test_errors_say_what_is_wrong() -> None:
    tree = MerkleTree(leaves())
    proof = tree.inclusion_proof(5, 8)
    with pytest.raises(ProofError, match="outside a tree of size 8"):
        verify_inclusion(tree.leaf_hash(5), 8, 8, proof, tree.root())
    with pytest.raises(ProofError, match="shorter"):
        verify_inclusion(tree.leaf_hash(5), 5, 8, proof[:-1], tree.root())
    with pytest.raises(ProofError, match="longer"):
        verify_inclusion(tree.leaf_hash(5), 5, 8, [*proof, proof[0]], tree.root())
    with pytest.raises(ProofError, match="not 32"):
        verify_inclusion(tree.leaf_hash(5), 5, 8, [proof[0][:31], *proof[1:]], tree.root())
    with pytest.raises(ProofError, match="shrank from 8 to 6"):
        verify_consistency(8, 6, tree.root(8), tree.root(6), [])
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 6, EMPTY_ROOT, tree.root(6), [])


def test_proof_requests_outside_the_tree_are_caller_errors() -> None:
    tree = MerkleTree(leaves())
    with pytest.raises(ValueError):
        tree.inclusion_proof(8, 8)
    with pytest.raises(ValueError):
        tree.inclusion_proof(0, 9)
    with pytest.raises(ValueError):
        tree.consistency_proof(5, 4)
    with pytest.raises(ValueError):
        tree.root(9)
    with pytest.raises(ValueError):
        inclusion_proof(leaves(), 3, 9)
    with pytest.raises(ValueError):
        MerkleTree().append(b"short")


def test_equal_sizes_and_the_empty_tree_have_an_empty_consistency_proof() -> None:
    tree = MerkleTree(leaves())
    assert tree.consistency_proof(5, 5) == []
    assert tree.consistency_proof(0, 8) == consistency_proof(leaves(), 0, 8) == []
    verify_consistency(5, 5, tree.root(5), tree.root(5), [])


def test_append_extend_and_bulk_build_agree() -> None:
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(1000)]
    one_by_one = MerkleTree()
    for i, leaf in enumerate(hashes):
        assert one_by_one.append(leaf) == i
    in_chunks = MerkleTree()
    for start in range(0, 1000, 77):
        in_chunks.extend(hashes[start : start + 77])
    bulk = MerkleTree.from_packed(b"".join(hashes))
    for size in (1, 2, 3, 255, 256, 257, 511, 512, 999, 1000):
        want = root_from_leaf_hashes(hashes[:size])
        assert one_by_one.root(size) == in_chunks.root(size) == bulk.root(size) == want
    assert bulk.packed_leaves() == b"".join(hashes)
    assert bulk.hashes(8, 0, 3) == b"".join(one_by_one.node(8, i) for i in range(3))


def test_past_roots_come_from_stored_subtrees_not_leaves() -> None:
    # Damaging a stored level-0 hash must not change a past root computed from higher levels,
    # which shows root(size) reads complete subtrees rather than rehashing every leaf.
    tree = MerkleTree(leaf_hash(bytes([i])) for i in range(64))
    before = tree.root(48)
    tree._levels[0][0:32] = bytes(32)
    assert tree.root(48) == before


sizes = st.integers(min_value=1, max_value=2000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=sizes, data=st.data())
def test_every_proof_verifies_and_any_flipped_byte_fails(size: int, data: st.DataObject) -> None:
    hashes = [hashlib.sha256(b"%d" % i).digest() for i in range(size)]
    tree = MerkleTree(hashes)
    root = tree.root()
    assert root == root_from_leaf_hashes(hashes)

    index = data.draw(st.integers(0, size - 1), label="index")
    at = data.draw(st.integers(index + 1, size), label="at size")
    proof = tree.inclusion_proof(index, at)
    verify_inclusion(hashes[index], index, at, proof, tree.root(at))

    old = data.draw(st.integers(1, size), label="old size")
    cproof = tree.consistency_proof(old, size)
    verify_consistency(old, size, tree.root(old), root, cproof)

    byte = data.draw(st.integers(0, 31), label="byte")
    bit = 1 << data.draw(st.integers(0, 7), label="bit")

    def flip(value: bytes) -> bytes:
        return value[:byte] + bytes([value[byte] ^ bit]) + value[byte + 1 :]

    with pytest.raises(ProofError):
        verify_inclusion(flip(hashes[index]), index, at, proof, tree.root(at))
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], index, at, proof, flip(tree.root(at)))
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1), label="proof element")
        bad = [*proof[:k], flip(proof[k]), *proof[k + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(hashes[index], index, at, bad, tree.root(at))
    with pytest.raises(ProofError):
        verify_consistency(old, size, flip(tree.root(old)), root, cproof)
    with pytest.raises(ProofError):
        verify_consistency(old, size, tree.root(old), flip(root), cproof)
    if cproof:
        k = data.draw(st.integers(0, len(cproof) - 1), label="consistency element")
        bad = [*cproof[:k], flip(cproof[k]), *cproof[k + 1 :]]
        with pytest.raises(ProofError):
            verify_consistency(old, size, tree.root(old), root, bad)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 31, 64, 100])
def test_all_proofs_of_small_trees_match_the_rfc_definitions(size: int) -> None:
    hashes = [hashlib.sha256(b"%d" % i).digest() for i in range(size)]
    tree = MerkleTree(hashes)
    for at in range(1, size + 1):
        root = tree.root(at)
        for index in range(at):
            proof = tree.inclusion_proof(index, at)
            assert proof == inclusion_proof(hashes, index, at)
            verify_inclusion(hashes[index], index, at, proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(hashes[index], index, at, proof, tree.root(at - 1))
        for old in range(1, at + 1):
            proof = tree.consistency_proof(old, at)
            assert proof == consistency_proof(hashes, old, at)
            verify_consistency(old, at, tree.root(old), root, proof)
            if old < at:
                with pytest.raises(ProofError):
                    verify_consistency(old, at, tree.root(old - 1), root, proof)
