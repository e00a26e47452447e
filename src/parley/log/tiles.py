"""C2SP tlog-tiles: the log as static, cacheable resources.

    tile/<L>/<N>[.p/<W>]        hash tile: W (256 when full) consecutive hashes at tree level 8*L
    tile/entries/<N>[.p/<W>]    entry bundle: the W entries whose leaf hashes are level-0 tile N

``<L>`` is 0..63 in decimal without leading zeroes. ``<N>`` is written in zero-padded groups of
three digits, every group but the last prefixed by ``x`` (1234067 -> ``x001/x234/067``), so a
directory never holds both a file and a subdirectory of the same name. ``<W>`` is 1..255 and
appears only for partial tiles. Hash ``i`` of tile ``N`` at level ``L`` is the root of the
complete subtree of 256**L leaves starting at leaf ``(N * 256 + i) * 256**L``. An entry bundle
is each entry as a big-endian uint16 length followed by the entry's bytes.

Parsers raise ``TileError`` (the path or bundle came from outside); builders raise
``ValueError`` for arguments no tree has (the caller's bug).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from parley.errors import TileError
from parley.log.merkle import HASH_SIZE, MerkleTree

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
MAX_ENTRY_SIZE = 0xFFFF
"""An entry bundle frames each entry with a uint16 length, so the log cannot hold more."""

# No tree of at most 2**63 - 1 leaves has a tile index this large; refusing it early keeps
# a hostile path from turning into an enormous integer.
_MAX_INDEX = (2**63 - 1) >> TILE_HEIGHT
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")


@dataclass(frozen=True)
class Tile:
    level: int
    index: int
    width: int

    @property
    def path(self) -> str:
        return tile_path(self.level, self.index, self.width)


@dataclass(frozen=True)
class Bundle:
    index: int
    width: int

    @property
    def path(self) -> str:
        return entries_path(self.index, self.width)

    @property
    def start(self) -> int:
        """Index of the bundle's first entry."""
        return self.index * TILE_WIDTH


def encode_index(index: int) -> str:
    """``<N>``: groups of three digits, all but the last prefixed by ``x``."""
    if index < 0:
        raise ValueError(f"tile index {index} is negative")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} is not between 1 and {TILE_WIDTH}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``."""
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"tile level {level} is not between 0 and {MAX_LEVEL}")
    return f"tile/{level}/{encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``."""
    return f"tile/entries/{encode_index(index)}{_suffix(width)}"


def _parse_index_and_width(parts: list[str], path: str) -> tuple[int, int]:
    """Read ``<N>[.p/<W>]`` already split on slashes."""
    width = TILE_WIDTH
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        width_text = parts.pop()
        parts[-1] = parts[-1].removesuffix(".p")
        if not _DECIMAL.fullmatch(width_text) or not 1 <= int(width_text) < TILE_WIDTH:
            raise TileError(f"{path!r}: partial tile width must be 1 to {TILE_WIDTH - 1}")
        width = int(width_text)
    if not parts or parts == [""]:
        raise TileError(f"{path!r}: no tile index")
    *groups, last = parts
    if not _LAST.fullmatch(last) or not all(_GROUP.fullmatch(g) for g in groups):
        raise TileError(
            f"{path!r}: a tile index is 3-digit groups, all but the last starting with x"
        )
    if groups and groups[0] == "x000":
        raise TileError(f"{path!r}: tile index has a leading zero group")
    if len(groups) > 6:
        raise TileError(f"{path!r}: tile index is too large")
    index = int("".join(g[1:] for g in groups) + last)
    if index > _MAX_INDEX:
        raise TileError(f"{path!r}: tile index is too large")
    return index, width


def parse_tile_path(path: str) -> tuple[int, int, int]:
    """``tile/<L>/<N>[.p/<W>]`` (the ``tile/`` may be left off) -> (level, index, width)."""
    rest = path.removeprefix("tile/")
    level_text, _, tail = rest.partition("/")
    if not _DECIMAL.fullmatch(level_text) or int(level_text) > MAX_LEVEL:
        raise TileError(f"{path!r}: tile level must be 0 to {MAX_LEVEL} without leading zeroes")
    index, width = _parse_index_and_width(tail.split("/"), path)
    return int(level_text), index, width


