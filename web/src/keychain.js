// Log key rotation, as src/parley/log/keychain.py: a rotation step is a checkpoint with the line
//   parley-key-rotation/v1 <old verifier key> <new verifier key>
// signed by both keys. Following the steps from the key the party pinned gives every key of
// the log with the checkpoint sizes it may sign: the old key up to the rotation's size, the new
// one from it on. A step signed by the new key alone, by an unrelated key, or a chain that skips
// a step, is refused.

import { NoteError, openNote, parseCheckpoint, parseNote, parseVerifierKey } from "./note.js";

const TAG = "parley-key-rotation/v1";

export class KeyRotationError extends Error {}

async function step(note, origin, number) {
  const where = `key rotation ${number}`;
  let checkpoint;
  try {
    checkpoint = parseCheckpoint(parseNote(note).text);
  } catch (err) {
    throw new KeyRotationError(`${where} is malformed: ${err.message}`);
  }
  const lines = checkpoint.extensions.filter((l) => l.startsWith(`${TAG} `));
  const parts = lines.length === 1 ? lines[0].split(" ") : [];
  if (parts.length !== 3) throw new KeyRotationError(`${where} names no rotation`);
  const [old, next] = [await parseVerifierKey(parts[1]), await parseVerifierKey(parts[2])];
  if (checkpoint.origin !== origin || old.name !== origin || next.name !== origin) {
    throw new KeyRotationError(`${where} is for origin ${checkpoint.origin}, not ${origin}`);
  }
  for (const [key, role] of [[old, "old"], [next, "new"]]) {
    try {
      await openNote(note, key);
    } catch (err) {
      if (!(err instanceof NoteError)) throw err;
      throw new KeyRotationError(`${where} is not signed by its ${role} key ${key.text}: a rotation needs the signatures of both the old and the new key`);
    }
  }
  return { old, next, size: checkpoint.size };
}

// The keys of the log from the pinned one through `rotations` (signed notes, oldest first):
// [{ verifier, first, last }] with `last` null for the key in force.
export async function follow(pinned, rotations) {
  const steps = [];
  for (const [i, note] of rotations.entries()) steps.push(await step(note, pinned.name, i + 1));
  if (!steps.length) return [{ verifier: pinned, first: 0n, last: null }];
  for (let i = 1; i < steps.length; i++) {
    if (steps[i].old.text !== steps[i - 1].next.text) {
      throw new KeyRotationError(`the key history skips a step: rotation ${i + 1} is from ${steps[i].old.text}, but rotation ${i} handed the log to ${steps[i - 1].next.text}`);
    }
    if (steps[i].size < steps[i - 1].size) throw new KeyRotationError(`rotation ${i + 1} is before rotation ${i}`);
  }
  const keys = [steps[0].old, ...steps.map((s) => s.next)];
  if (!keys.some((k) => k.text === pinned.text)) {
    throw new KeyRotationError(`the log's key history does not include the pinned key ${pinned.text}`);
  }
  const sizes = [0n, ...steps.map((s) => s.size)];
  return keys.map((verifier, i) => ({ verifier, first: sizes[i], last: i + 1 < sizes.length ? sizes[i + 1] : null }));
}

// The key of `ring` that signed the checkpoint note and was in force at its size.
export async function signerOf(ring, note) {
  const { text, signatures } = parseNote(note);
  const { size } = parseCheckpoint(text);
  let rotatedAway = null;
  for (const period of ring) {
    if (!signatures.some((s) => s.name === period.verifier.name)) continue;
    try {
      await openNote(note, period.verifier);
    } catch (err) {
      if (err instanceof NoteError) continue;
      throw err;
    }
    if (period.first <= size && (period.last === null || size <= period.last)) return period.verifier;
    rotatedAway = period;
  }
  if (rotatedAway) {
    throw new KeyRotationError(`the checkpoint of size ${size} is signed only by log key ${rotatedAway.verifier.text}, which was rotated away at size ${rotatedAway.last}`);
  }
  return ring[ring.length - 1].verifier; // verifyCheckpoint then says which key is missing
}
