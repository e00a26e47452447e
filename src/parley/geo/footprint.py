"""Footprints: where on the ellipsoid a thing is, as a point, line or polygons, plus a buffer.

A footprint is its *core* geometry (a site's or circle's centre, a route, polygons with holes)
grown by ``buffer_m`` metres: a circle is a point with its radius as buffer, a corridor a line
with its half-width, a site polygon with its optional buffer. Two footprints meet when the
geodesic distance between their cores is at most the sum of their buffers.

A footprint is built once and carries what screening needs again and again: its vertices on
the ellipsoid (ECEF), its edges densified to :data:`geodesy.STEP_M`, a conservative box in
degrees, and a frame centred on it with its own picture in that frame.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import shapely

from parley.geo import geodesy
from parley.geo.geodesy import Array, Frame, Indices

Kind = Literal["point", "line", "polygon"]
Box = tuple[float, float, float, float]


def _frozen(values: np.ndarray) -> np.ndarray:
    values.setflags(write=False)
    return values


_ONE_RING = _frozen(np.array([0, 1], dtype=np.int64))
_NO_INDICES = _frozen(np.zeros(0, dtype=np.int64))
_FIRST = _frozen(np.zeros(1, dtype=np.int64))
_NO_EDGES = _frozen(np.zeros((0, 4), dtype=np.float64))


@dataclass(frozen=True, eq=False, repr=False)
class Footprint:
    kind: Kind
    #: Point: ((coords,),); line: ((coords,),); polygons: one tuple (exterior, *holes) each.
    #: Coordinates are (n, 2) lon/lat arrays; rings closed, exteriors counter-clockwise and holes
    #: clockwise seen from above.
    parts: tuple[tuple[Array, ...], ...]
    buffer_m: float
    centre: tuple[float, float]
    #: Largest geodesic distance from ``centre`` to a vertex (edges stay inside that ball).
    extent_m: float
    #: Longest densified piece of an edge, in metres.
    step_m: float
    #: Densified vertices (k, 3) on the ellipsoid, ECEF metres, rings and lines one after another.
    dense_xyz: Array
    #: Where each densified ring or line starts in ``dense_xyz`` (and one past the end).
    ring_offsets: Indices
    #: How many rings each polygon has, cumulative (polygons only).
    polygon_offsets: Indices
    #: Index in ``dense_xyz`` of the first end of each densified piece.
    piece_start: Indices
    #: Index in ``dense_xyz`` of each original vertex (rings: not the closing repeat).
    vertex_dense: Indices
    #: Original geodesic edges (m, 4): lon A, lat A, lon B, lat B.
    edges: Array
    #: For each edge, the next edge around its ring, or -1 at the end of a line.
    edge_next: Indices
    #: For each edge, a box in degrees holding the whole geodesic (from its densified points,
    #: widened by the bow of one piece).
    edge_boxes: Array
    #: Box in degrees (min lon, min lat, max lon, max lat) holding the core and its edges.
    bounds: Box

    def __repr__(self) -> str:
        lon, lat = self.centre
        return (
            f"Footprint({self.kind}, {len(self.edges)} edges around ({lon:.5f}, {lat:.5f}), "
            f"reach {self.extent_m:.0f} m, buffer {self.buffer_m:g} m)"
        )

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def point(cls, lon: float, lat: float, buffer_m: float) -> Footprint:
        # Sites come by the million: scalar maths and shared empty arrays keep this cheap.
        lon, lat = float(lon), float(lat)
        return cls(
            kind="point",
            parts=((np.array([[lon, lat]]),),),
            buffer_m=float(buffer_m),
            centre=(lon, lat),
            extent_m=0.0,
            step_m=0.0,
            dense_xyz=np.array([geodesy.ecef_one(lon, lat)]),
            ring_offsets=_ONE_RING,
            polygon_offsets=_NO_INDICES,
            piece_start=_NO_INDICES,
            vertex_dense=_FIRST,
            edges=_NO_EDGES,
            edge_next=_NO_INDICES,
            edge_boxes=_NO_EDGES,
            bounds=(lon, lat, lon, lat),
        )

    @classmethod
    def line(cls, coords: Array, buffer_m: float) -> Footprint:
        return cls._build("line", ((geodesy.as_array(coords),),), buffer_m)

    @classmethod
    def polygons(cls, polygons: Sequence[Sequence[Array]], buffer_m: float) -> Footprint:
        """Polygons as (exterior, *holes) closed rings of lon/lat, in either winding."""
        parts = tuple(tuple(geodesy.as_array(r) for r in rings) for rings in polygons)
        centre = _centre(np.concatenate([r for rings in parts for r in rings]))
        frame = Frame.at(*centre)
        oriented = tuple(
            tuple(_wind(r, frame, counter_clockwise=(i == 0)) for i, r in enumerate(rings))
            for rings in parts
        )
        return cls._build("polygon", oriented, buffer_m)

    @classmethod
    def _build(cls, kind: Kind, parts: tuple[tuple[Array, ...], ...], buffer_m: float) -> Footprint:
        rings = [r for rings_ in parts for r in rings_]
        everything = np.concatenate(rings)
        centre = _centre(everything)
        extent = float(
            np.max(
                geodesy.distance(
                    np.full(len(everything), centre[0]),
                    np.full(len(everything), centre[1]),
                    everything[:, 0],
                    everything[:, 1],
                )
            )
        )
        # Every edge of every ring is cut in one vectorised pass, then split back into rings.
        sizes = np.array([len(r) - 1 for r in rings], dtype=np.int64)
        starts_ = np.concatenate([r[:-1] for r in rings])
        ends_ = np.concatenate([r[1:] for r in rings])
        plon, plat, pieces, step = geodesy.split_edges(
            starts_[:, 0], starts_[:, 1], ends_[:, 0], ends_[:, 1]
        )
        ring_pieces = np.add.reduceat(pieces, np.cumsum(sizes) - sizes)
        piece_end = np.cumsum(ring_pieces)
        dense_lon, dense_lat, starts, corners = [], [], [], []
        offsets = [0]
        edge_first = np.cumsum(sizes) - sizes
        for r, ring in enumerate(rings):
            lo, hi = piece_end[r] - ring_pieces[r], piece_end[r]
            dense_lon.append(np.append(plon[lo:hi], ring[-1, 0]))
            dense_lat.append(np.append(plat[lo:hi], ring[-1, 1]))
            starts.append(offsets[-1] + np.arange(hi - lo, dtype=np.int64))
            per_edge = pieces[edge_first[r] : edge_first[r] + sizes[r]]
            at = offsets[-1] + np.concatenate(([0], np.cumsum(per_edge)))
            corners.append(at[:-1] if kind == "polygon" else at)
            offsets.append(offsets[-1] + hi - lo + 1)
        edge_start = np.cumsum(sizes) - sizes
        nexts = []
        for n, first in zip(sizes, edge_start, strict=True):
            following = first + np.arange(1, n + 1, dtype=np.int64)
            following[-1] = first if kind == "polygon" else -1
            nexts.append(following)
        edges = np.column_stack((starts_, ends_))
        first_piece = np.cumsum(pieces) - pieces
        edge_boxes = np.column_stack(
            (
                np.minimum(np.minimum.reduceat(plon, first_piece), ends_[:, 0]),
                np.minimum(np.minimum.reduceat(plat, first_piece), ends_[:, 1]),
                np.maximum(np.maximum.reduceat(plon, first_piece), ends_[:, 0]),
                np.maximum(np.maximum.reduceat(plat, first_piece), ends_[:, 1]),
            )
        )
        all_lon = np.concatenate(dense_lon)
        all_lat = np.concatenate(dense_lat)
        margin = geodesy.bulge_m(float(all_lat.min()), float(all_lat.max()), step)
        dlat = math.degrees(margin / geodesy.M_MIN)
        polygon_offsets: list[int] = []
        if kind == "polygon":
            polygon_offsets = np.cumsum([0, *(len(p) for p in parts)]).tolist()
        return cls(
            kind=kind,
            parts=parts,
            buffer_m=float(buffer_m),
            centre=centre,
            extent_m=extent,
            step_m=step,
            dense_xyz=geodesy.ecef(all_lon, all_lat),
            ring_offsets=np.asarray(offsets, dtype=np.int64),
            polygon_offsets=np.asarray(polygon_offsets, dtype=np.int64),
            piece_start=np.concatenate(starts),
            vertex_dense=np.concatenate(corners).astype(np.int64),
            edges=edges,
            edge_next=np.concatenate(nexts),
            edge_boxes=edge_boxes + np.array([0.0, -dlat, 0.0, dlat]),
            bounds=(
                float(all_lon.min()),
                float(all_lat.min()) - dlat,
                float(all_lon.max()),
                float(all_lat.max()) + dlat,
            ),
        )

    # -- what screening asks of it --------------------------------------------------------------

    @functools.cached_property
    def frame(self) -> Frame:
        return Frame.at(*self.centre)

    @functools.cached_property
    def vertices(self) -> Array:
        """Every distinct vertex (n, 2) lon/lat: the start of each edge, and a line's last point."""
        if self.kind == "point":
            return self.parts[0][0]
        if self.kind == "line":
            return self.parts[0][0]
        return self.edges[:, :2]

    @functools.cached_property
    def ring_starts(self) -> Array:
        """The first vertex (n, 2) of every ring, or of the line, or the point."""
        return np.array([ring[0] for rings in self.parts for ring in rings], dtype=np.float64)

    @functools.cached_property
    def own_xy(self) -> Array:
        """Densified vertices in the footprint's own frame."""
        return self.frame.project(self.dense_xyz)

    @functools.cached_property
    def planar(self) -> shapely.Geometry:
        """This footprint's core in its own frame, prepared for repeated predicates."""
        geometry = self.picture(self.own_xy)
        shapely.prepare(geometry)
        return geometry

    @functools.cached_property
    def own_pieces(self) -> tuple[Array, Array]:
        """The densified pieces' ends in the own frame: two (k, 2) arrays."""
        return self.own_xy[self.piece_start], self.own_xy[self.piece_start + 1]

    @functools.cached_property
    def sag_m(self) -> float:
        """Bound on how far :attr:`planar` strays from the true image of the core."""
        return float(geodesy.sagitta(self.extent_m + self.step_m, self.step_m))

    def in_frame(self, frame: Frame) -> shapely.Geometry:
        """The core's picture in ``frame``: densified vertices joined by straight segments."""
        return self.picture(frame.project(self.dense_xyz))

    def picture(self, xy: Array) -> shapely.Geometry:
        """The core drawn from its densified vertices ``xy`` in some frame."""
        if self.kind == "point":
            return shapely.Point(xy[0])
        if self.kind == "line":
            return shapely.LineString(xy)
        geometry = shapely.from_ragged_array(
            shapely.GeometryType.MULTIPOLYGON,
            xy,
            (
                self.ring_offsets,
                self.polygon_offsets,
                np.array([0, len(self.polygon_offsets) - 1], dtype=np.int64),
            ),
        )[0]
        return geometry

    def pieces(self, xy: Array) -> tuple[Array, Array]:
        """The densified pieces' ends, from the densified vertices ``xy`` in some frame."""
        return xy[self.piece_start], xy[self.piece_start + 1]

    def with_buffer(self, buffer_m: float) -> Footprint:
        """The same core with another buffer, sharing what was worked out from the core (the
        duplicate-site probe asks about a site that is screened next: one frame for both)."""
        self.frame  # noqa: B018 -- worked out here once, for both
        other = replace(self, buffer_m=float(buffer_m))
        for name in _FROM_CORE:
            if name in self.__dict__:
                other.__dict__[name] = self.__dict__[name]
        return other

    def box(self, extra_m: float = 0.0) -> Box:
        """A box in degrees holding every point within ``buffer_m + extra_m`` of the core."""
        lo_lon, lo_lat, hi_lon, hi_lat = self.bounds
        dlat, dlon = geodesy.degrees_around(lo_lat, hi_lat, self.buffer_m + extra_m)
        return (lo_lon - dlon, lo_lat - dlat, hi_lon + dlon, hi_lat + dlat)

    def area_m2(self) -> float:
        """Geodesic area of the core (polygons) or of the disc (points), without other buffers."""
        if self.kind == "point":
            return math.pi * self.buffer_m**2
        if self.kind == "line":
            return 0.0
        total = 0.0
        for rings in self.parts:
            total += geodesy.ring_area(rings[0][:, 0], rings[0][:, 1])
            for hole in rings[1:]:
                total -= geodesy.ring_area(hole[:, 0], hole[:, 1])
        return total


