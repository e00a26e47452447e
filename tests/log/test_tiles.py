from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.errors import TileError
from parley.log import tiles
from parley.log.merkle import MerkleTree, leaf_hash, root_from_leaf_hashes


@pytest.mark.parametrize(
    ("index", "encoded"),
    [
        (0, "000"),
        (5, "005"),
        (999, "999"),
        (1000, "x001/000"),
        (1234067, "x001/x234/067"),
        (10**9, "x001/x000/x000/000"),
    ],
)
def test_index_encoding(index: int, encoded: str) -> None:
    assert tiles.encode_index(index) == encoded
    assert tiles.tile_path(0, index) == f"tile/0/{encoded}"
    assert tiles.parse_tile_path(f"tile/0/{encoded}") == (0, index, 256)
    assert tiles.entries_path(index) == f"tile/entries/{encoded}"
    assert tiles.parse_entries_path(f"tile/entries/{encoded}") == (index, 256)


def test_partial_and_level_paths() -> None:
    assert tiles.tile_path(1, 1234067, 12) == "tile/1/x001/x234/067.p/12"
    assert tiles.parse_tile_path("tile/1/x001/x234/067.p/12") == (1, 1234067, 12)
    assert tiles.entries_path(0, 5) == "tile/entries/000.p/5"
    assert tiles.parse_entries_path("tile/entries/000.p/5") == (0, 5)
    assert tiles.tile_path(63, 0, 1) == "tile/63/000.p/1"


def test_paths_relative_to_tile_and_entries_also_parse() -> None:
    # The HTTP route hands over what follows /tile/ (and /tile/entries/).
    assert tiles.parse_tile_path("0/x001/x234/067.p/12") == (0, 1234067, 12)
    assert tiles.parse_entries_path("x001/000.p/255") == (1000, 255)


@given(
    level=st.integers(0, 63),
    index=st.integers(0, 2**55 - 1),
    width=st.integers(1, 256),
)
def test_paths_round_trip(level: int, index: int, width: int) -> None:
    assert tiles.parse_tile_path(tiles.tile_path(level, index, width)) == (level, index, width)
    assert tiles.parse_entries_path(tiles.entries_path(index, width)) == (index, width)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("tile/0/5", "3-digit groups"),
        ("tile/0/0005", "3-digit groups"),
        ("tile/0/001/234", "all but the last starting with x"),
        ("tile/0/x001/x234", "3-digit groups"),
        ("tile/0/x1/234", "3-digit groups"),
        ("tile/0/X001/234", "3-digit groups"),
        ("tile/0/x000/005", "leading zero group"),
        ("tile/0/-01", "3-digit groups"),
        ("tile/0/١٢٣", "3-digit groups"),
        ("tile/0/", "no tile index"),
        ("tile/0", "no tile index"),
        ("tile/0/000.p/0", "width must be 1 to 255"),
        ("tile/0/000.p/256", "width must be 1 to 255"),
        ("tile/0/000.p/300", "width must be 1 to 255"),
        ("tile/0/000.p/05", "width must be 1 to 255"),
        ("tile/0/000.p/", "width must be 1 to 255"),
        ("tile/0/000.p", "3-digit groups"),
        ("tile/0/000.p/5/6", "3-digit groups"),
        ("tile/0/000/", "3-digit groups"),
        ("tile/00/000", "tile level"),
        ("tile/64/000", "tile level"),
        ("tile/-1/000", "tile level"),
        ("tile/a/000", "tile level"),
        ("tile/entries/000", "tile level"),
        ("tile/0/x001/x001/x001/x001/x001/x001/x001/000", "too large"),
        ("tile/0/x999/x999/x999/x999/x999/999", "too large"),
    ],
)
def test_malformed_tile_paths(path: str, why: str) -> None:
    with pytest.raises(TileError, match=re.escape(why)):
        tiles.parse_tile_path(path)


@pytest.mark.parametrize(
    "path",
    ["tile/entries/5", "tile/entries/000.p/0", "tile/entries/x000/001", "tile/entries/", "x001"],
)
def test_malformed_entries_paths(path: str) -> None:
    with pytest.raises(TileError):
        tiles.parse_entries_path(path)


def test_builders_refuse_impossible_tiles() -> None:
    for args in [(64, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257)]:
        with pytest.raises(ValueError):
            tiles.tile_path(*args)


