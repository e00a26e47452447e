"""Which MGRS square a point is spelt in, and whether a square is spelt as a reference says.

The position reader decodes a reference to its square's centre and spells the centre again, to
refuse references the mgrs library reads leniently (a wrong band, a square outside its zone). A
square that lies across a zone or band edge has its centre on the far side, where the same square
is spelt in the other zone or band; such a reference is still right if the near side, which always
holds a corner of the square, is spelt as it says.
"""

from __future__ import annotations

import functools
import re
import warnings

import mgrs
from pyproj import Transformer

Spelling = tuple[int, str, str, str]
"""Zone, band, 100 km square letters, digits."""

_SPELLING = re.compile(r"^0*(\d{1,2})([A-Z])([A-Z]{2})(\d*)$")
# Corners are probed this far inside the square: the library's UTM and pyproj's agree to well
# under a millimetre, so a corner never lands in a neighbouring square.
_INSET_M = 0.001


def spelt(lat: float, lon: float, digits: int) -> Spelling | None:
    """The MGRS spelling of a point at ``digits`` per axis; None if the library answers junk."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = _SPELLING.match(mgrs.MGRS().toMGRS(lat, lon, MGRSPrecision=digits))
    return (int(found[1]), found[2], found[3], found[4]) if found else None


def corner_spelt_so(reference: str, digits: int, expected: Spelling) -> bool:
    """Whether a corner of the referenced square, in its own zone's grid, is spelt ``expected``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zone, hemisphere, easting, northing = mgrs.MGRS().MGRSToUTM(reference)
        to_lonlat = _from_utm(int(zone), hemisphere == "S")
        half = 10.0 ** (5 - digits) / 2 - _INSET_M
        for de in (-half, half):
            for dn in (-half, half):
                lon, lat = to_lonlat.transform(easting + de, northing + dn)
                if spelt(lat, lon, digits) == expected:
                    return True
    except Exception:  # the library raises its own bare error type: then nothing matches
        return False
    return False


@functools.cache
def _from_utm(zone: int, south: bool) -> Transformer:
    return Transformer.from_crs((32700 if south else 32600) + zone, 4326, always_xy=True)
