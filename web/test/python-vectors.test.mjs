// The page against what parley's Python code makes: tests/data/web-vectors.json, written by
// tests/data/make_web_vectors.py (tests/test_web_js.py checks the file is what the script
// writes today). Canonical JSON, a party's JWS, receipts and witness policies must agree with
// the hub byte for byte: a page that signs a different canonical form is refused, and one that
// accepts a receipt the Python checker refuses vouches for nothing.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { canonical } from "../src/canonical.js";
import { parseCoordinate } from "../src/coords.js";
import { importKeyFile, importPublicKey, makeDocument, parse, sign, verify } from "../src/jws.js";
import { parsePolicy } from "../src/policy.js";
import { ReceiptError, verifyReceipt } from "../src/receipt.js";
import { metres } from "./distance.mjs";

const TESTS = join(import.meta.dirname, "../../tests");
const V = JSON.parse(readFileSync(join(TESTS, "data/web-vectors.json"), "utf8"));

function fromBits(bits) {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${bits}`));
  return view.getFloat64(0);
}

test("canonical JSON writes every number as Python's rfc8785 does (RFC 8785 appendix B and random doubles)", () => {
  const { numbers, not_numbers: notNumbers } = V.canonical;
  assert.ok(numbers.length > 500);
  for (const n of numbers) assert.equal(canonical(fromBits(n.bits)), n.canonical, n.bits);
  for (const bits of notNumbers) assert.throws(() => canonical(fromBits(bits)), TypeError, bits);
});

test("canonical JSON of documents (RFC 8785 3.2.2 and 3.2.3, the page's records) matches Python", () => {
  for (const d of V.canonical.documents) assert.equal(canonical(JSON.parse(d.json)), d.canonical, d.json);
  for (const text of V.canonical.not_canonical) assert.throws(() => canonical(JSON.parse(text)), TypeError, text);
});

test("a party's key file signs the same compact JWS as parley.parties.jws.sign", async () => {
  const v = V.jws;
  const { key, x } = await importKeyFile(JSON.stringify(v.key_file));
  assert.equal(x, v.key_file.x);
  assert.equal(await sign(v.document, key, v.kid), v.compact);
  const parsed = parse(v.compact);
  assert.deepEqual(parsed.header, { alg: "EdDSA", kid: v.kid, typ: "parley+jws" });
  assert.deepEqual(parsed.payload, v.document);
  const publicKey = await importPublicKey(x);
  assert.equal(await verify(v.compact, publicKey), true);
  for (const [name, forged] of Object.entries(v.forged)) assert.equal(await verify(forged, publicKey), false, name);
  // What the forms send has the fields the hub's document has, in a form it accepts.
  const made = makeDocument(v.document.kind, v.kid, v.document.body, "all", new Date(v.document.client_time));
  assert.deepEqual(Object.keys(made).sort(), Object.keys(v.document).sort());
  assert.equal(made.client_time, v.document.client_time);
  assert.match(made.nonce, /^[A-Za-z0-9_-]{16,128}$/);
  const mine = await sign(made, key, v.kid);
  assert.equal(await verify(mine, publicKey), true);
  assert.equal(new TextDecoder().decode(parse(mine).payloadBytes), canonical(made));
});

test("key files the page must refuse", async () => {
  const v = V.jws;
  const { d, ...publicOnly } = v.key_file;
  assert.ok(d);
  await assert.rejects(importKeyFile(JSON.stringify(publicOnly)), /public key only/);
  await assert.rejects(importKeyFile("{not json"), /not JSON/);
  await assert.rejects(importKeyFile(JSON.stringify({ ...v.key_file, crv: "X25519" })), /not an Ed25519/);
});

test("receipts parley.client.receipts accepts prove the same facts in the page", async () => {
  const r = V.receipts;
  const partyKey = await importPublicKey(r.party_public_key);
  assert.ok(r.good.length >= 4 && r.good.some((g) => g.restricted));
  for (const g of r.good) {
    const got = await verifyReceipt(g.receipt, r.log_key, partyKey);
    const p = g.proves;
    assert.deepEqual(
      { index: got.index, tree_size: Number(got.treeSize), origin: got.origin, received_at: got.receivedAt, kind: got.kind, party: got.party },
      p,
    );
    assert.equal(got.restricted, g.restricted);
    assert.equal(got.signatureChecked, true);
  }
});

test("receipts checked against witness policies reach Python's verdicts and cosignatures", async () => {
  const r = V.receipts;
  let refused = 0;
  for (const g of r.good) {
    for (const [name, want] of Object.entries(g.policies)) {
      const policy = await parsePolicy(r.policies[name]);
      const run = verifyReceipt(g.receipt, r.log_key, null, policy);
      if (want === null) {
        await assert.rejects(run, /lacks the cosignatures/, name);
        refused++;
      } else {
        const got = await run;
        assert.equal(got.policyChecked, true);
        assert.deepEqual(
          got.cosignatures.map((c) => ({ witness: c.witness, key_name: c.keyName, time: c.time })),
          want,
          name,
        );
      }
    }
  }
  assert.ok(refused > 0);
});

test("receipts parley.client.receipts refuses are refused by the page", async () => {
  const r = V.receipts;
  const names = Object.keys(r.bad);
  assert.ok(names.length >= 15);
  for (const name of names) {
    await assert.rejects(verifyReceipt(r.bad[name], r.log_key), ReceiptError, name);
  }
});

// The shared table's MGRS cases: pyproj reads their expected UTM easting and northing.
test("coordinates: MGRS cases of the shared table land where pyproj puts them", () => {
  assert.ok(V.utm_positions.length > 0);
  for (const c of V.utm_positions) {
    const got = parseCoordinate(c.input);
    const m = metres(got, c);
    assert.ok(m <= c.tolerance_m, `${c.input}: ${JSON.stringify(got)} is ${m.toFixed(2)} m from ${c.lat}, ${c.lon}`);
  }
});
