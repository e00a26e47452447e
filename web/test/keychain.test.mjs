// The page follows a log key rotation as src/parley/log/keychain.py does (tests/
// test_log_key_rotation.py checks the Python side against a hub): a chain of steps each signed
// by the old and the new key, from the key the party pinned; a forged or skipping chain, and
// a rotated-away key signing past its rotation, are refused.

import assert from "node:assert/strict";
import { test } from "node:test";

import { base64, concat, hex, utf8 } from "../src/bytes.js";
import { follow, KeyRotationError, signerOf } from "../src/keychain.js";
import { keyId, parseVerifierKey } from "../src/note.js";

const ORIGIN = "rotation.test/log";

async function signer() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const id = await keyId(ORIGIN, 0x01, raw);
  const text = `${ORIGIN}+${hex(id)}+${base64(concat(Uint8Array.of(0x01), raw))}`;
  return { id, text, key: pair.privateKey, verifier: await parseVerifierKey(text) };
}

async function sign(body, ...signers) {
  let lines = "";
  for (const s of signers) {
    const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, s.key, utf8(body)));
    lines += `\u2014 ${ORIGIN} ${base64(concat(s.id, sig))}\n`;
  }
  return `${body}\n${lines}`;
}

const ROOT = base64(new Uint8Array(32).fill(7));
const checkpoint = (size, ...ext) => [ORIGIN, String(size), ROOT, ...ext].map((l) => `${l}\n`).join("");
const rotation = (size, a, b) => checkpoint(size, `parley-key-rotation/v1 ${a.text} ${b.text}`);

test("a party pinned at the first key follows two rotations, and old checkpoints still count", async () => {
  const [a, b, c] = [await signer(), await signer(), await signer()];
  const chain = [await sign(rotation(3, a, b), a, b), await sign(rotation(5, b, c), b, c)];
  const ring = await follow(a.verifier, chain);
  assert.equal((await signerOf(ring, await sign(checkpoint(6), c))).text, c.text);
  assert.equal((await signerOf(ring, await sign(checkpoint(2), a))).text, a.text);
  assert.equal((await signerOf(ring, await sign(checkpoint(4), b))).text, b.text);
  await assert.rejects(signerOf(ring, await sign(checkpoint(4), a)), /rotated away at size 3/);
  // Pinned at the newest key, the chain vouches for the older ones too.
  const fromC = await follow(c.verifier, chain);
  assert.equal((await signerOf(fromC, await sign(checkpoint(2), a))).text, a.text);
});

test("a forged rotation is refused", async () => {
  const [a, b, c, x] = [await signer(), await signer(), await signer(), await signer()];
  await assert.rejects(follow(a.verifier, [await sign(rotation(3, a, b), b)]), /not signed by its old key/);
  await assert.rejects(follow(a.verifier, [await sign(rotation(3, a, b), x, b)]), /not signed by its old key/);
  await assert.rejects(follow(a.verifier, [await sign(rotation(3, a, b), a)]), /not signed by its new key/);
  const ab = await sign(rotation(3, a, b), a, b);
  await assert.rejects(follow(a.verifier, [ab, await sign(rotation(5, x, c), x, c)]), /skips a step/);
  await assert.rejects(follow(x.verifier, [ab]), KeyRotationError);
});