def test_which_tiles_a_tree_of_70000_has() -> None:
    # The tlog-tiles spec's own example.
    listed = tiles.tiles_for_size(70000)
    level0 = [t for t in listed if t.level == 0]
    assert len(level0) == 274 and level0[-1] == tiles.Tile(0, 273, 112)
    assert all(t.width == 256 for t in level0[:-1])
    assert [t for t in listed if t.level == 1] == [tiles.Tile(1, 0, 256), tiles.Tile(1, 1, 17)]
    assert [t for t in listed if t.level == 2] == [tiles.Tile(2, 0, 1)]
    assert len(listed) == 277
    assert tiles.tiles_for_size(256) == [tiles.Tile(0, 0, 256), tiles.Tile(1, 0, 1)]
    assert tiles.tiles_for_size(0) == []
    assert tiles.Tile(0, 273, 112).path == "tile/0/273.p/112"


def test_which_bundles_hold_which_entries() -> None:
    assert tiles.bundles_for_size(0) == []
    assert tiles.bundles_for_size(256) == [tiles.Bundle(0, 256)]
    assert tiles.bundles_for_size(600) == [
        tiles.Bundle(0, 256),
        tiles.Bundle(1, 256),
        tiles.Bundle(2, 88),
    ]
    assert tiles.bundles_for_size(600, start=300) == [tiles.Bundle(1, 256), tiles.Bundle(2, 88)]
    assert tiles.bundles_for_size(600, start=600) == []
    assert tiles.Bundle(2, 88).path == "tile/entries/002.p/88"


def test_tile_exists() -> None:
    assert tiles.tile_exists(70000, 0, 273, 112)
    assert tiles.tile_exists(70000, 0, 273, 50)  # an older partial tile is still derivable
    assert not tiles.tile_exists(70000, 0, 273, 113)
    assert not tiles.tile_exists(70000, 0, 273, 256)
    assert tiles.tile_exists(70000, 2, 0, 1)
    assert not tiles.tile_exists(70000, 3, 0, 1)
    assert not tiles.tile_exists(70000, 0, -1, 1)


def test_hash_tiles_hold_the_rfc_subtree_roots() -> None:
    leaves = [leaf_hash(b"%d" % i) for i in range(70000)]
    tree = MerkleTree(leaves)
    level0 = tiles.hash_tile(tree, 0, 273, 112)
    assert level0 == b"".join(leaves[273 * 256 : 273 * 256 + 112])
    level1 = tiles.hash_tile(tree, 1, 1, 17)
    assert len(level1) == 17 * 32
    # Hash i of level-1 tile 1 is MTH of the 256 leaves starting at (256 + i) * 256.
    for i in (0, 16):
        start = (256 + i) * 256
        assert level1[i * 32 : (i + 1) * 32] == root_from_leaf_hashes(leaves[start : start + 256])
    level2 = tiles.hash_tile(tree, 2, 0, 1)
    assert level2 == root_from_leaf_hashes(leaves[:65536])
    with pytest.raises(ValueError):
        tiles.hash_tile(tree, 0, 273, 113)


def test_entry_bundles_round_trip() -> None:
    entries = [b"", b"a", b"\x00" * 300, bytes(range(256)) * 255 + b"x" * 255]
    bundle = tiles.entry_bundle(entries)
    assert bundle[:7] == b"\x00\x00\x00\x01a\x01\x2c"
    assert tiles.parse_entry_bundle(bundle) == entries
    assert tiles.parse_entry_bundle(bundle, count=4) == entries


def test_entry_bundle_limits() -> None:
    with pytest.raises(ValueError, match="at most 65535"):
        tiles.entry_bundle([b"x" * 65536])
    with pytest.raises(ValueError):
        tiles.entry_bundle([])
    with pytest.raises(ValueError):
        tiles.entry_bundle([b"x"] * 257)


@pytest.mark.parametrize(
    ("data", "count", "why"),
    [
        (b"\x00", None, "cut off in the length of entry 0"),
        (b"\x00\x01ab", None, "cut off in the length of entry 1"),
        (b"\x00\x03ab", None, "cut off in entry 0"),
        (b"\x00\x01a", 2, "holds 1 entries, expected 2"),
        (b"\x00\x01a\x00\x00", 1, "holds 2 entries, expected 1"),
        (b"\x00\x00" * 257, None, "more than 256"),
    ],
)
def test_malformed_entry_bundles(data: bytes, count: int | None, why: str) -> None:
    with pytest.raises(TileError, match=re.escape(why)):
        tiles.parse_entry_bundle(data, count)
