"""The screening index: everything in force, in memory, found by place, time and altitude.

Items (sites, areas, movements, operation volumes) live in column arrays, one slot each, so the
filters after a box query are a handful of numpy operations however many candidates come back.
The boxes live in shapely STRtrees arranged as a logarithmic method (Bentley and Saxe, 1980):

- :meth:`ScreeningIndex.add` only appends a slot after the packed ones (``recent``): O(1);
- when ``recent`` holds ``batch`` items, the next query packs them into a new small tree;
- a tree is merged with the one before it while that one is less than ``fanout`` times larger,
  so there are O(log n) trees and each item is re-packed O(log n) times over its life;
- :meth:`ScreeningIndex.remove` marks a slot dead; merges drop dead slots, and when the dead
  outnumber the living everything is compacted into one tree.

Queries probe every tree and scan ``recent`` with numpy, so they are exact whatever the state.
Boxes are conservative (see :meth:`Footprint.box`); the exact answer is :mod:`separation`'s.

Long module: the columns, the trees over them and the queries share private state, and a split
would have each half reach into the other's.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, NotRequired, TypedDict

import numpy as np
import numpy.typing as npt
import shapely

from parley.geo import separation
from parley.geo.footprint import Footprint
from parley.geo.shapes import Area, Item, Movement, Site, Volume

ItemKind = Literal["volume", "site", "area", "movement"]
KINDS: tuple[ItemKind, ...] = ("volume", "site", "area", "movement")
_CODES = {kind: code for code, kind in enumerate(KINDS)}

Slots = npt.NDArray[np.int64]
_NONE: Slots = np.zeros(0, dtype=np.int64)
_NONE.setflags(write=False)


class Meta(TypedDict):
    """What the index keeps beside an item, handed back in every :class:`Hit`.

    The caller gives ``party`` (who notified it) and, for the volumes of an operation, ``record``
    (the operation's key; defaults to the item's own key) and ``part`` (the volume's index). The
    index fills in ``kind`` and, for areas, ``rule``, ``rule_party`` and ``group`` from the item.
    """

    party: str
    record: NotRequired[str]
    part: NotRequired[int]
    kind: NotRequired[ItemKind]
    rule: NotRequired[str]
    rule_party: NotRequired[str | None]
    group: NotRequired[str | None]


class Hit(NamedTuple):
    """An indexed item that meets the query in space, altitude and time.

    ``distance_m`` is the geodesic distance between the two cores (a circle's centre, a route's
    line, a polygon's area; 0 when they overlap), good to ``error_m`` (0 when measured exactly,
    otherwise at most millimetres). ``threshold_m`` is the sum of both buffers (radii, corridor
    half-widths, site buffers); they meet because ``distance_m <= threshold_m``.

    A named tuple because a volume over a dense city can meet thousands of sites: it is the
    cheapest immutable record Python builds.
    """

    key: str
    meta: Meta
    distance_m: float
    threshold_m: float
    error_m: float

    @property
    def clearance_m(self) -> float:
        """Negative: by how much the two overlap."""
        return self.distance_m - self.threshold_m


#: Hit's constructor without the per-call Python frame of Hit._make.
_new_hit = functools.partial(tuple.__new__, Hit)


def kind_of(item: Item) -> ItemKind:
    if isinstance(item, Volume):
        return "volume"
    if isinstance(item, Site):
        return "site"
    if isinstance(item, Area):
        return "area"
    if isinstance(item, Movement):
        return "movement"
    raise TypeError(f"not a screenable item: {type(item).__name__}")


#: Per-slot columns: shape after the slot axis, dtype, fill for empty slots.
_COLUMNS: dict[str, tuple[tuple[int, ...], type, object]] = {
    "key": ((), object, None),
    "item": ((), object, None),
    "meta": ((), object, None),
    "bounds": ((4,), np.float64, np.nan),  # the footprint's box, buffer included, in degrees
    "t0": ((), np.float64, np.nan),  # window, POSIX seconds, closed
    "t1": ((), np.float64, np.nan),
    "z0": ((), np.float64, np.nan),  # band, metres above the ellipsoid, closed
    "z1": ((), np.float64, np.nan),
    "alive": ((), np.bool_, False),
    "point": ((), np.bool_, False),  # a point core (site point, circle): measured in bulk
    "lonlat": ((2,), np.float64, np.nan),  # the footprint's centre
    "xyz": ((3,), np.float64, np.nan),  # the footprint's centre, ECEF
    "extent": ((), np.float64, np.nan),  # the core's reach from its centre, metres
    "buffer": ((), np.float64, np.nan),
    "kind": ((), np.int8, -1),
    "record": ((), np.int64, -1),
}


@dataclass(frozen=True)
class _Level:
    tree: shapely.STRtree
    slots: Slots


class ScreeningIndex:
    """Items keyed by opaque strings; see the module docstring for the structure."""

    def __init__(self, *, batch: int = 256, fanout: int = 4) -> None:
        self.batch = batch
        self.fanout = fanout
        self._levels: list[_Level] = []
        # Slots are handed out in order and packed all at once, so the unpacked ones are always
        # the run from here to ``_n``: a query scans them as a view, with no list to convert.
        self._packed = 0
        self._alive_kinds = [0] * len(KINDS)
        self._slot: dict[str, int] = {}
        self._records: dict[str, set[str]] = {}
        self._record_ids: dict[str, int] = {}
        self._n = 0
        self._dead = 0
        self._col: dict[str, np.ndarray] = {}
        self._grow(1024)

    # -- columns ------------------------------------------------------------------------------

    def _grow(self, capacity: int) -> None:
        for name, (shape, dtype, fill) in _COLUMNS.items():
            column: np.ndarray = np.full((capacity, *shape), fill, dtype=dtype)
            old = self._col.get(name)
            if old is not None:
                column[: len(old)] = old
            self._col[name] = column

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, key: object) -> bool:
        return key in self._slot

    def get(self, key: str) -> tuple[Item, Meta] | None:
        slot = self._slot.get(key)
        if slot is None:
            return None
        return self._col["item"][slot], self._col["meta"][slot]

    def keys(self) -> list[str]:
        return list(self._slot)

    # -- changes ------------------------------------------------------------------------------

    def add(self, key: str, item: Item, meta: Meta) -> None:
        """Put ``item`` in force under ``key`` (replacing whatever had that key). O(1)."""
        if key in self._slot:
            self.remove(key)
        if self._n == len(self._col["alive"]):
            self._grow(2 * len(self._col["alive"]))
        slot = self._n
        self._n += 1
        stored = self._describe(key, item, meta)
        record = stored.get("record", key)
        shape = item.footprint
        self._col["bounds"][slot] = shape.box()
        self._col["t0"][slot], self._col["t1"][slot] = item.window.bounds
        self._col["z0"][slot], self._col["z1"][slot] = item.altitude.lower_m, item.altitude.upper_m
        self._col["alive"][slot] = True
        self._col["point"][slot] = shape.kind == "point"
        self._col["lonlat"][slot] = shape.centre
        self._col["xyz"][slot] = shape.dense_xyz[0] if shape.kind == "point" else shape.frame.origin
        self._col["extent"][slot] = shape.extent_m
        self._col["buffer"][slot] = shape.buffer_m
        self._col["kind"][slot] = _CODES[stored["kind"]]
        self._col["record"][slot] = self._record_ids.setdefault(record, len(self._record_ids))
        self._col["key"][slot] = key
        self._col["item"][slot] = item
        self._col["meta"][slot] = stored
        self._slot[key] = slot
        self._records.setdefault(record, set()).add(key)
        self._alive_kinds[_CODES[stored["kind"]]] += 1

    def add_many(self, entries: Iterable[tuple[str, Item, Meta]]) -> None:
        """Add in bulk and pack them into a tree at once (start-up, benchmarks)."""
        for key, item, meta in entries:
            self.add(key, item, meta)
        self.flush()

    def remove(self, key: str) -> bool:
        """Take ``key`` out of force. Returns whether it was there."""
        slot = self._slot.pop(key, None)
        if slot is None:
            return False
        meta: Meta = self._col["meta"][slot]
        record = meta.get("record", key)
        keys = self._records.get(record)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._records[record]
        self._col["alive"][slot] = False
        self._alive_kinds[_CODES[meta["kind"]]] -= 1
        for name in ("key", "item", "meta"):
            self._col[name][slot] = None
        self._dead += 1
        return True

    def remove_record(self, record: str) -> int:
        """Remove every item of one record (all volumes of an operation). Returns how many."""
        keys = list(self._records.get(record, ()))
        for key in keys:
            self.remove(key)
        return len(keys)

    def flush(self) -> None:
        """Pack everything recent into the trees now rather than at the next query."""
        self._pack(force=True)

    def _describe(self, key: str, item: Item, meta: Meta) -> Meta:
        stored: Meta = {**meta}
        stored["kind"] = kind_of(item)
        stored.setdefault("record", key)
        if isinstance(item, Area):
            stored["rule"] = item.rule
            stored["rule_party"] = item.party
            stored["group"] = item.group
        return stored

    def _pack(self, *, force: bool = False) -> None:
        if self._dead > max(self.batch, len(self._slot)):
            self._compact()
            return
        waiting = self._n - self._packed
        if not waiting or (waiting < self.batch and not force):
            return
        fresh = np.arange(self._packed, self._n, dtype=np.int64)
        self._packed = self._n
        self._levels.append(self._level(fresh))
        while len(self._levels) >= 2 and (
            len(self._levels[-2].slots) < self.fanout * len(self._levels[-1].slots) or force
        ):
            newer = self._levels.pop()
            older = self._levels.pop()
            self._levels.append(self._level(np.concatenate((older.slots, newer.slots))))

    def _level(self, slots: Slots) -> _Level:
        slots = slots[self._col["alive"][slots]]
        b = self._col["bounds"][slots]
        return _Level(shapely.STRtree(shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])), slots)

    def _compact(self) -> None:
        """Renumber the living slots from zero and rebuild one tree."""
        live = np.flatnonzero(self._col["alive"][: self._n])
        for name, (_, _, fill) in _COLUMNS.items():
            column = self._col[name]
            column[: len(live)] = column[live]
            column[len(live) : self._n] = fill
        self._n = len(live)
        self._dead = 0
        self._slot = {k: i for i, k in enumerate(self._col["key"][: self._n].tolist())}
        # Records come and go: number the living ones afresh so the table does not grow forever.
        self._record_ids = {}
        for i, meta in enumerate(self._col["meta"][: self._n].tolist()):
            self._col["record"][i] = self._record_ids.setdefault(
                meta["record"], len(self._record_ids)
            )
        self._packed = self._n
        self._levels = [self._level(np.arange(self._n, dtype=np.int64))] if self._n else []

    # -- queries ------------------------------------------------------------------------------

    def _slots(self, item: Item, meta: Meta | None, kinds: Sequence[ItemKind] | None) -> Slots:
        # Whole kinds are often absent (no operation in force yet): answer those at once.
        alive = len(self._slot)
        wanted = alive if kinds is None else sum(self._alive_kinds[_CODES[k]] for k in kinds)
        if not wanted:
            return _NONE
        self._pack()
        x0, y0, x1, y1 = item.footprint.box()
        found: list[Slots] = []
        if self._levels:
            # A one-box array, not a scalar geometry: STRtree.query answers (input, tree) index
            # pairs at a fifth of the cost of its scalar path (np.expand_dims).
            probe = shapely.box((x0,), (y0,), (x1,), (y1,))
            for level in self._levels:
                found.append(level.slots[level.tree.query(probe)[1]])
        if self._packed < self._n:
            b = self._col["bounds"][self._packed : self._n]
            near = (b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0)
            found.append(np.flatnonzero(near) + self._packed)
        if not found:
            return _NONE
        s = np.concatenate(found) if len(found) > 1 else found[0]
        t0, t1 = item.window.bounds
        keep = (
            self._col["alive"][s]
            & (self._col["t0"][s] <= t1)
            & (self._col["t1"][s] >= t0)
            & (self._col["z0"][s] <= item.altitude.upper_m)
            & (self._col["z1"][s] >= item.altitude.lower_m)
        )
        if kinds is not None and wanted < alive:
            # Equality per kind, not np.isin: isin's set-up cost two thirds of a probe.
            codes = self._col["kind"][s]
            of_kind = np.zeros(len(s), dtype=np.bool_)
            for kind in kinds:
                of_kind |= codes == _CODES[kind]
            keep &= of_kind
        if meta is not None and "record" in meta and meta["record"] in self._record_ids:
            keep &= self._col["record"][s] != self._record_ids[meta["record"]]
        return s[keep]

    def candidates(
        self, item: Item, meta: Meta | None = None, *, kinds: Sequence[ItemKind] | None = None
    ) -> list[str]:
        """Keys whose box, window and band overlap the item's: a superset of :meth:`screen`."""
        keys: list[str] = self._col["key"][self._slots(item, meta, kinds)].tolist()
        return keys

    def screen(
        self, item: Item, meta: Meta | None = None, *, kinds: Sequence[ItemKind] | None = None
    ) -> list[Hit]:
        """Every indexed item that meets ``item`` in space, altitude and time.

        Items of the same record as ``meta["record"]`` are skipped (an operation is not screened
        against itself). ``kinds`` restricts the answer to some kinds of item.
        """
        return self._measure(item, self._slots(item, meta, kinds), cores_only=False)

    def near(
        self, item: Item, meta: Meta | None = None, *, kinds: Sequence[ItemKind] | None = None
    ) -> list[Hit]:
        """:meth:`screen` with every indexed item's buffer taken as zero: whose cores come
        within ``item``'s buffer of its core (the duplicate-site probe: "a hospital within
        100 m" is about where two sites are, not how far each one's protection reaches)."""
        return self._measure(item, self._slots(item, meta, kinds), cores_only=True)

    def _measure(self, item: Item, s: Slots, *, cores_only: bool) -> list[Hit]:
        if len(s) == 0:
            return []
        query = item.footprint
        col = self._col
        on_point = col["point"][s]
        points, shapes = s[on_point], s[~on_point]
        found: list[tuple[Slots, np.ndarray, np.ndarray]] = []
        if len(points):
            buffers = np.zeros(len(points)) if cores_only else col["buffer"][points]
            m = separation.measure_points(query, col["lonlat"][points], col["xyz"][points], buffers)
            found.append((points[m.meets], m.distance_m[m.meets], m.error_m[m.meets]))
        if len(shapes):
            shapes = self._near_enough(query, shapes, cores_only)
        if len(shapes):
            footprints: list[Footprint] = []
            for other in col["item"][shapes].tolist():
                footprints.append(other.footprint)
            zeros = np.zeros(len(shapes)) if cores_only else None
            m = separation.measure_shapes(query, footprints, zeros)
            found.append((shapes[m.meets], m.distance_m[m.meets], m.error_m[m.meets]))
        if not found:
            return []
        slots = np.concatenate([f[0] for f in found])
        distance = np.concatenate([f[1] for f in found])
        error = np.concatenate([f[2] for f in found])
        threshold = query.buffer_m + (0.0 if cores_only else col["buffer"][slots])
        # Closest first (stable, so the same index answers in the same order).
        order = np.argsort(distance - threshold, kind="stable")
        picked = slots[order]
        # tuple.__new__ fed by zip: no Python frame per hit.
        return list(
            map(
                _new_hit,
                zip(
                    col["key"][picked].tolist(),
                    col["meta"][picked].tolist(),
                    distance[order].tolist(),
                    np.broadcast_to(threshold, distance.shape)[order].tolist(),
                    error[order].tolist(),
                    strict=True,
                ),
            )
        )

    def _near_enough(self, query: Footprint, shapes: Slots, cores_only: bool) -> Slots:
        """Drop shape candidates whose centres are too far apart for the cores to meet.

        Planar distances never exceed geodesic ones, and each core lies within its extent of
        its centre, so centre distance - both extents is a lower bound on the cores' distance.
        """
        col = self._col
        xy = query.frame.project(col["xyz"][shapes])
        gap = np.hypot(xy[:, 0], xy[:, 1]) - query.extent_m - col["extent"][shapes]
        reach = query.buffer_m + (0.0 if cores_only else col["buffer"][shapes])
        keep: Slots = shapes[gap <= reach + separation.EPS]
        return keep
