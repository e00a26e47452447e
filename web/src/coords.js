// Reading a position typed by a person, strictly: the same grammar and refusals as the hub's
// reader (src/parley/formats/coordinates.py); both are tested against tests/data/positions.json.
//
//   36.2012, 37.1612            decimal, latitude first; also 36.2012N 37.1612E, N36.2012 E37.1612
//   36°12'04.3"N 37°09'40.3"E   DMS or decimal minutes; also 36 12 04.3 N 37 09 40.3 E
//   361204N 0370940E            the aviation form
//   37S CA 34570 07700          MGRS, 3+3 to 5+5 digits for a point; its square's centre
//
// MGRS is decoded and encoded back: a reference the library reads leniently (a wrong latitude
// band, a square outside its zone) does not come back the same, and is refused.

// The package's ES module build; its "main" is a UMD bundle Node cannot import by name.
import { forward, toPoint } from "mgrs/dist/mgrs.esm.js";

export class CoordinateError extends Error {
  // Named, so a caller can tell it from other errors after bundling renames the class.
  name = "CoordinateError";
}

const FORMS = 'decimal "36.2012, 37.1612", DMS "36°12\'04"N 37°09\'40"E", aviation "361204N 0370940E" or MGRS "37S CA 34570 07700"';
const SYMBOLS = { "′": "'", "’": "'", "‘": "'", "´": "'", "`": "'", "″": '"', "“": '"', "”": '"', "º": "°", "˚": "°", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "−": "-", "–": "-" };

export function parseCoordinate(input) {
  const original = String(input ?? "");
  if (!original.trim()) throw new CoordinateError(`no position given: type ${FORMS}`);
  const text = [...original.trim()].map((c) => SYMBOLS[c] ?? c).join("").replaceAll("''", '"').replace(/\s+/g, " ").toUpperCase();
  for (const reader of [fromLink, plusCode, fromMgrs, aviation, hemispheres, decimal]) {
    const found = reader(text, original);
    if (found) return found;
  }
  throw new CoordinateError(`cannot read a position from ${JSON.stringify(original)}: type ${FORMS}`);
}

function fromLink(text, original) {
  const raw = original.trim();
  if (!raw.includes("://") && !/^(www\.|maps\.|goo\.gl)/i.test(raw)) return null;
  let url;
  try {
    url = new URL(raw.includes("://") ? raw : `https://${raw}`);
  } catch {
    throw new CoordinateError(`${JSON.stringify(original)} is not a link parley can read: type ${FORMS}`);
  }
  const candidates = ["q", "query", "ll"].flatMap((k) => url.searchParams.getAll(k));
  const at = /@(-?\d[\d.]*,-?\d[\d.]*)/.exec(decodeURIComponent(url.pathname));
  if (at) candidates.unshift(at[1]);
  for (const candidate of candidates) {
    const pair = /^(-?\d{1,3}(?:\.\d+)?),\s*(-?\d{1,3}(?:\.\d+)?)/.exec(candidate.trim());
    if (pair) return inRange(Number(pair[1]), Number(pair[2]), original);
  }
  throw new CoordinateError(`${JSON.stringify(original)} is a link without a position in it: open it, copy the coordinates and type ${FORMS}`);
}

function plusCode(text, original) {
  if (!/^[23456789CFGHJMPQRVWX]{2,8}\+[23456789CFGHJMPQRVWX]{0,3}(?: .*)?$/.test(text)) return null;
  throw new CoordinateError(`${JSON.stringify(original)} is a plus code, which parley does not read: type ${FORMS}`);
}

const BANDS = "CDEFGHJKLMNPQRSTUVWX";

