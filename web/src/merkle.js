// RFC 9162 section 2.1 Merkle tree hashing and inclusion proof verification (section 2.1.3.2),
// the same algorithm as src/parley/log/merkle.py. Indices are BigInts: a log may hold more
// entries than JavaScript's 32-bit bitwise operators can count.

import { concat, equal, hex, sha256 } from "./bytes.js";

export const HASH_SIZE = 32;

export class ProofError extends Error {}

export function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), entry));
}

export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

export async function verifyInclusion(leaf, index, size, proof, root) {
  const m = BigInt(index);
  const n = BigInt(size);
  if (m < 0n || m >= n) throw new ProofError(`leaf index ${m} is outside a tree of size ${n}`);
  if (leaf.length !== HASH_SIZE) throw new ProofError("the leaf hash is not 32 bytes");
  proof.forEach((p, i) => {
    if (p.length !== HASH_SIZE) throw new ProofError(`proof hash ${i} is not 32 bytes`);
  });
  let fn = m;
  let sn = n - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new ProofError(`the inclusion proof is longer than a tree of size ${n} needs`);
    if (fn & 1n || fn === sn) {
      r = await nodeHash(p, r);
      // Skip the levels where this node is the last one and has no right sibling.
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError(`the inclusion proof is shorter than a tree of size ${n} needs`);
  if (!equal(r, root)) {
    throw new ProofError(`the inclusion proof leads to root ${hex(r)}, not the checkpoint's ${hex(root)}`);
  }
}