#: The cached properties that depend on the core alone, not on ``buffer_m``.
_FROM_CORE = ("frame", "vertices", "ring_starts", "own_xy", "planar", "own_pieces", "sag_m")


def _centre(coords: Array) -> tuple[float, float]:
    """The middle of the box in degrees: inside the ball that matters, cheap, deterministic."""
    lon = 0.5 * (float(coords[:, 0].min()) + float(coords[:, 0].max()))
    lat = 0.5 * (float(coords[:, 1].min()) + float(coords[:, 1].max()))
    return (lon, lat)


def _wind(ring: Array, frame: Frame, *, counter_clockwise: bool) -> Array:
    """The ring, reversed if needed. Vertices alone give the winding of a valid ring: the
    geodesic edges differ from the frame's chords by millimetres."""
    xy = frame.project_lonlat(ring[:, 0], ring[:, 1])
    twice_area = float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]))
    if (twice_area > 0) == counter_clockwise:
        return ring
    return ring[::-1].copy()


def pictures(
    shapes: Sequence[Footprint], frame: Frame
) -> tuple[list[shapely.Geometry], list[Array]]:
    """Many footprints drawn in one frame: polygons in one shapely call, lines in another.

    Returns the pictures and each one's densified vertices in the frame.
    """
    xys = [frame.project(s.dense_xyz) for s in shapes]
    out: list[shapely.Geometry] = [None] * len(shapes)
    polygons = [i for i, s in enumerate(shapes) if s.kind == "polygon"]
    if polygons:
        coords, rings, parts, multis = [], [0], [0], [0]
        for i in polygons:
            s = shapes[i]
            coords.append(xys[i])
            rings.extend((rings[-1] - s.ring_offsets[0] + s.ring_offsets[1:]).tolist())
            parts.extend((parts[-1] + s.polygon_offsets[1:]).tolist())
            multis.append(multis[-1] + len(s.polygon_offsets) - 1)
        drawn = shapely.from_ragged_array(
            shapely.GeometryType.MULTIPOLYGON,
            np.concatenate(coords),
            (np.asarray(rings), np.asarray(parts), np.asarray(multis)),
        )
        for i, geometry in zip(polygons, drawn, strict=True):
            out[i] = geometry
    for i, s in enumerate(shapes):
        if s.kind != "polygon":
            out[i] = s.picture(xys[i])
    return out, xys
