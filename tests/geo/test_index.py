"""The index: incremental changes, time and altitude filters, and the edges of "meeting"."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.geo import geodesy, separation
from parley.geo.footprint import Footprint
from parley.geo.index import Hit, Meta, ScreeningIndex
from parley.geo.shapes import Area, Band, Site, Volume, Window
from tests.geo import oracle

T0 = datetime(2026, 11, 26, 8, tzinfo=UTC)
HOUR = timedelta(hours=1)
NOW = Window(T0, T0 + HOUR)
LOW = Band(0.0, 1000.0)
one = np.ones(1)


def fwd(lon: float, lat: float, az: float, d: float) -> tuple[float, float]:
    x, y, _ = geodesy.forward(one * lon, one * lat, one * az, one * d)
    return float(x[0]), float(y[0])


def circle(lon: float, lat: float, r: float, window: Window = NOW, band: Band = LOW) -> Volume:
    return Volume(Footprint.point(lon, lat, r), band, window)


def site(lon: float, lat: float, r: float, window: Window | None = None) -> Site:
    return Site(
        "hospital", "H", Footprint.point(lon, lat, r), Band(-500, 3000), window or Window(T0, None)
    )


def party(name: str, **more: object) -> Meta:
    meta: Meta = {"party": name}
    meta.update(more)  # type: ignore[typeddict-item]
    return meta


def keys(hits: list[Hit]) -> set[str]:
    return {h.key for h in hits}


# -- bookkeeping --------------------------------------------------------------------------------


def test_add_get_replace_remove() -> None:
    ix = ScreeningIndex()
    ix.add("s1", site(37.0, 36.0, 100), party("ngo"))
    assert "s1" in ix and len(ix) == 1
    item, meta = ix.get("s1") or (None, None)
    assert isinstance(item, Site) and meta == {"party": "ngo", "kind": "site", "record": "s1"}
    ix.add("s1", site(38.0, 36.0, 100), party("ngo"))
    assert len(ix) == 1
    assert keys(ix.screen(circle(38.0, 36.0, 10))) == {"s1"}
    assert ix.screen(circle(37.0, 36.0, 10)) == []
    assert ix.remove("s1") and not ix.remove("s1")
    assert ix.screen(circle(38.0, 36.0, 10)) == [] and len(ix) == 0 and ix.get("s1") is None


def test_area_metadata_comes_from_the_item() -> None:
    ix = ScreeningIndex()
    ring = np.array([[37.0, 36.0], [37.1, 36.0], [37.1, 36.1], [37.0, 36.1], [37.0, 36.0]])
    area = Area(
        "no-fly",
        "party-b",
        None,
        Footprint.polygons([[ring]], 0.0),
        Band(-500, math.inf),
        Window(T0, None),
    )
    ix.add("a1", area, party("party-a"))
    (hit,) = ix.screen(circle(37.05, 36.05, 10))
    assert hit.meta == {
        "party": "party-a",
        "kind": "area",
        "record": "a1",
        "rule": "no-fly",
        "rule_party": "party-b",
        "group": None,
    }
    assert hit.distance_m == 0 and hit.threshold_m == 10 and hit.clearance_m == -10


def test_records_group_volumes_and_are_skipped_when_screening_themselves() -> None:
    ix = ScreeningIndex()
    for i in range(3):
        ix.add(f"op1#{i}", circle(37.0 + 0.001 * i, 36.0, 500), party("A", record="op1", part=i))
    assert len(ix.screen(circle(37.0, 36.0, 10))) == 3
    assert ix.screen(circle(37.0, 36.0, 10), party("A", record="op1")) == []
    assert ix.remove_record("op1") == 3 and len(ix) == 0


def test_kinds_filter() -> None:
    ix = ScreeningIndex()
    ix.add("s", site(37.0, 36.0, 100), party("ngo"))
    ix.add("v", circle(37.0, 36.0, 100), party("A"))
    assert keys(ix.screen(circle(37.0, 36.0, 1))) == {"s", "v"}
    assert keys(ix.screen(circle(37.0, 36.0, 1), kinds=("volume",))) == {"v"}
    assert ix.candidates(circle(37.0, 36.0, 1), kinds=("site",)) == ["s"]


def test_a_kind_emptied_and_filled_again_is_found_again() -> None:
    """A query for a kind the index holds none of answers nothing at once; removals, compaction
    and re-adding keep that count right."""
    ix = ScreeningIndex(batch=2)
    ix.add("s", site(37.0, 36.0, 100), party("ngo"))
    for i in range(6):
        ix.add(f"v{i}", circle(37.0, 36.0, 100), party("A"))
    here = circle(37.0, 36.0, 1)
    assert len(ix.screen(here, kinds=("volume",))) == 6
    for i in range(6):
        ix.remove(f"v{i}")
    assert ix.screen(here, kinds=("volume",)) == []
    assert keys(ix.screen(here)) == {"s"}  # compacts: the dead outnumber the living
    ix.add("v", circle(37.0, 36.0, 100), party("A"))
    assert keys(ix.screen(here, kinds=("volume",))) == {"v"}
    ix.add("s", site(37.0, 36.0, 100), party("ngo"))  # replacing keeps one site, not two
    ix.remove("s")
    assert ix.screen(here, kinds=("site",)) == []
    assert keys(ix.screen(here, kinds=("volume", "site"))) == {"v"}


def test_hit_distances_are_geodesic() -> None:
    ix = ScreeningIndex()
    lon, lat = fwd(37.0, 36.0, 45.0, 1234.5)
    ix.add("s", site(lon, lat, 300), party("ngo"))
    (hit,) = ix.screen(circle(37.0, 36.0, 1000))
    assert abs(hit.distance_m - 1234.5) <= hit.error_m + 1e-6 and hit.error_m < 1e-3
    assert hit.threshold_m == 1300 and abs(hit.clearance_m + 65.5) < 1e-3


def test_near_measures_cores_only_against_the_oracle() -> None:
    """``near`` answers "whose cores lie within the query's buffer", whatever the indexed items'
    own buffers: sites of every radius, points and polygons, against pyproj's distances."""
    rng = np.random.default_rng(7)
    ix = ScreeningIndex(batch=16)
    truth: dict[str, oracle.Shape] = {}
    for i in range(300):
        lon, lat = float(rng.uniform(37.0, 37.02)), float(rng.uniform(36.0, 36.02))
        r = float(rng.choice([1.0, 50.0, 300.0, 5000.0]))
        if i % 3:
            fp = Footprint.point(lon, lat, r)
            truth[f"s{i}"] = oracle.Shape("point", [[np.array([[lon, lat]])]], 0.0)
        else:
            ring = np.array([fwd(lon, lat, a, float(rng.uniform(20, 200))) for a in (0, 120, 240)])
            ring = np.vstack((ring, ring[:1]))
            fp = Footprint.polygons([[ring]], r)
            truth[f"s{i}"] = oracle.Shape("polygon", [[ring]], 0.0)
        ix.add(f"s{i}", Site("hospital", "H", fp, Band(-500, 3000), Window(T0, None)), party("n"))
    checked = 0
    for _ in range(60):
        lon, lat = float(rng.uniform(37.0, 37.02)), float(rng.uniform(36.0, 36.02))
        query = site(lon, lat, 100.0)
        core = oracle.Shape("point", [[np.array([[lon, lat]])]], 0.0)
        names = list(truth)
        d = oracle.distances([(core, truth[k]) for k in names])
        found = keys(ix.near(query, kinds=("site",)))
        clear = {k for k, dk in zip(names, d, strict=True) if abs(dk - 100.0) > 1e-3}
        assert found & clear == {k for k, dk in zip(names, d, strict=True) if dk < 100.0} & clear
        assert keys(ix.screen(query)) >= found
        checked += len(found)
    assert checked > 20  # the probes did find sites, so the comparison was not vacuous


