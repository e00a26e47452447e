// Known answers for the page's verification code, run with `npm test` (node:test, Node 20+).
// The vectors are the ones the Python log code is tested with (tests/log/vectors: RFC 6962/9162
// Merkle vectors, C2SP signed-note vectors); the browser tests (tests/test_page.py) check the
// same code against live receipts from a hub.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { fromHex, hex, utf8 } from "../src/bytes.js";
import { canonical } from "../src/canonical.js";
import { CoordinateError, formatDms, formatMgrs, parseCoordinate } from "../src/coords.js";
import { leafHash, nodeHash, verifyInclusion } from "../src/merkle.js";
import { openNote, parseCheckpoint, parseVerifierKey } from "../src/note.js";
import { metres } from "./distance.mjs";

const TESTS = join(import.meta.dirname, "../../tests");
const vectors = (name) => JSON.parse(readFileSync(join(TESTS, "log/vectors", name), "utf8"));

test("canonical JSON sorts keys by UTF-16 code units and formats numbers as ECMAScript", () => {
  assert.equal(canonical({ b: 1, a: [true, null, "x"], "\u00e9": 2, A: 1e21 }), '{"A":1e+21,"a":[true,null,"x"],"b":1,"\u00e9":2}');
  assert.equal(canonical({ "\ud83d\ude00": 1, "\ufb33": 2 }), '{"\ud83d\ude00":1,"\ufb33":2}');
  assert.equal(canonical([-0, 0.1, 36.20124, 1e-7, 3000]), "[0,0.1,36.20124,1e-7,3000]");
  assert.equal(canonical("\u0001\n\"\\"), '"\\u0001\\n\\"\\\\"');
  assert.throws(() => canonical(Number.NaN));
  assert.throws(() => canonical("\ud800"));
});

test("Merkle known answers", async () => {
  const v = vectors("merkle-vectors.json");
  assert.equal(hex(await leafHash(utf8(v.hasher.leaf.input_ascii))), v.hasher.leaf.hash);
  assert.equal(hex(await nodeHash(utf8(v.hasher.node.left_ascii), utf8(v.hasher.node.right_ascii))), v.hasher.node.hash);
  for (const p of v.inclusion_proofs) {
    const leaf = await leafHash(fromHex(v.leaves_hex[p.leaf_index]));
    await verifyInclusion(leaf, p.leaf_index, p.tree_size, p.proof_hex.map(fromHex), fromHex(v.roots_hex[p.tree_size]));
  }
  let checked = 0;
  for (const probe of v.td_probes.inclusion) {
    const run = verifyInclusion(fromHex(probe.leaf_hash_hex), probe.leaf_index, probe.tree_size, probe.proof_hex.map(fromHex), fromHex(probe.root_hex));
    if (probe.want_error) await assert.rejects(run, probe.desc);
    else await run;
    checked++;
  }
  assert.ok(checked > 10);
});

test("signed notes and checkpoints", async () => {
  const v = vectors("signed-note-vectors.json");
  for (const vec of v.vectors) {
    const keys = vec.vkeys ?? [vec.vkey];
    for (const vkey of keys) {
      const verifier = await parseVerifierKey(vkey);
      const run = openNote(vec.signed_note, verifier);
      if (vec.expect_valid === false) await assert.rejects(run, vec.id);
      else assert.equal(await run, vec.text, vec.id);
    }
    if (vec.checkpoint) {
      const cp = parseCheckpoint(vec.text);
      assert.equal(cp.origin, vec.checkpoint.origin);
      assert.equal(cp.size, BigInt(vec.checkpoint.size));
    }
  }
  for (const bad of v.bad_vkeys) {
    await assert.rejects(parseVerifierKey(bad.vkey), bad.why);
  }
  for (const pair of v.key_pairs_only) assert.equal((await parseVerifierKey(pair.vkey)).text, pair.vkey);
});

test("checkpoint bodies: the go.sum golden parses; a 7-byte root hash is refused", async () => {
  const [short, golden] = vectors("signed-note-vectors.json").checkpoint_body_goldens;
  const cp = parseCheckpoint(golden.body);
  assert.deepEqual([cp.origin, cp.size, cp.extensions], [golden.origin, BigInt(golden.size), []]);
  assert.equal(hex(cp.root), hex(await leafHash(utf8(golden.record))));
  assert.throws(() => parseCheckpoint(short.body), /not 32 bytes/);
});

test("coordinates: decimal, DMS, packed DMS and MGRS", () => {
  assert.deepEqual(parseCoordinate("36.20124, 37.16117"), { lat: 36.20124, lon: 37.16117 });
  assert.deepEqual(parseCoordinate("36.20124N 37.16117E"), { lat: 36.20124, lon: 37.16117 });
  assert.deepEqual(parseCoordinate("E37.16117 N36.20124"), { lat: 36.20124, lon: 37.16117 });
  assert.deepEqual(parseCoordinate(`36°12'04.5"N 37°09'40.2"E`), { lat: 36.20125, lon: 37.161167 });
  assert.deepEqual(parseCoordinate("36 12 04.5 N, 37 09 40.2 E"), { lat: 36.20125, lon: 37.161167 });
  assert.deepEqual(parseCoordinate("361204.5N 0370940.2E"), { lat: 36.20125, lon: 37.161167 });
  assert.deepEqual(parseCoordinate("33°30′S 70°40′W"), { lat: -33.5, lon: -70.666667 });
  const mgrs = formatMgrs({ lat: 36.20124, lon: 37.16117 });
  assert.match(mgrs, /^37S [A-Z]{2} \d{5} \d{5}$/);
  const back = parseCoordinate(mgrs);
  assert.ok(Math.abs(back.lat - 36.20124) < 2e-5 && Math.abs(back.lon - 37.16117) < 2e-5, JSON.stringify(back));
  assert.deepEqual(parseCoordinate(mgrs.replace(/ /g, "").toLowerCase()), back);
  assert.equal(formatDms({ lat: 36.5, lon: -0.0000001 }), "36°30′00.0″N 0°00′00.0″W");
  for (const bad of ["", "36.2", "91, 10", "36 N 37", "37SBA 123 4567", "36°75' N 37° E", "hospital"]) {
    assert.throws(() => parseCoordinate(bad), CoordinateError, bad);
  }
});

// The same table the hub's reader is tested against; positions given as UTM are checked in the
// browser test (tests/test_page.py), where pyproj is at hand.
test("coordinates: the shared table of typed positions", () => {
  const table = JSON.parse(readFileSync(join(TESTS, "data/positions.json"), "utf8"));
  for (const c of table.cases) {
    if ("refused" in c) {
      assert.throws(() => parseCoordinate(c.input), (err) => err instanceof CoordinateError && err.message.includes(c.refused), c.input);
    } else {
      const got = parseCoordinate(c.input);
      if ("lat" in c) assert.ok(metres(got, c) <= c.tolerance_m, `${c.input}: ${JSON.stringify(got)}`);
    }
  }
});
