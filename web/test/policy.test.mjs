// The page's witness policy code (policy.js) and cosignature checks (note.js), with keys made
// here: a log signs a checkpoint, witnesses cosign it (c2sp.org/tlog-cosignature), and the
// policy decides. tests/test_verify_policy.py checks the Python side against a live hub.

import assert from "node:assert/strict";
import { test } from "node:test";

import { base64, concat, utf8 } from "../src/bytes.js";
import { keyId, parseVerifierKey } from "../src/note.js";
import { PolicyError, checkPolicy, needs, parsePolicy } from "../src/policy.js";

const ORIGIN = "log.test/policy";
const TEXT = `${ORIGIN}\n5\n${base64(new Uint8Array(32))}\n`;

async function makeKey(name, type) {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const id = await keyId(name, type, pub);
  const vkey = `${name}+${Buffer.from(id).toString("hex")}+${base64(concat(Uint8Array.of(type), pub))}`;
  return { name, id, vkey, privateKey: pair.privateKey };
}

async function line(key, message, prefix = new Uint8Array()) {
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, message));
  return `\u2014 ${key.name} ${base64(concat(key.id, prefix, sig))}\n`;
}

async function cosign(witness, time, text = TEXT) {
  const stamp = new Uint8Array(8);
  new DataView(stamp.buffer).setBigUint64(0, BigInt(time));
  return line(witness, utf8(`cosignature/v1\ntime ${time}\n${text}`), stamp);
}

const log = await makeKey(ORIGIN, 0x01);
const witnesses = await Promise.all([0, 1, 2].map((i) => makeKey(`witness.test/w${i}`, 0x04)));
const logVerifier = await parseVerifierKey(log.vkey);
const signed = `${TEXT}\n${await line(log, utf8(TEXT))}`;
const policyText = (quorumLines) =>
  `log ${log.vkey}\n` + witnesses.map((w, i) => `witness w${i} ${w.vkey} http://127.0.0.1:${9000 + i}/\n`).join("") + quorumLines;

test("a checkpoint with two of three cosignatures meets a 2-of-3 policy and names them", async () => {
  const policy = await parsePolicy(policyText("group two 2 w0 w1 w2 # any two\nquorum two\n"));
  const note = signed + (await cosign(witnesses[0], 1700000000)) + (await cosign(witnesses[2], 1700000001));
  const { checkpoint, cosignatures } = await checkPolicy(policy, note, logVerifier);
  assert.equal(checkpoint.size, 5n);
  assert.deepEqual(
    cosignatures.map((c) => [c.witness, c.keyName, c.time]),
    [
      ["w0", "witness.test/w0", 1700000000],
      ["w2", "witness.test/w2", 1700000001],
    ],
  );
});

test("a checkpoint short of the quorum is refused, naming who cosigned and what is needed", async () => {
  const policy = await parsePolicy(policyText("group all3 all w0 w1 w2\nquorum all3\n"));
  const note = signed + (await cosign(witnesses[1], 1700000000));
  await assert.rejects(checkPolicy(policy, note, logVerifier), (err) => {
    assert.ok(err instanceof PolicyError);
    assert.match(err.message, /lacks the cosignatures/);
    assert.match(err.message, /valid cosignatures from: w1$/);
    assert.match(err.message, /all of 3 in group all3/);
    return true;
  });
  await assert.rejects(checkPolicy(policy, signed, logVerifier), /none of the policy's witnesses/);
});

test("a forged cosignature, a cosignature over another checkpoint, and another log key are refused", async () => {
  const policy = await parsePolicy(policyText("quorum w0\n"));
  const good = await cosign(witnesses[0], 1700000000);
  const at = good.length - 12; // inside the signature, clear of base64 padding
  const forged = good.slice(0, at) + (good[at] === "A" ? "B" : "A") + good.slice(at + 1);
  await assert.rejects(checkPolicy(policy, signed + forged, logVerifier), /does not verify/);
  const other = await cosign(witnesses[0], 1700000000, `${ORIGIN}\n4\n${base64(new Uint8Array(32))}\n`);
  await assert.rejects(checkPolicy(policy, signed + other, logVerifier), /does not verify/);
  const stranger = await parseVerifierKey((await makeKey(ORIGIN, 0x01)).vkey);
  await assert.rejects(checkPolicy(policy, signed + good, stranger), /not the log key given/);
  const { cosignatures } = await checkPolicy(policy, signed + good, logVerifier);
  assert.equal(cosignatures.length, 1);
});

test("quorum none accepts the log's signature alone; bad policies are refused with the line", async () => {
  const none = await parsePolicy(`log ${log.vkey}\nquorum none\n`);
  assert.equal(needs(none), "no cosignature");
  assert.deepEqual((await checkPolicy(none, signed, logVerifier)).cosignatures, []);
  for (const [text, says] of [
    ["witness w0 nope+1234abcd+AAAA\nquorum w0\n", /line 1: witness "w0"/],
    [`witness w0 ${witnesses[0].vkey}\n`, /no quorum line/],
    [`witness w0 ${witnesses[0].vkey}\ngroup g 3 w0\nquorum g\n`, /a number from 1 to 1/],
    ["quorum w9\n", /line 1: quorum names unknown "w9"/],
    [`witness w0 ${log.vkey}\nquorum w0\n`, /not a cosignature \(type 0x04\) key/],
  ]) {
    await assert.rejects(parsePolicy(text), says);
  }
});