def test_a_footprint_with_another_buffer_measures_as_one_built_with_it() -> None:
    """``with_buffer`` (the duplicate probe) shares what it worked out from the core with the
    footprint it came from, and measures exactly as a footprint built afresh with that buffer."""
    ring = np.array([fwd(37.0, 36.0, a, 150.0) for a in (0, 120, 240)])
    ring = np.vstack((ring, ring[:1]))
    core = Footprint.polygons([[ring]], 300.0)
    assert core.planar.is_valid and core.sag_m >= 0  # worked out before the copy
    probe = core.with_buffer(100.0)
    fresh = Footprint.polygons([[ring]], 100.0)
    assert probe.frame is core.frame and probe.planar is core.planar
    assert (probe.buffer_m, core.buffer_m) == (100.0, 300.0)
    assert probe.box() == fresh.box() != core.box()
    others = [Footprint.point(*fwd(37.0, 36.0, 45.0, d), 0.0) for d in (120.0, 160.0, 260.0)]
    got, want = (separation.measure_shapes(f, others) for f in (probe, fresh))
    assert got.meets.tolist() == want.meets.tolist() == [True, True, False]
    assert np.array_equal(got.distance_m, want.distance_m)


# -- time and altitude: closed intervals ---------------------------------------------------------


def test_windows_touching_at_an_instant_meet() -> None:
    ix = ScreeningIndex()
    ix.add("v", circle(37.0, 36.0, 100, window=NOW), party("A"))
    assert ix.screen(circle(37.0, 36.0, 100, window=Window(T0 + HOUR, T0 + 2 * HOUR)))
    assert ix.screen(circle(37.0, 36.0, 100, window=Window(T0 - HOUR, T0)))
    gap = timedelta(microseconds=1)
    assert not ix.screen(circle(37.0, 36.0, 100, window=Window(T0 + HOUR + gap, T0 + 2 * HOUR)))
    assert not ix.screen(circle(37.0, 36.0, 100, window=Window(T0 - HOUR, T0 - gap)))


