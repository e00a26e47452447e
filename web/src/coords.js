// Reading a position typed by a person: decimal degrees, degrees-minutes-seconds, or MGRS.
// Liaison cells pass coordinates in all three; the form takes whichever is typed and shows
// the decimal reading back, so a misread is visible before anything is signed.
//
//   36.2012, 37.1612            decimal, latitude first (as spoken), comma or space
//   36.2012N 37.1612E           decimal with hemispheres; also N36.2012 E37.1612
//   36°12'04.3"N 37°09'40.3"E   DMS; also 36 12 04.3 N 37 09 40.3 E
//   361204N 0370940E            packed DMS (military message style)
//   37SBA 12345 67890           MGRS, any precision, spaces optional

// The package's ES module build; its "main" is a UMD bundle Node cannot import by name.
import { forward, toPoint } from "mgrs/dist/mgrs.esm.js";

export class CoordinateError extends Error {}

const MGRS = /^\s*(\d{1,2}[C-HJ-NP-X])\s*([A-HJ-NP-Z]{2})\s*(\d{0,5})\s*(\d{0,5})\s*$/i;

export function parseCoordinate(input) {
  const text = String(input ?? "").trim();
  if (!text) throw new CoordinateError("type a position: lat, lon; DMS; or MGRS");
  const mgrs = MGRS.exec(text);
  if (mgrs) return fromMgrs(mgrs);
  const upper = text.toUpperCase();
  const hemis = upper.match(/[NSEW]/g) ?? [];
  if (hemis.length === 2) return fromHemispheres(upper);
  if (hemis.length) throw new CoordinateError("give a hemisphere letter for both latitude and longitude");
  const numbers = text.split(/[\s,;]+/).filter(Boolean);
  if (numbers.length !== 2 || !numbers.every((n) => /^[+-]?\d+(\.\d+)?$/.test(n))) {
    throw new CoordinateError(`cannot read ${JSON.stringify(text)} as lat, lon; DMS; or MGRS`);
  }
  return checked(Number(numbers[0]), Number(numbers[1]));
}

function fromMgrs(match) {
  const [, zone, square, east, north] = match;
  if (east.length !== north.length) {
    throw new CoordinateError("an MGRS easting and northing need the same number of digits");
  }
  let lon;
  let lat;
  try {
    // toPoint answers the centre of the grid square the reference names.
    [lon, lat] = toPoint(`${zone}${square}${east}${north}`.toUpperCase());
  } catch (err) {
    throw new CoordinateError(`not a valid MGRS reference: ${err.message}`);
  }
  return checked(lat, lon);
}

// Two halves, each a number (or DMS) with its hemisphere letter after it (36 12 N 37 09 E)
// or before it (N36.2 E37.16).
function fromHemispheres(text) {
  const suffix = /^([^NSEW]+)([NSEW])[\s,;]*([^NSEW]+)([NSEW])$/.exec(text);
  const prefix = /^([NSEW])([^NSEW]+)([NSEW])([^NSEW]+)$/.exec(text);
  let halves;
  if (suffix) halves = [[suffix[2], suffix[1]], [suffix[4], suffix[3]]];
  else if (prefix) halves = [[prefix[1], prefix[2]], [prefix[3], prefix[4]]];
  else throw new CoordinateError(`cannot read ${JSON.stringify(text)}: give each half its hemisphere`);
  let lat;
  let lon;
  for (const [hemi, raw] of halves) {
    const value = raw.replace(/^[\s,;]+|[\s,;]+$/g, "");
    const isLat = hemi === "N" || hemi === "S";
    const degrees = dms(value, isLat) * (hemi === "S" || hemi === "W" ? -1 : 1);
    if (isLat) {
      if (lat !== undefined) throw new CoordinateError("two latitudes given");
      lat = degrees;
    } else {
      if (lon !== undefined) throw new CoordinateError("two longitudes given");
      lon = degrees;
    }
  }
  return checked(lat, lon);
}

// Degrees, optionally minutes and seconds, separated by symbols or spaces; or packed
// DDMMSS / DDDMMSS (with optional decimals) as in military messages.
function dms(value, isLat) {
  const packed = /^(\d{2,3})(\d{2})(\d{2}(?:\.\d+)?)$/.exec(value);
  if (packed && packed[1].length === (isLat ? 2 : 3)) {
    return sexagesimal(Number(packed[1]), Number(packed[2]), Number(packed[3]));
  }
  const fields = value
    .replace(/[°º˚:'′’‘"″”]/g, " ")
    .split(/\s+/)
    .filter(Boolean);
  if (!fields.length || fields.length > 3 || !fields.every((f) => /^\d+(\.\d+)?$/.test(f))) {
    throw new CoordinateError(`cannot read ${JSON.stringify(value)} as degrees, minutes and seconds`);
  }
  const [d, m = 0, s = 0] = fields.map(Number);
  return sexagesimal(d, m, s);
}

function sexagesimal(d, m, s) {
  if (m >= 60 || s >= 60) throw new CoordinateError("minutes and seconds must be below 60");
  return d + m / 60 + s / 3600;
}

function checked(lat, lon) {
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) {
    throw new CoordinateError(`latitude ${lat} is outside -90 to 90`);
  }
  if (!Number.isFinite(lon) || lon < -180 || lon > 180) {
    throw new CoordinateError(`longitude ${lon} is outside -180 to 180`);
  }
  // Six decimals are about 10 cm: finer digits only pretend to a precision nobody has.
  return { lat: round6(lat), lon: round6(lon) };
}

export function round6(x) {
  return Math.round(x * 1e6) / 1e6;
}

export function formatLatLon({ lat, lon }) {
  return `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
}

export function formatDms({ lat, lon }) {
  const part = (x, pos, neg) => {
    // Work in tenths of a second so rounding can never print 60 seconds.
    const tenths = Math.round(Math.abs(x) * 36000);
    const d = Math.floor(tenths / 36000);
    const m = Math.floor((tenths % 36000) / 600);
    const s = (tenths % 600) / 10;
    return `${d}°${String(m).padStart(2, "0")}′${s.toFixed(1).padStart(4, "0")}″${x < 0 ? neg : pos}`;
  };
  return `${part(lat, "N", "S")} ${part(lon, "E", "W")}`;
}

export function formatMgrs({ lat, lon }) {
  try {
    return forward([lon, lat], 5).replace(/^(\d+[A-Z])([A-Z]{2})(\d{5})(\d{5})$/, "$1 $2 $3 $4");
  } catch {
    return "";
  }
}
