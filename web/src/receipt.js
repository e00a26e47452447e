// Checking a receipt in the browser, as src/parley/receipts.py does offline: with nothing but
// the log's verifier key, prove that the hub logged exactly these signed bytes at that index.
//   1. the checkpoint is signed by the log key and names its origin;
//   2. the entry sits at `index` in the tree the checkpoint commits to (RFC 9162);
//   3. the entry commits to the SHA-256 of the JWS text (or a salted SHA-256 for a record
//      shared with a list of parties);
//   4. optionally, the party's key verifies the JWS signature;
//   5. optionally, the checkpoint carries the cosignatures a witness policy's quorum needs.
// After a rotation of the log key, the checkpoint's key must descend from the given one through
// the log's key history (keychain.js): the receipt's own `key_rotations`, or `rotations` given.

import { concat, fromBase64, fromHex, fromUtf8, hex, sha256, utf8 } from "./bytes.js";
import * as jws from "./jws.js";
import { follow, signerOf } from "./keychain.js";
import { leafHash, verifyInclusion } from "./merkle.js";
import { parseVerifierKey, verifyCheckpoint } from "./note.js";
import { checkPolicy } from "./policy.js";

export const RECEIPT_VERSION = "parley-receipt/1";

export class ReceiptError extends Error {}

function field(receipt, name, type) {
  const value = receipt?.[name];
  const ok = type === "array" ? Array.isArray(value) : typeof value === type && value !== null;
  if (!ok) throw new ReceiptError(`the receipt's ${JSON.stringify(name)} is missing or not a ${type}`);
  return value;
}

// Canonical base64 only, as the evidence check reads it: a lenient decoder reads a changed spare
// bit before the padding as the same bytes, so a flipped byte of a receipt would go unseen.
function b64(text, what) {
  try {
    return fromBase64(String(text), true);
  } catch {
    throw new ReceiptError(`the receipt's ${what} is not base64`);
  }
}

// `verifierKey` is the log's key text; `partyKey`, if given, a WebCrypto public key; `policy`,
// if given, a parsed witness policy (policy.js); `rotations`, the hub's key history.
export async function verifyReceipt(receipt, verifierKey, partyKey = null, policy = null, rotations = []) {
  try {
    return await check(receipt, verifierKey, partyKey, policy, rotations);
  } catch (err) {
    if (err instanceof ReceiptError) throw err;
    throw new ReceiptError(err.message);
  }
}

async function check(receipt, verifierKey, partyKey, policy, rotations) {
  if (receipt?.version !== RECEIPT_VERSION) throw new ReceiptError(`not a ${RECEIPT_VERSION} receipt`);
  const pinned = await parseVerifierKey(verifierKey);
  const signed = field(receipt, "checkpoint", "string");
  const carried = Array.isArray(receipt.key_rotations) ? receipt.key_rotations : [];
  const history = rotations.length >= carried.length ? rotations : carried;
  const verifier = await signerOf(await follow(pinned, history), signed);
  let checkpoint;
  let cosignatures = [];
  if (policy) ({ checkpoint, cosignatures } = await checkPolicy(policy, signed, verifier));
  else checkpoint = await verifyCheckpoint(signed, verifier);
  const index = field(receipt, "index", "number");
  if (!Number.isSafeInteger(index) || index < 0) throw new ReceiptError("the receipt's index is not an entry index");
  const entry = b64(field(receipt, "entry", "string"), "entry");
  const proof = field(receipt, "inclusion_proof", "array").map((h) => b64(h, "inclusion proof"));
  await verifyInclusion(await leafHash(entry), index, checkpoint.size, proof, checkpoint.root);
  const submission = field(receipt, "submission", "object");
  const compact = field(submission, "jws", "string");
  const committed = await commitment(entry, compact, submission);
  const parsed = jws.parse(compact);
  let signatureChecked = false;
  if (partyKey) {
    if (!(await jws.verify(compact, partyKey))) {
      throw new ReceiptError(`the signature does not verify with ${parsed.payload.party}'s key`);
    }
    signatureChecked = true;
  }
  return {
    index,
    treeSize: checkpoint.size,
    origin: checkpoint.origin,
    receivedAt: committed.received_at,
    kind: parsed.payload.kind,
    party: parsed.payload.party,
    id: submission.id,
    restricted: !("jws_sha256" in committed),
    signatureChecked,
    policyChecked: Boolean(policy),
    cosignatures,
    logKey: verifier.text,
  };
}

async function commitment(entryBytes, compact, submission) {
  let entry;
  try {
    entry = JSON.parse(fromUtf8(entryBytes));
  } catch {
    throw new ReceiptError("the log entry is not JSON");
  }
  if (!entry || entry.v !== 1) throw new ReceiptError("the log entry is not a version 1 parley entry");
  const data = utf8(compact);
  if ("jws_sha256" in entry) {
    if (hex(await sha256(data)) !== entry.jws_sha256) {
      throw new ReceiptError("the log entry does not commit to these signed bytes");
    }
    if (entry.id !== submission.id) throw new ReceiptError("the log entry names another submission");
  } else {
    if (typeof submission.salt !== "string") throw new ReceiptError("a restricted record's receipt needs its salt");
    let salt;
    try {
      salt = fromHex(submission.salt);
    } catch {
      throw new ReceiptError("the salt is not hex");
    }
    if (hex(await sha256(concat(salt, data))) !== entry.commitment) {
      throw new ReceiptError("the log entry does not commit to these signed bytes");
    }
  }
  return entry;
}