def test_zero_length_windows() -> None:
    ix = ScreeningIndex()
    instant = Window(T0 + HOUR, T0 + HOUR)
    ix.add("v", circle(37.0, 36.0, 100, window=instant), party("A"))
    assert ix.screen(circle(37.0, 36.0, 100, window=NOW))
    assert ix.screen(circle(37.0, 36.0, 100, window=instant))
    assert not ix.screen(circle(37.0, 36.0, 100, window=Window(T0, T0)))
    ix.add("s", site(37.0, 36.0, 100, Window(T0, T0 + HOUR)), party("ngo"))
    assert "s" in keys(ix.screen(circle(37.0, 36.0, 1, window=instant)))


def test_open_ended_validity() -> None:
    ix = ScreeningIndex()
    ix.add("s", site(37.0, 36.0, 100), party("ngo"))
    later = Window(T0 + timedelta(days=3650), T0 + timedelta(days=3651))
    assert ix.screen(circle(37.0, 36.0, 100, window=later))
    assert not ix.screen(circle(37.0, 36.0, 100, window=Window(T0 - 2 * HOUR, T0 - HOUR)))


def test_bands_touching_meet() -> None:
    ix = ScreeningIndex()
    ix.add("v", circle(37.0, 36.0, 100, band=Band(1000, 2000)), party("A"))
    assert ix.screen(circle(37.0, 36.0, 100, band=Band(0, 1000)))
    assert ix.screen(circle(37.0, 36.0, 100, band=Band(2000, 3000)))
    assert ix.screen(circle(37.0, 36.0, 100, band=Band(1500, 1500)))
    assert not ix.screen(circle(37.0, 36.0, 100, band=Band(0, 999.999)))
    assert not ix.screen(circle(37.0, 36.0, 100, band=Band(2000.001, 3000)))
    # A site reaches from the floor to its ceiling.
    ix.add("s", site(37.0, 36.0, 100), party("ngo"))
    assert "s" not in keys(ix.screen(circle(37.0, 36.0, 100, band=Band(3000.5, 9000))))
    assert "s" in keys(ix.screen(circle(37.0, 36.0, 100, band=Band(3000, 9000))))


# -- the edges of meeting, against the oracle --------------------------------------------------

