"""The map layers, indexed once per viewer and per state of the log, for /ogc/'s pages.

Building a layer reads and re-parses every record the viewer may see (a third of a millisecond
per site here: half a minute for 100,000); a client paging through it, or QGIS panning, asks
for it again with every request. So each (viewer, layer) is built once by
:func:`parley.layers.features.features` — the one audience check — and kept with:

* every feature's GeoJSON, serialized once, in log order (a page is a join of bytes);
* each feature's time interval as floats (open ends infinite), so ``datetime`` is two vector
  comparisons;
* each feature's bounds, so ``bbox`` is four; only features that are not points and whose
  bounds meet the box are then tested exactly with shapely.

The key is the viewer's party id: what a party may see is its own records, those shared with
all and those whose audience names it, so two parties never share an entry. An entry is
stamped with the log's size when its build began and is used as it is only while the log
still has that size: every record (a new site, a withdrawal, an operation's status, an area
vote) grows the log, and nothing else changes these layers. When the log has grown, the
entry is extended with the features of the new records, unless one of them is of a kind
that changes features already built (:data:`RESHAPING`): then the layer is built again.
``conflicts`` is never cached: its features depend on the time (a conflict turns moot when a
side's window ends) and on the viewer's acknowledgements, which are not log records. A few
entries are kept (at most :data:`CAPACITY`, and :data:`MAX_FEATURES` features in all, the
newest always), least recently used first out.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import orjson
import shapely
from shapely.geometry import box, shape

from parley.hub.core import Hub
from parley.layers.features import Feature, features
from parley.store.db import Party

UNCACHED = frozenset({"conflicts"})
# Records of these kinds change features already built: a withdrawal removes one, a status or an
# amendment rewrites one, an area map's version or vote changes which version is in force. After
# one, the layer is built again; after any other record, only the new records are read.
RESHAPING: dict[str, tuple[str, ...]] = {
    "sites": ("withdrawal",),
    "movements": ("withdrawal", "operation-status"),
    "operations": ("withdrawal", "operation-status", "operation"),
    "areas": ("withdrawal", "area-map", "area-vote"),
    "incidents": ("withdrawal",),
}
CAPACITY = 12
# About half a kilobyte of serialized GeoJSON per site: the kept layers stay near 200 MB.
MAX_FEATURES = 400_000
Box = tuple[float, float, float, float]
Window = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Indexed:
    """One viewer's layer at one log size."""

    size: int
    ids: list[str]
    index: dict[str, int]  # feature id -> position
    blobs: list[bytes]
    starts: npt.NDArray[np.float64]
    ends: npt.NDArray[np.float64]
    bounds: npt.NDArray[np.float64]  # (n, 4): minx, miny, maxx, maxy
    exact: dict[int, shapely.Geometry]  # the features that are not points, by position

    @classmethod
    def of(cls, found: Sequence[Feature], size: int) -> Indexed:
        n = len(found)
        starts = np.full(n, -math.inf)
        ends = np.full(n, math.inf)
        bounds = np.zeros((n, 4))
        exact: dict[int, shapely.Geometry] = {}
        for i, feature in enumerate(found):
            # A feature without a start applies at every time, whatever its end says: the same
            # rule as the uncached filter had.
            if feature.start is not None:
                starts[i] = feature.start.timestamp()
                if feature.end is not None:
                    ends[i] = feature.end.timestamp()
            if feature.geometry.get("type") == "Point":
                x, y = feature.geometry["coordinates"][:2]
                bounds[i] = (x, y, x, y)
            else:
                geometry = shape(feature.geometry)
                bounds[i] = geometry.bounds
                exact[i] = geometry
        ids = [f.id for f in found]
        return cls(
            size,
            ids,
            {key: i for i, key in enumerate(ids)},
            [orjson.dumps(f.geojson()) for f in found],
            starts,
            ends,
            bounds,
            exact,
        )

    def select(self, area: Box | None, window: Window | None) -> npt.NDArray[np.intp]:
        """Positions of the features in ``area`` and ``window``, in log order."""
        keep = np.ones(len(self.ids), dtype=bool)
        if window is not None:
            start, end = window
            if end is not None:
                keep &= self.starts <= end.timestamp()
            if start is not None:
                keep &= self.ends >= start.timestamp()
        if area is not None:
            minx, miny, maxx, maxy = area
            boxes = (
                [(minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)]  # across the antimeridian
                if minx > maxx
                else [area]
            )
            inside = np.zeros(len(self.ids), dtype=bool)
            for each in boxes:
                inside |= self._meets(keep, each)
            keep &= inside
        return np.flatnonzero(keep)

    def _meets(self, keep: npt.NDArray[np.bool_], area: Box) -> npt.NDArray[np.bool_]:
        minx, miny, maxx, maxy = area
        b = self.bounds
        near = keep & (b[:, 2] >= minx) & (b[:, 0] <= maxx) & (b[:, 3] >= miny) & (b[:, 1] <= maxy)
        if self.exact:
            region = box(minx, miny, maxx, maxy)
            for i in np.flatnonzero(near):
                geometry = self.exact.get(int(i))
                if geometry is not None and not geometry.intersects(region):
                    near[i] = False
        return near

    def position(self, feature_id: str) -> int | None:
        return self.index.get(feature_id)

    def extended(self, found: Sequence[Feature], size: int) -> Indexed:
        """This layer with ``found`` appended (those it already holds skipped: a build sees
        records committed after its stamp, and the next extension reads them again)."""
        more = Indexed.of([f for f in found if f.id not in self.index], size)
        at = len(self.ids)
        return Indexed(
            size,
            self.ids + more.ids,
            {**self.index, **{key: at + i for key, i in more.index.items()}},
            self.blobs + more.blobs,
            np.concatenate([self.starts, more.starts]),
            np.concatenate([self.ends, more.ends]),
            np.concatenate([self.bounds, more.bounds]),
            {**self.exact, **{at + i: g for i, g in more.exact.items()}},
        )


