// The page's evidence check (web/src/evidence.js) against a file parley made and its Python
// checker judged (tests/data/evidence-sample.json, written by tests/data/make_evidence_sample.py):
// the same lines as `parley verify evidence`, the same items failing when a byte is flipped, an
// item or proof dropped, an item added, a saved checkpoint from another history, and a witness
// policy's quorum met or missed.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { base64, concat, fromBase64, utf8 } from "../src/bytes.js";
import { EvidenceError, checkEvidence, line, load, point, textLines, verifyConsistency } from "../src/evidence.js";
import { keyId } from "../src/note.js";
import { parsePolicy } from "../src/policy.js";

const SAMPLE = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "tests", "data", "evidence-sample.json"), "utf8"));
const KEY = SAMPLE.log_key;
const FILE = SAMPLE.file;
// The CLI's lines under an event start with 24 spaces; the rest are the timeline itself.
const MAIN = SAMPLE.lines.filter((l) => !l.startsWith(" ".repeat(24)));

const failing = (report) => [...report.checks, ...report.timeline].filter((c) => !c.ok);
const text = (data) => JSON.stringify(data);

test("the sample verifies and its lines are the CLI's", async () => {
  const report = await checkEvidence(FILE, KEY);
  assert.deepEqual(report.failures, []);
  assert.equal(report.ok, true);
  const lines = textLines(report);
  assert.deepEqual(
    lines.filter((l) => !l.detail).map((l) => l.text),
    MAIN,
  );
  assert.equal(MAIN.at(-1), "all verified");
  assert.ok(MAIN.some((l) => l.includes("✓ the hub delivered alert")));
  assert.ok(MAIN.some((l) => l.includes("acknowledged alert")));
});

test("the detail lines are the CLI's, but the CLI names the nearest town after a position", async () => {
  const report = await checkEvidence(FILE, KEY);
  const mine = textLines(report).filter((l) => l.detail).map((l) => l.text);
  const theirs = SAMPLE.lines.filter((l) => l.startsWith(" ".repeat(24)));
  assert.equal(mine.length, theirs.length);
  for (const [i, l] of mine.entries()) {
    const at = l.match(/^(.* at \d+\.\d{5}, \d+\.\d{5} · \S+ \S+ · \d+[A-Z] [A-Z]{2} \d{5} \d{5})(.*)$/);
    if (at) assert.ok(theirs[i].startsWith(`${at[1]} · `) && theirs[i].endsWith(at[2]), `${l} / ${theirs[i]}`);
    else assert.equal(l, theirs[i]);
  }
});

test("every flipped byte is caught, and the same items fail as in the Python checker", async () => {
  const raw = utf8(FILE);
  assert.ok(SAMPLE.flips.length >= 40);
  for (const flip of SAMPLE.flips) {
    const bytes = raw.slice();
    bytes[flip.position] ^= 0x01;
    const flipped = new TextDecoder().decode(bytes);
    if (flip.error) {
      await assert.rejects(checkEvidence(flipped, KEY), EvidenceError, `byte ${flip.position}`);
      continue;
    }
    const report = await checkEvidence(flipped, KEY);
    assert.equal(report.ok, false, `byte ${flip.position} went unseen`);
    assert.deepEqual(
      failing(report).map((c) => c.label),
      flip.labels,
      `byte ${flip.position}`,
    );
  }
});

test("a dropped item is named as missing", async () => {
  const data = load(FILE);
  for (const [i, receipt] of data.items.entries()) {
    const dropped = { ...data, items: data.items.filter((_, j) => j !== i) };
    const report = await checkEvidence(text(dropped), KEY);
    assert.ok(
      report.failures.some((f) => f.includes(receipt.submission.id) && f.includes("missing from the file")),
      report.failures.join("\n"),
    );
  }
});

test("a dropped consistency proof is named by its size", async () => {
  const data = load(FILE);
  assert.ok(data.consistency.length >= 1);
  for (const [i, proof] of data.consistency.entries()) {
    const dropped = { ...data, consistency: data.consistency.filter((_, j) => j !== i) };
    const report = await checkEvidence(text(dropped), KEY);
    assert.ok(report.failures.some((f) => f.includes(`size ${proof.from}`)), report.failures.join("\n"));
  }
});

test("an item the manifest does not list is refused", async () => {
  const data = load(FILE);
  const extra = structuredClone(data.items[0]);
  extra.submission.id = "00000000-0000-4000-8000-000000000000";
  const report = await checkEvidence(text({ ...data, items: [...data.items, extra] }), KEY);
  assert.deepEqual(report.failures, [
    "item 00000000-0000-4000-8000-000000000000: in the file but not in the hub's manifest",
    `the items: the file holds ${data.items.length + 1}, the manifest ${data.items.length}`,
  ]);
});

test("two items swapped in the file still verify: order is the manifest's, not the file's", async () => {
  const data = load(FILE);
  const swapped = { ...data, items: [data.items[1], data.items[0], ...data.items.slice(2)] };
  assert.equal((await checkEvidence(text(swapped), KEY)).ok, true);
});