radii = st.one_of(st.floats(1.0, 10.0), st.floats(10.0, 2_000.0), st.floats(2_000.0, 50_000.0))
where = st.tuples(st.floats(35.0, 43.0), st.floats(31.8, 38.0))


@settings(max_examples=200, deadline=None)
@given(where, radii, radii, st.floats(0, 360), st.sampled_from([-1e-3, 0.0, 1e-3, 0.1]))
def test_touching_circles(
    centre: tuple[float, float], r1: float, r2: float, az: float, gap: float
) -> None:
    """Circles exactly r1 + r2 apart meet (closed); a millimetre further, they do not."""
    lon, lat = centre
    other = fwd(lon, lat, az, r1 + r2 + gap)
    ix = ScreeningIndex()
    ix.add("s", site(other[0], other[1], r2), party("ngo"))
    hits = ix.screen(circle(lon, lat, r1))
    assert bool(hits) == (gap <= 0)
    if hits:
        assert abs(hits[0].distance_m - (r1 + r2 + gap)) <= hits[0].error_m + 1e-6


@settings(max_examples=120, deadline=None)
@given(
    where,
    radii,
    st.floats(0, 360),
    st.floats(-3.0, 3.0),
    st.integers(4, 12),
    st.floats(500, 30_000),
)
def test_circle_against_polygon_edge(
    centre: tuple[float, float], r: float, az: float, offset: float, n: int, size: float
) -> None:
    """A circle whose edge lies within metres of a polygon's geodesic edge, both ways."""
    lon, lat = centre
    ring = np.array(
        [fwd(lon, lat, 360.0 * k / n, size) for k in range(n)] + [fwd(lon, lat, 0.0, size)]
    )
    polygon = Footprint.polygons([[ring]], 0.0)
    # The middle of edge 0, then out along the bisector by r + offset.
    mid_az = 180.0 / n
    apothem = oracle.point_edge(np.array([[lon, lat]]), np.array([[*ring[0], *ring[1]]]))[0]
    c = fwd(lon, lat, mid_az, apothem + r + offset)
    query = Footprint.point(c[0], c[1], r)
    ix = ScreeningIndex()
    ix.add("p", Volume(polygon, LOW, NOW), party("A"))
    hits = ix.screen(Volume(query, LOW, NOW))
    want, d = oracle.meets(
        oracle.Shape("point", [[np.array([c])]], r), oracle.Shape("polygon", [[ring]], 0.0)
    )
    assert bool(hits) == want or abs(d - r) < 1e-3


@settings(max_examples=80, deadline=None)
@given(where, st.floats(1.0, 3_000.0), st.floats(0, 360), st.floats(0.0, 1.2))
def test_polygon_with_a_hole(
    centre: tuple[float, float], r: float, az: float, depth: float
) -> None:
    """A circle inside a hole meets the polygon only when it reaches the hole's edge."""
    lon, lat = centre
    n = 10
    outer = np.array([fwd(lon, lat, 36.0 * k, 20_000.0) for k in [*range(n), 0]])
    hole = np.array([fwd(lon, lat, 36.0 * k, 8_000.0) for k in [*range(n), 0]])
    ring_shape = oracle.Shape("polygon", [[outer, hole]], 0.0)
    # Somewhere in the hole, up to 1.2 x the way to its edge.
    c = fwd(lon, lat, az, depth * 7_000.0)
    ix = ScreeningIndex()
    ix.add("p", Volume(Footprint.polygons([[outer, hole]], 0.0), LOW, NOW), party("A"))
    hits = ix.screen(circle(c[0], c[1], r))
    want, d = oracle.meets(oracle.Shape("point", [[np.array([c])]], r), ring_shape)
    assert bool(hits) == want or abs(d - r) < 1e-3


# -- incremental structure against a flat scan --------------------------------------------------