def parse_entries_path(path: str) -> tuple[int, int]:
    """``tile/entries/<N>[.p/<W>]`` (the ``tile/entries/`` may be left off) -> (index, width)."""
    rest = path.removeprefix("tile/entries/")
    return _parse_index_and_width(rest.split("/"), path)


def level_width(size: int, level: int) -> int:
    """How many hashes tile level ``level`` holds in a tree of ``size`` leaves."""
    return size >> (TILE_HEIGHT * level)


def tile_exists(size: int, level: int, index: int, width: int) -> bool:
    """Whether a tree of ``size`` leaves has (or had, at a smaller size) this tile."""
    return (
        0 <= level <= MAX_LEVEL
        and 1 <= width <= TILE_WIDTH
        and index >= 0
        and index * TILE_WIDTH + width <= level_width(size, level)
    )


def hash_tile(tree: MerkleTree, level: int, index: int, width: int) -> bytes:
    """The tile's bytes: ``width`` 32-byte hashes from tree level ``8 * level``."""
    if not tile_exists(tree.size, level, index, width):
        raise ValueError(
            f"a tree of {tree.size} leaves has no level {level} tile {index} of width {width}"
        )
    start = index * TILE_WIDTH
    return tree.hashes(TILE_HEIGHT * level, start, start + width)


def tiles_for_size(size: int) -> list[Tile]:
    """Every hash tile a client can fetch for a tree of ``size`` leaves: at each level the
    full tiles, then the partial one if any (tlog-tiles "Partial Tiles")."""
    out: list[Tile] = []
    level = 0
    while (n := level_width(size, level)) > 0:
        full, rest = divmod(n, TILE_WIDTH)
        out.extend(Tile(level, i, TILE_WIDTH) for i in range(full))
        if rest:
            out.append(Tile(level, full, rest))
        level += 1
    return out


def bundles_for_size(size: int, start: int = 0) -> list[Bundle]:
    """The entry bundles holding entries ``start`` to ``size - 1`` of a tree of ``size``
    leaves; the last one is partial unless ``size`` is a multiple of 256."""
    if not 0 <= start <= size:
        raise ValueError(f"entry {start} is outside a tree of {size} entries")
    full, rest = divmod(size, TILE_WIDTH)
    out = [Bundle(i, TILE_WIDTH) for i in range(start // TILE_WIDTH, full)]
    if rest and start < size:
        out.append(Bundle(full, rest))
    return out


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """tlog-tiles entry bundle: each entry as a big-endian uint16 length, then its bytes."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise ValueError(f"an entry bundle holds 1 to {TILE_WIDTH} entries, not {len(entries)}")
    parts = []
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(f"entry {i} is {len(entry)} bytes; at most {MAX_ENTRY_SIZE} fit")
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(bytes(entry))
    return b"".join(parts)


def parse_entry_bundle(data: bytes, count: int | None = None) -> list[bytes]:
    """Split an entry bundle; with ``count``, insist on exactly that many entries."""
    entries: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if len(entries) == TILE_WIDTH:
            raise TileError(f"entry bundle holds more than {TILE_WIDTH} entries")
        if pos + 2 > end:
            raise TileError(f"entry bundle is cut off in the length of entry {len(entries)}")
        stop = pos + 2 + (data[pos] << 8 | data[pos + 1])
        if stop > end:
            raise TileError(f"entry bundle is cut off in entry {len(entries)}")
        entries.append(data[pos + 2 : stop])
        pos = stop
    if count is not None and len(entries) != count:
        raise TileError(f"entry bundle holds {len(entries)} entries, expected {count}")
    return entries


def split_hashes(tile: bytes) -> list[bytes]:
    """A hash tile's 32-byte hashes."""
    if len(tile) % HASH_SIZE:
        raise TileError(f"hash tile is {len(tile)} bytes, not a multiple of {HASH_SIZE}")
    return [tile[i : i + HASH_SIZE] for i in range(0, len(tile), HASH_SIZE)]


def upper_tiles(size: int, old: int) -> list[tuple[int, int, int]]:
    """(level, index, width) of the hash tiles above level 0 that changed from ``old`` to
    ``size``."""
    out = []
    level = 1
    while (n := level_width(size, level)) > 0:
        first = level_width(old, level) // TILE_WIDTH
        for index in range(first, -(-n // TILE_WIDTH)):
            out.append((level, index, min(TILE_WIDTH, n - index * TILE_WIDTH)))
        level += 1
    return out
