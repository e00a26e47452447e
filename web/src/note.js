// C2SP signed notes (c2sp.org/signed-note) and checkpoints (c2sp.org/tlog-checkpoint), as
// docs/log.md describes them and src/parley/log/note.py and checkpoint.py implement them.
// The log's signature is a plain Ed25519 one (type 0x01); witnesses' cosignatures are
// c2sp.org/tlog-cosignature ones (type 0x04, checked by openCosignatures). Lines by keys
// nobody asked about are skipped, as the spec says.

import { concat, equal, fromBase64, hex, sha256, utf8 } from "./bytes.js";

export class NoteError extends Error {}

const ED25519 = 0x01;
const COSIGNATURE_V1 = 0x04;
const MAX_SIGNATURES = 100;
const SIG_PREFIX = "\u2014 "; // an em dash and a space
const MAX_SIZE = 2n ** 63n - 1n;

function strictBase64(text, what) {
  try {
    return fromBase64(text, true);
  } catch (err) {
    throw new NoteError(`${what} is ${err.message}`);
  }
}

function checkName(name) {
  if (!name) throw new NoteError("a key name is empty");
  if (name.includes("+") || /[\s\x00-\x1f]/u.test(name)) {
    throw new NoteError(`key name ${JSON.stringify(name)} holds a space, plus sign or control character`);
  }
}

export async function keyId(name, type, publicKey) {
  const digest = await sha256(concat(utf8(name), Uint8Array.of(0x0a, type), publicKey));
  return digest.slice(0, 4);
}

// A verifier key: <name>+<hex key ID>+base64(0x01 || 32-byte Ed25519 public key).
export async function parseVerifierKey(text) {
  return parseKey(text, ED25519, "an Ed25519 (type 0x01) key");
}

// A witness's cosignature verifier key: the same with type 0x04 (c2sp.org/tlog-cosignature).
export async function parseCosignatureVerifierKey(text) {
  return parseKey(text, COSIGNATURE_V1, "a cosignature (type 0x04) key");
}

async function parseKey(text, type, what) {
  const vkey = String(text).trim();
  const parts = vkey.split("+");
  // The base64 part may itself hold plus signs; the name and the key ID cannot.
  if (parts.length < 3) throw new NoteError("a verifier key is name+keyid+key");
  const [name, idHex] = parts;
  const raw = strictBase64(parts.slice(2).join("+"), "the verifier key");
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError("the verifier key ID is not 8 hex digits");
  if (raw.length !== 33 || raw[0] !== type) throw new NoteError(`the verifier key is not ${what}`);
  const publicKey = raw.slice(1);
  const id = await keyId(name, type, publicKey);
  if (hex(id) !== idHex) throw new NoteError(`the verifier key ID does not match the key for ${name}`);
  const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return { name, id, key, text: vkey };
}

export function parseNote(note) {
  if (/[\x00-\x09\x0b-\x1f]/.test(note)) throw new NoteError("the note holds a control character");
  // The text may hold blank lines itself; the signatures follow the last one.
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("the note has no blank line before its signatures");
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block) throw new NoteError("the note has no signature lines");
  if (!block.endsWith("\n")) throw new NoteError("the note's last signature line has no newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new NoteError("the note has too many signatures");
  const signatures = lines.map((line, i) => {
    if (!line.startsWith(SIG_PREFIX)) {
      throw new NoteError(`signature line ${i + 1} does not start with an em dash and a space`);
    }
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(" ");
    if (space < 0) throw new NoteError(`signature line ${i + 1} has no space after the key name`);
    const name = rest.slice(0, space);
    checkName(name);
    const raw = strictBase64(rest.slice(space + 1), `signature line ${i + 1}`);
    if (raw.length < 5) throw new NoteError(`signature line ${i + 1} is too short`);
    return { name, id: raw.slice(0, 4), signature: raw.slice(4) };
  });
  return { text, signatures };
}

// Verify the note with one known key; answer its text. A known key's signature that fails
// rejects the note, and so does a note with no signature by the known key.
export async function openNote(note, verifier) {
  const { text, signatures } = parseNote(note);
  let verified = false;
  for (const s of signatures) {
    if (s.name !== verifier.name || !equal(s.id, verifier.id)) continue;
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, verifier.key, s.signature, utf8(text));
    if (!ok) throw new NoteError(`the signature by ${s.name} does not verify`);
    verified = true;
  }
  if (!verified) throw new NoteError(`the note carries no signature by ${verifier.name}`);
  return text;
}

// The cosignatures in the note by the given witnesses (cosignature verifier keys), each once:
// [{ verifier, time }] with `time` the witness's timestamp in POSIX seconds. A known witness's
// cosignature that fails rejects the note (as openNote does for the log's signature).
export async function openCosignatures(note, witnesses) {
  const { text, signatures } = parseNote(note);
  const found = [];
  const seen = new Set();
  for (const s of signatures) {
    const w = witnesses.find((v) => v.name === s.name && equal(v.id, s.id));
    const who = `${s.name}+${hex(s.id)}`;
    if (!w || seen.has(who)) continue;
    if (s.signature.length !== 72) throw new NoteError(`the cosignature by ${s.name} is not 72 bytes`);
    let time = 0n;
    for (const b of s.signature.slice(0, 8)) time = (time << 8n) | BigInt(b);
    const message = concat(utf8(`cosignature/v1\ntime ${time}\n`), utf8(text));
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, w.key, s.signature.slice(8), message);
    if (!ok) throw new NoteError(`the cosignature by ${s.name} does not verify`);
    seen.add(who);
    found.push({ verifier: w, time: Number(time) });
  }
  return found;
}

export function parseCheckpoint(text) {
  if (!text.endsWith("\n")) throw new NoteError("the checkpoint does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new NoteError("a checkpoint needs origin, size and root hash lines");
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!origin) throw new NoteError("the checkpoint origin is empty");
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new NoteError("the checkpoint size is not a number");
  const size = BigInt(sizeText);
  if (size > MAX_SIZE) throw new NoteError("the checkpoint size is out of range");
  const root = strictBase64(rootText, "the checkpoint root hash");
  if (root.length !== 32) throw new NoteError("the checkpoint root hash is not 32 bytes");
  if (extensions.some((l) => !l)) throw new NoteError("a checkpoint extension line is empty");
  return { origin, size, root, extensions };
}

// A checkpoint only counts when the log key signed it and it names the expected origin:
// a valid signature over another log's checkpoint says nothing about this one.
export async function verifyCheckpoint(note, verifier, origin = verifier.name) {
  const checkpoint = parseCheckpoint(await openNote(note, verifier));
  if (checkpoint.origin !== origin) {
    throw new NoteError(`the checkpoint is for origin ${checkpoint.origin}, not ${origin}`);
  }
  return checkpoint;
}