def flat_scan(items: Mapping[str, Volume | Site], query: Volume) -> set[str]:
    """Every item measured on its own: the truth the index must reproduce whatever its state."""
    found = set()
    for key, item in items.items():
        fp = item.footprint
        if fp.kind == "point":
            m = separation.measure_points(
                query.footprint, np.array([fp.centre]), fp.dense_xyz, np.array([fp.buffer_m])
            )
        else:
            m = separation.measure_shapes(query.footprint, [fp])
        t = item.window.bounds
        q = query.window.bounds
        if m.meets[0] and t[0] <= q[1] and q[0] <= t[1]:
            found.add(key)
    return found


@pytest.mark.parametrize(("batch", "fanout"), [(1, 2), (4, 2), (16, 4), (256, 4)])
def test_index_agrees_with_a_flat_scan_through_adds_and_removes(batch: int, fanout: int) -> None:
    rng = np.random.default_rng(batch)
    ix = ScreeningIndex(batch=batch, fanout=fanout)
    live: dict[str, Volume | Site] = {}
    for step in range(600):
        roll = rng.random()
        if roll < 0.6 or not live:
            key = f"k{step}"
            lon, lat = rng.uniform(37.0, 37.3), rng.uniform(36.0, 36.3)
            start = T0 + timedelta(minutes=int(rng.integers(0, 240)))
            window = Window(start, start + timedelta(minutes=int(rng.integers(0, 90))))
            item: Volume | Site
            if step < 300 and rng.random() < 0.15:
                # sites only in the first half, so the second half's removals empty their kind
                item = Site("hospital", "H", Footprint.point(lon, lat, 200.0), LOW, window)
            elif rng.random() < 0.7:
                item = circle(lon, lat, float(rng.uniform(10, 3000)), window=window)
            else:
                ring = np.array(
                    [fwd(lon, lat, a, float(rng.uniform(300, 3000))) for a in (0, 120, 240, 0)]
                )
                item = Volume(Footprint.polygons([[ring]], 0.0), LOW, window)
            ix.add(key, item, party("A"))
            live[key] = item
        elif roll < 0.85:
            key = str(rng.choice(sorted(live)))
            assert ix.remove(key)
            del live[key]
        else:
            lon, lat = rng.uniform(37.0, 37.3), rng.uniform(36.0, 36.3)
            query = circle(
                lon, lat, float(rng.uniform(1, 5000)), window=Window(T0 + HOUR, T0 + 2 * HOUR)
            )
            assert keys(ix.screen(query)) == flat_scan(live, query)
            assert keys(ix.screen(query)) <= set(ix.candidates(query))
            sites = {k: v for k, v in live.items() if isinstance(v, Site)}
            assert keys(ix.screen(query, kinds=("site",))) == flat_scan(sites, query)
            volumes = {k: v for k, v in live.items() if isinstance(v, Volume)}
            assert keys(ix.screen(query, kinds=("volume",))) == flat_scan(volumes, query)
    assert len(ix) == len(live)
    ix.flush()
    query = circle(37.15, 36.15, 50_000, window=Window(T0 - HOUR, T0 + 10 * HOUR))
    assert keys(ix.screen(query)) == set(live)


def test_mass_removal_compacts() -> None:
    ix = ScreeningIndex(batch=8)
    ix.add_many((f"s{i}", site(37 + i * 1e-3, 36.0, 50), party("ngo")) for i in range(200))
    for i in range(190):
        ix.remove(f"s{i}")
    assert keys(ix.screen(circle(37.1, 36.0, 50_000))) == {f"s{i}" for i in range(190, 200)}
    ix.add("late", site(37.05, 36.0, 50), party("ngo"))
    assert "late" in keys(ix.screen(circle(37.05, 36.0, 1)))


def test_records_survive_compaction() -> None:
    ix = ScreeningIndex(batch=4)
    for i in range(40):
        ix.add(f"op{i}#0", circle(37.0, 36.0, 100), party("A", record=f"op{i}", part=0))
    for i in range(35):
        assert ix.remove_record(f"op{i}") == 1
    assert len(ix.screen(circle(37.0, 36.0, 1))) == 5  # compacts
    assert {h.key for h in ix.screen(circle(37.0, 36.0, 1), party("A", record="op37"))} == {
        "op35#0",
        "op36#0",
        "op38#0",
        "op39#0",
    }