class LayerCache:
    def __init__(self, capacity: int = CAPACITY, max_features: int = MAX_FEATURES) -> None:
        self.capacity = capacity
        self.max_features = max_features
        self._entries: OrderedDict[tuple[str, str], Indexed] = OrderedDict()
        self._building: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, hub: Hub, viewer: Party, layer: str) -> Indexed:
        """``viewer``'s ``layer`` as of now (blocking: call it off the event loop)."""
        if layer in UNCACHED:
            return Indexed.of(features(hub, viewer, layer), -1)
        key = (viewer.id, layer)
        size = hub.store.log_size()
        with self._lock:
            entry = self._fresh(key, size)
            if entry is not None:
                return entry
            building = self._building.setdefault(key, threading.Lock())
        # One build per key at a time: concurrent readers of a stale layer wait for it rather
        # than each rebuilding it.
        with building:
            with self._lock:
                entry = self._fresh(key, size)
                if entry is not None:
                    return entry
            with self._lock:
                old = self._entries.get(key)
            # Stamped with the size read before the build: a record committed during the build
            # is read again by the next request, never taken as already seen.
            if old is not None and old.size < size and not _reshaped(hub, layer, old.size):
                entry = old.extended(features(hub, viewer, layer, after=old.size - 1), size)
            else:
                entry = Indexed.of(features(hub, viewer, layer), size)
            with self._lock:
                self._entries[key] = entry
                self._entries.move_to_end(key)
                held = sum(len(e.ids) for e in self._entries.values())
                while len(self._entries) > 1 and (
                    len(self._entries) > self.capacity or held > self.max_features
                ):
                    _, gone = self._entries.popitem(last=False)
                    held -= len(gone.ids)
            return entry

    def _fresh(self, key: tuple[str, str], size: int) -> Indexed | None:
        entry = self._entries.get(key)
        if entry is None or entry.size != size:
            return None
        self._entries.move_to_end(key)
        return entry


def _reshaped(hub: Hub, layer: str, size: int) -> bool:
    """Whether any record from log index ``size`` on may change features built before it
    (whoever may see it: this only decides between rebuilding and extending)."""
    found = hub.store.iter_submissions(RESHAPING[layer], after=size - 1)
    try:
        return next(found, None) is not None
    finally:
        if isinstance(found, Generator):
            found.close()  # its connection, now rather than when collected


_caches: weakref.WeakKeyDictionary[Hub, LayerCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_of(hub: Hub) -> LayerCache:
    """The hub's layer cache (kept beside the hub, not in it: it lives and dies with the hub)."""
    with _caches_lock:
        found = _caches.get(hub)
        if found is None:
            found = _caches[hub] = LayerCache()
        return found