function fromMgrs(text, original) {
  const m = /^(\d{1,2}) ?([A-Z]) ?([A-Z])([A-Z]) ?(\d*) ?(\d*)$/.exec(text);
  if (!m) return null;
  const [, zoneText, band, col, row, first, second] = m;
  const zone = Number(zoneText);
  const ref = `MGRS ${JSON.stringify(original)}`;
  if (zone < 1 || zone > 60) throw new CoordinateError(`${ref}: zone ${zone} does not exist (zones are 1 to 60)`);
  if (!BANDS.includes(band)) throw new CoordinateError(`${ref}: ${band} is not a latitude band (C to X, without I, O)`);
  if ("IO".includes(col) || "IO".includes(row)) throw new CoordinateError(`${ref}: 100 km square letters never include I or O`);
  let east;
  let north;
  if (second) {
    if (first.length !== second.length) {
      throw new CoordinateError(`${ref}: the easting ${first} has ${first.length} digits and the northing ${second} has ${second.length}; both need the same number (1 to 5)`);
    }
    [east, north] = [first, second];
  } else {
    if (first.length % 2) throw new CoordinateError(`${ref}: ${first.length} digits cannot be split into an easting and a northing of the same length`);
    if (first.length > 10) throw new CoordinateError(`${ref}: at most 5+5 digits (1 m)`);
    [east, north] = [first.slice(0, first.length / 2), first.slice(first.length / 2)];
  }
  const digits = east.length;
  if (digits < 3) {
    const size = ["100 km", "10 km", "1 km"][digits];
    throw new CoordinateError(`${ref} names a ${size} square, not a point: give at least 3+3 digits for a site, or notify a polygon`);
  }
  const reference = `${zone}${band}${col}${row}${east}${north}`;
  let lon;
  let lat;
  try {
    // toPoint answers the centre of the grid square the reference names.
    [lon, lat] = toPoint(reference);
  } catch {
    throw new CoordinateError(`${ref} does not exist: check the zone, band and 100 km square letters`);
  }
  const again = /^0*(\d{1,2})([A-Z])([A-Z]{2})(\d*)$/.exec(forward([lon, lat], digits));
  if (!again) throw new CoordinateError(`${ref} cannot be checked: check the letters and digits`);
  const [, z2, b2, sq2, d2] = again;
  if (Number(z2) === zone && b2 === band && sq2 === col + row && d2 === east + north) {
    return { lat: round6(lat), lon: round6(lon), precisionM: 10 ** (5 - digits) };
  }
  if (Number(z2) === zone && sq2 === col + row && b2 !== band) {
    throw new CoordinateError(`${ref}: latitude band ${band} does not match the square, which lies in band ${b2} (latitude ${lat.toFixed(4)}°): check the band letter`);
  }
  throw new CoordinateError(`${ref}: the 100 km square ${col}${row} does not lie in zone ${zone}${band} (read literally it is ${z2}${b2} ${sq2} ${d2}): check the zone and the square letters`);
}

function aviation(text, original) {
  const m = /^(\d{4,6}(?:\.\d+)?)([NS]) ?,? ?(\d{5,7}(?:\.\d+)?)([EW])$/.exec(text);
  if (!m) return null;
  const lat = packed(m[1], 2, original) * (m[2] === "S" ? -1 : 1);
  const lon = packed(m[3], 3, original) * (m[4] === "W" ? -1 : 1);
  return inRange(lat, lon, original);
}

function packed(value, degreeDigits, original) {
  const [whole, fraction] = value.split(".");
  if (whole.length !== degreeDigits + 2 && whole.length !== degreeDigits + 4) {
    const axis = degreeDigits === 2 ? "latitude" : "longitude";
    throw new CoordinateError(`${JSON.stringify(original)}: the ${axis} ${value} should be ${"D".repeat(degreeDigits)}MM or ${"D".repeat(degreeDigits)}MMSS`);
  }
  const d = Number(whole.slice(0, degreeDigits));
  const m = Number(whole.slice(degreeDigits, degreeDigits + 2));
  const s = Number(whole.slice(degreeDigits + 2) + (fraction ? `.${fraction}` : "") || 0);
  return sexagesimal(d, m, s, original);
}

