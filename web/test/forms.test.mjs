// The forms' own checks (forms.js), which run before anything is signed: a refusal there names
// the field and why. Positions come from the table the hub's reader is tested with
// (tests/data/positions.json), so a vertex the hub would read is one the form reads too.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { parseCoordinate } from "../src/coords.js";
import { FieldError, areaId, inRange, readPolygon, readTime, ring } from "../src/forms.js";

const TABLE = JSON.parse(readFileSync(join(import.meta.dirname, "../../tests/data/positions.json"), "utf8")).cases;
const input = (value) => ({ value });

function signedArea(coords) {
  let area = 0;
  for (let i = 0; i + 1 < coords.length; i++) area += coords[i][0] * coords[i + 1][1] - coords[i + 1][0] * coords[i][1];
  return area / 2;
}

test("a polygon typed vertex by vertex in any of the table's notations is read, closed and counter-clockwise", () => {
  const read = TABLE.filter((c) => "lat" in c && !("outside_region" in c));
  // Three distinct positions from the table, typed in their own notation, in both windings.
  const picks = [];
  for (const c of read) if (!picks.some((p) => Math.abs(p.lat - c.lat) + Math.abs(p.lon - c.lon) < 1e-3)) picks.push(c);
  assert.ok(picks.length >= 3, "the table needs three distinct positions");
  for (const order of [picks.slice(0, 3), picks.slice(0, 3).reverse()]) {
    const vertices = input(`\n${order.map((c) => c.input).join("\n")}\n\n`);
    const polygon = readPolygon(vertices);
    assert.equal(polygon.type, "Polygon");
    const [outer] = polygon.coordinates;
    assert.equal(outer.length, 4);
    assert.deepEqual(outer[0], outer[3]);
    assert.ok(signedArea(outer) > 0, "RFC 7946: exterior rings are counter-clockwise");
    for (const c of order) {
      const at = parseCoordinate(c.input);
      assert.ok(outer.some(([lon, lat]) => lon === at.lon && lat === at.lat), c.input);
    }
  }
});

test("a vertex the table refuses is refused by the form, naming the vertex and the reason", () => {
  const good = TABLE.filter((c) => "lat" in c).map((c) => c.input);
  const refused = TABLE.filter((c) => "refused" in c && !c.input.includes("\n"));
  assert.ok(refused.length > 10);
  for (const c of refused) {
    if (!c.input.trim()) continue; // a blank line is skipped, not a vertex
    const vertices = input([good[0], c.input, good[1], good[2]].join("\n"));
    assert.throws(
      () => readPolygon(vertices),
      (err) => err instanceof FieldError && err.input === vertices && err.message.startsWith("Vertex 2: ") && err.message.includes(c.refused),
      c.input,
    );
  }
  assert.throws(() => readPolygon(input(`${good[0]}\n${good[1]}\n`)), /at least three vertices/);
});

test("ring closes and orients whatever it is given", () => {
  const square = [
    { lat: 0, lon: 0 },
    { lat: 1, lon: 0 },
    { lat: 1, lon: 1 },
    { lat: 0, lon: 1 },
  ];
  // As [lon, lat] the square runs clockwise: the ring turns it round, then closes it.
  assert.deepEqual(ring(square), [[1, 0], [1, 1], [0, 1], [0, 0], [1, 0]]);
  assert.deepEqual(ring([...square].reverse()), [[1, 0], [1, 1], [0, 1], [0, 0], [1, 0]]);
});

test("times are read as UTC and required where the form says so", () => {
  assert.equal(readTime(input("2026-03-01T08:15"), "Start"), "2026-03-01T08:15:00.000Z");
  assert.equal(readTime(input("2026-03-01T08:15:30"), "Start"), "2026-03-01T08:15:30.000Z");
  assert.equal(readTime(input(""), "Until", false), null);
  assert.throws(() => readTime(input(""), "Start"), /Start is required/);
  assert.throws(() => readTime(input("2026-13-01T08:15"), "Start"), (err) => err instanceof FieldError && /Start is not a date and time/.test(err.message));
});

test("numbers out of range and area ids", () => {
  assert.equal(inRange(input("250"), 0, 1000, "Radius"), 250);
  for (const bad of ["", "abc", "-1", "1001", "Infinity"]) {
    assert.throws(() => inRange(input(bad), 0, 1000, "Radius"), /Radius must be a number from 0 to 1000/, bad);
  }
  assert.equal(areaId("  No-fly zone Ä ", []), "no-fly-zone-a");
  assert.equal(areaId("No-fly zone", [{ id: "no-fly-zone" }, { id: "no-fly-zone-2" }]), "no-fly-zone-3");
  assert.equal(areaId("هبوط", []), "area");
});
