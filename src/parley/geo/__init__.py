"""Geometry and screening: pure, in memory, no storage.

- :mod:`.geodesy` — WGS 84 geodesics (GeographicLib through pyproj) and the local frame with its
  error bounds;
- :mod:`.footprint` — a point, line or polygons on the ellipsoid, grown by a buffer;
- :mod:`.geojson` — GeoJSON in, validated footprints out, refusals naming the field;
- :mod:`.shapes` — volumes, sites, areas and movements, and their parsers;
- :mod:`.separation` — whether two footprints meet: planar with proven bounds, exact when close;
- :mod:`.index` — the in-memory index of everything in force;
- :mod:`.screening` — the rules that turn meetings into conflicts.

docs/screening.md explains the edge model, its error bound and every decision.
"""