const HALF = String.raw`[0-9.°'" ]+?`;
const SUFFIX = new RegExp(String.raw`^(${HALF}) ?([NSEW]) ?[,;/]? ?(${HALF}) ?([NSEW])$`);
const PREFIX = new RegExp(String.raw`^([NSEW]) ?(${HALF}) ?[,;/]? ?([NSEW]) ?(${HALF})$`);
const FIELDS = /^(\d+(?:\.\d+)?)[° ]*(?:(\d+(?:\.\d+)?)[' ]*)?(?:(\d+(?:\.\d+)?)"?)? *$/;

function hemispheres(text, original) {
  if (/^[-+\d., ;]*\dE[-+]?\d[-+\d., ;]*$/.test(text)) {
    throw new CoordinateError(`${JSON.stringify(original)}: write the degrees out in full, without an exponent`);
  }
  const letters = text.match(/[NSEW]/g) ?? [];
  if (!letters.length || /[A-DF-MO-RT-VX-Z]/.test(text)) return null;
  if (letters.length !== 2) {
    throw new CoordinateError(`${JSON.stringify(original)}: give a hemisphere letter with both halves (N or S for the latitude, E or W for the longitude), or none and signed decimal degrees`);
  }
  const suffix = SUFFIX.exec(text);
  const prefix = PREFIX.exec(text);
  let halves;
  if (suffix) halves = [[suffix[2], suffix[1]], [suffix[4], suffix[3]]];
  else if (prefix) halves = [[prefix[1], prefix[2]], [prefix[3], prefix[4]]];
  else throw new CoordinateError(`cannot read ${JSON.stringify(original)}: put each hemisphere letter before or after its half`);
  const axes = {};
  for (const [letter, half] of halves) {
    const axis = "NS".includes(letter) ? "lat" : "lon";
    if (axis in axes) {
      throw new CoordinateError(`${JSON.stringify(original)} gives two ${axis === "lat" ? "latitudes" : "longitudes"}: one half needs N or S, the other E or W`);
    }
    axes[axis] = degrees(half.trim(), original) * ("SW".includes(letter) ? -1 : 1);
  }
  return inRange(axes.lat, axes.lon, original);
}

function degrees(half, original) {
  const f = FIELDS.exec(half);
  if (!f) throw new CoordinateError(`${JSON.stringify(original)}: cannot read ${JSON.stringify(half)} as degrees, minutes and seconds`);
  const [, d, m, s] = f;
  if ((m !== undefined && d.includes(".")) || (s !== undefined && m.includes("."))) {
    throw new CoordinateError(`${JSON.stringify(original)}: only the last of degrees, minutes, seconds may have decimals`);
  }
  return sexagesimal(Number(d), Number(m ?? 0), Number(s ?? 0), original);
}

function sexagesimal(d, m, s, original) {
  if (m >= 60) throw new CoordinateError(`${JSON.stringify(original)}: ${m} minutes; minutes must be below 60`);
  if (s >= 60) throw new CoordinateError(`${JSON.stringify(original)}: ${s} seconds; seconds must be below 60`);
  return d + m / 60 + s / 3600;
}

function decimal(text, original) {
  if (/^[+-]?\d+,\d+ [+-]?\d+,\d+$/.test(text)) {
    throw new CoordinateError(`${JSON.stringify(original)} uses commas as decimal separators: type ${text.replaceAll(",", ".").replace(" ", ", ")}`);
  }
  const m = /^([+-]?\d+(?:\.\d+)?)(?: ?[,;] ?| )([+-]?\d+(?:\.\d+)?)$/.exec(text);
  if (!m) {
    if (/[°'"]/.test(text)) {
      throw new CoordinateError(`${JSON.stringify(original)}: degrees, minutes and seconds need hemisphere letters (N or S, E or W) on both halves`);
    }
    return null;
  }
  return inRange(Number(m[1]), Number(m[2]), original);
}

function inRange(lat, lon, original) {
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) throw new CoordinateError(`${JSON.stringify(original)} is not a finite position`);
  if (Math.abs(lat) > 90) {
    const hint = Math.abs(lon) <= 90 ? " (did you give the longitude first?)" : "";
    throw new CoordinateError(`${JSON.stringify(original)}: latitude ${lat} is beyond ±90°${hint}`);
  }
  if (Math.abs(lon) > 180) throw new CoordinateError(`${JSON.stringify(original)}: longitude ${lon} is beyond ±180°`);
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
