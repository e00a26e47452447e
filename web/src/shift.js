// What the page decides for a shift's work, kept free of the DOM and of Leaflet so that it can
// be tested on its own (node --test): a movement's body from the form's text, which alerts a
// filter shows, how many protected sites an operation meets, and the timeline's rows and ticks.

import { parseCoordinate } from "./coords.js";

// A refused form value: `field` names the form's input that holds it.
export class BodyError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

// The hub refuses a corridor wider than this (src/parley/geo/shapes.py's radius limit).
export const MAX_CORRIDOR_M = 50_000;

// A route typed one position a line (decimal, DMS or MGRS), as GeoJSON positions (lon, lat).
export function parseRoute(text) {
  const lines = String(text ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
  const points = lines.map((line, i) => {
    try {
      const p = parseCoordinate(line);
      return [p.lon, p.lat];
    } catch (err) {
      throw new BodyError("route", `Route point ${i + 1}: ${err.message}`);
    }
  });
  if (points.length < 2) throw new BodyError("route", "A route needs at least two points, one a line: draw it on the map or type them");
  return points;
}

// The body of a movement (docs/formats.md, "movement"); `start` and `end` are ISO 8601 UTC.
export function movementBody({ name, route, corridor, start, end }) {
  const trimmed = String(name ?? "").trim();
  if (!trimmed) throw new BodyError("name", "Name is required");
  const coordinates = parseRoute(route);
  const half = Number(corridor);
  if (corridor === "" || corridor === null || corridor === undefined || !Number.isFinite(half) || half <= 0 || half > MAX_CORRIDOR_M) {
    throw new BodyError("corridor", `Corridor half-width must be a number above 0 and at most ${MAX_CORRIDOR_M} metres`);
  }
  if (!start) throw new BodyError("start", "Start is required");
  if (!end) throw new BodyError("end", "End is required");
  if (!(Date.parse(end) > Date.parse(start))) throw new BodyError("end", "The movement ends before it starts");
  return { name: trimmed, route: { type: "LineString", coordinates }, corridor_m: half, time: { start, end } };
}

// -- alerts -------------------------------------------------------------------------------

// A conflict alert carries its conflict's state; any other alert is open until acknowledged.
export function alertState(alert) {
  return alert?.conflict?.state ?? (alert?.acknowledged_at ? "acknowledged" : "open");
}

export function alertKind(alert) {
  return alert?.conflict?.kind ?? alert?.kind ?? "alert";
}

// The state filter's "current" hides moot alerts: moot conflicts leave the default views.
export const STATE_CHOICES = [
  ["current", "Not moot"],
  ["open", "Open"],
  ["acknowledged", "Acknowledged"],
  ["resolved", "Resolved"],
  ["moot", "Moot"],
  ["", "Any state"],
];

// `filter`: {kind, severity, state}, each "" for any; state "current" for all but moot.
export function alertMatches(alert, { kind = "", severity = "", state = "current" } = {}) {
  if (kind && alertKind(alert) !== kind) return false;
  if (severity && alert?.severity !== severity) return false;
  const s = alertState(alert);
  if (state === "current") return s !== "moot";
  return !state || s === state;
}

// Newest first, as the panel lists them.
export function filterAlerts(alerts, filter) {
  return [...alerts].filter((a) => alertMatches(a, filter)).sort((a, b) => String(b.created_at ?? "").localeCompare(String(a.created_at ?? "")));
}

// Those of `shown` that "Acknowledge all shown" would acknowledge.
export function ackable(shown) {
  return shown.filter((a) => !a.acknowledged_at);
}

// The distinct values of `pick` over alerts, sorted, for a filter's options.
export function choicesOf(alerts, pick) {
  return [...new Set([...alerts].map(pick).filter(Boolean))].sort();
}

// -- protected sites met ------------------------------------------------------------------

// How many distinct protected sites these conflicts (a submission's answer) meet. A site the
// viewer may not see is counted by its conflict, unnamed.
export function sitesMet(conflicts) {
  const sites = new Set();
  for (const c of conflicts ?? []) if (c?.kind === "protected-site") sites.add(c.site ?? c.other ?? c.id);
  return sites.size;
}

// From this many sites on, an operation's notice is a warning, not a neutral line.
export const SEVERAL_SITES = 2;

// -- timeline -----------------------------------------------------------------------------

const HOUR = 3_600_000;

// "29 Nov 18:00Z": the timeline's labels, always in UTC.
export function utcLabel(ms) {
  const d = new Date(ms);
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const hh = String(d.getUTCHours()).padStart(2, "0");
  const mm = String(d.getUTCMinutes()).padStart(2, "0");
  return `${d.getUTCDate()} ${months[d.getUTCMonth()]} ${hh}:${mm}Z`;
}

// Ticks at whole UTC multiples of `stepHours` within [from, to], each with its fraction.
export function ticks(from, to, stepHours = 24) {
  const step = stepHours * HOUR;
  const out = [];
  for (let t = Math.ceil(from / step) * step; t <= to && out.length < 100; t += step) {
    out.push({ at: t, x: (t - from) / (to - from), label: utcLabel(t) });
  }
  return out;
}

// One row per window of `items` ({id, name, kind, start, end}, ISO times; no end: open) that
// overlaps [from, to], with its start and end as fractions of the span, earliest first.
export function timelineRows(items, from, to) {
  const span = to - from;
  const rows = [];
  for (const item of items) {
    const s = Date.parse(item.start);
    const e = item.end ? Date.parse(item.end) : Infinity;
    if (!Number.isFinite(s) || e < from || s > to) continue;
    rows.push({ ...item, x0: Math.max(0, (s - from) / span), x1: Math.min(1, (Math.min(e, to) - from) / span) });
  }
  return rows.sort((a, b) => Date.parse(a.start) - Date.parse(b.start) || String(a.name).localeCompare(String(b.name)));
}

// The windows a record plans: one per operation volume, one per movement.
export function windowsOf(record, name) {
  const body = record?.document?.body ?? {};
  if (record?.kind === "movement" && body.time) return [{ id: record.id, name, kind: "movement", start: body.time.start, end: body.time.end }];
  if (record?.kind !== "operation") return [];
  const volumes = body.volumes ?? [];
  return volumes
    .filter((v) => v?.time)
    .map((v, i) => ({ id: record.id, name: volumes.length > 1 ? `${name} (volume ${i + 1})` : name, kind: "operation", start: v.time.start, end: v.time.end }));
}