test("an item's receipt under another item's manifest entry fails naming that item", async () => {
  const data = load(FILE);
  const items = structuredClone(data.items);
  items[1].index = items[2].index;
  const report = await checkEvidence(text({ ...data, items }), KEY);
  const failed = failing(report);
  assert.equal(failed.length, 1);
  assert.match(failed[0].label, /^item 2 \(/);
  assert.match(failed[0].failure, /inclusion proof|log index/);
});

test("another log's key, or a broken one, stops the check at the manifest", async () => {
  const other = KEY.replace(/^[^+]+/, "other.test/log");
  await assert.rejects(checkEvidence(FILE, other), EvidenceError);
  await assert.rejects(checkEvidence(FILE, "not a key"), /the log key/);
  await assert.rejects(checkEvidence("{}", KEY), /unexpected or missing fields/);
  await assert.rejects(checkEvidence("not json", KEY), /the file is not JSON/);
});

test("a checkpoint the reader saved: consistent, or from another history", async () => {
  const data = load(FILE);
  const first = data.items[0];
  const good = await checkEvidence(FILE, KEY, null, [first.checkpoint]);
  assert.equal(good.ok, true);
  assert.match(good.checks.at(-1).event, /^consistent with the latest checkpoint/);
  const forged = first.checkpoint.replace(/\n[A-Za-z0-9+/]{43}=\n/, `\n${base64(new Uint8Array(32).fill(7))}\n`);
  const bad = await checkEvidence(FILE, KEY, null, [forged]);
  assert.equal(bad.ok, false);
  assert.match(bad.failures[0], /^the checkpoint you saved: it does not verify with the log key/);
});

async function witness(name) {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const id = await keyId(name, 0x04, pub);
  return { name, id, vkey: `${name}+${Buffer.from(id).toString("hex")}+${base64(concat(Uint8Array.of(0x04), pub))}`, key: pair.privateKey };
}

async function cosign(w, note) {
  const body = note.slice(0, note.lastIndexOf("\n\n") + 1);
  const stamp = new Uint8Array(8);
  new DataView(stamp.buffer).setBigUint64(0, 1_700_000_000n);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, w.key, concat(utf8("cosignature/v1\ntime 1700000000\n"), utf8(body))));
  return `${note}\u2014 ${w.name} ${base64(concat(w.id, stamp, sig))}\n`;
}

test("a witness policy: its quorum met by cosignatures, or missed", async () => {
  const w = await witness("witness.test/w1");
  const policy = await parsePolicy(`witness w1 ${w.vkey}\nquorum w1\n`);
  // Without the cosignatures the policy's quorum is missed on every checkpoint.
  const missed = await checkEvidence(FILE, KEY, policy);
  assert.equal(missed.ok, false);
  assert.match(missed.checks[0].failure, /lacks the cosignatures/);
  const data = load(FILE);
  const cosigned = {
    ...data,
    checkpoint: await cosign(w, data.checkpoint),
    items: await Promise.all(data.items.map(async (r) => ({ ...r, checkpoint: await cosign(w, r.checkpoint) }))),
  };
  const met = await checkEvidence(text(cosigned), KEY, policy);
  assert.deepEqual(met.failures, []);
  assert.match(met.checks[0].event, /cosigned by witness\.test\/w1$/);
  // Without the policy, a signature line by a key the file does not name is refused.
  const unknown = await checkEvidence(text(cosigned), KEY);
  assert.match(unknown.checks[0].failure, /a signature line by 'witness\.test\/w1' is by no key the file names/);
});

test("consistency proofs: the sample's verify, and a changed hash or size does not", async () => {
  const data = load(FILE);
  const latestRoot = fromBase64(data.checkpoint.split("\n")[2]);
  for (const p of data.consistency) {
    const hashes = p.proof.map((h) => fromBase64(h));
    await verifyConsistency(p.from, p.to, fromBase64(p.old_root), latestRoot, hashes);
    await assert.rejects(verifyConsistency(p.from, p.to, new Uint8Array(32), latestRoot, hashes), EvidenceError);
    await assert.rejects(verifyConsistency(p.from + 1, p.to, fromBase64(p.old_root), latestRoot, hashes), EvidenceError);
  }
  await assert.rejects(verifyConsistency(0, 3, latestRoot, latestRoot, []), /empty tree/);
  await assert.rejects(verifyConsistency(4, 3, latestRoot, latestRoot, []), /shrank/);
});

test("a line reads as the CLI writes it: time, mark, event or failure", () => {
  const at = "2026-11-30T00:06:36.528524Z";
  assert.equal(line({ ok: true, at, event: "x" }), `${at}  ✓ x`);
  assert.equal(line({ ok: false, at, label: "item 1", failure: "bad" }), `${at}  ✗ item 1: bad`);
  assert.equal(line({ ok: true, at: null, label: "l", event: "e" }), "✓ l: e");
  assert.equal(line({ ok: false, at: "short", label: "l", failure: "f" }), `short${" ".repeat(15)}  ✗ l: f`);
});

test("a polygon's position is its centroid, as shapely's (holes either way round)", () => {
  // shapely.geometry.shape(g).centroid in Python: (35.19025974025974, 36.22835497835497).
  const g = {
    type: "Polygon",
    coordinates: [
      [[36.1, 35.0], [36.4, 35.05], [36.35, 35.4], [36.05, 35.3], [36.1, 35.0]],
      [[36.2, 35.1], [36.2, 35.2], [36.3, 35.2], [36.2, 35.1]],
    ],
  };
  const flipped = { ...g, coordinates: [[...g.coordinates[0]].reverse(), [...g.coordinates[1]].reverse()] };
  for (const shape of [g, flipped]) {
    const c = point(shape);
    assert.ok(Math.abs(c.lat - 35.19025974025974) < 1e-9 && Math.abs(c.lon - 36.22835497835497) < 1e-9, JSON.stringify(c));
  }
  assert.deepEqual(point({ type: "Point", coordinates: [37.1, 36.2] }), { lat: 36.2, lon: 37.1 });
  assert.equal(point({ type: "LineString", coordinates: [] }), null);
});
