// Signing a parley document in the browser, exactly as src/parley/parties/jws.py does:
//   base64url(JCS(header)) "." base64url(JCS(document)) "." base64url(Ed25519 signature)
// with header {"alg":"EdDSA","kid":<party>,"typ":"parley+jws"}. The private key is a
// non-extractable WebCrypto key: the page can sign with it but can never read it back out,
// and it is never sent anywhere.

import { base64url, fromBase64url, fromUtf8, utf8 } from "./bytes.js";
import { canonical } from "./canonical.js";

export class KeyFileError extends Error {}

// A key file is a JSON Web Key {kty: "OKP", crv: "Ed25519", x, d} (RFC 8037).
export async function importKeyFile(text) {
  let jwk;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new KeyFileError("the key file is not JSON; choose the party's .key.json file");
  }
  if (!jwk || jwk.kty !== "OKP" || jwk.crv !== "Ed25519") {
    throw new KeyFileError("the key file is not an Ed25519 JSON Web Key (kty OKP, crv Ed25519)");
  }
  if (typeof jwk.d !== "string") {
    throw new KeyFileError("the key file holds a public key only; signing needs the private key");
  }
  if (!crypto?.subtle) {
    throw new KeyFileError(
      "this browser offers no WebCrypto here: open the page over HTTPS or on localhost",
    );
  }
  let key;
  try {
    key = await crypto.subtle.importKey(
      "jwk",
      { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d },
      { name: "Ed25519" },
      false, // not extractable: nothing on the page can read the private key again
      ["sign"],
    );
  } catch (err) {
    throw new KeyFileError(`this browser cannot use the key (Ed25519 in WebCrypto): ${err.message}`);
  }
  return { key, x: jwk.x };
}

export async function importPublicKey(x) {
  return crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x },
    { name: "Ed25519" },
    false,
    ["verify"],
  );
}

function randomNonce() {
  // 24 random bytes are 32 base64url characters: within the hub's 16 to 128.
  return base64url(crypto.getRandomValues(new Uint8Array(24)));
}

// `now` is the time to claim as client_time. The hub refuses one more than 300 s from its own
// clock, so the caller may pass a time corrected by the offset it measured from the hub.
export function makeDocument(kind, party, body, audience = "all", now = new Date()) {
  return {
    kind,
    party,
    client_time: now.toISOString(),
    nonce: randomNonce(),
    audience,
    body,
  };
}

export async function sign(document, key, kid) {
  const header = canonical({ alg: "EdDSA", kid, typ: "parley+jws" });
  const input = `${base64url(utf8(header))}.${base64url(utf8(canonical(document)))}`;
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, utf8(input));
  return `${input}.${base64url(new Uint8Array(signature))}`;
}

export function parse(compact) {
  const parts = String(compact).split(".");
  if (parts.length !== 3) throw new Error("a compact JWS has three dot-separated parts");
  const header = JSON.parse(fromUtf8(fromBase64url(parts[0])));
  const payloadBytes = fromBase64url(parts[1]);
  const payload = JSON.parse(fromUtf8(payloadBytes));
  return {
    header,
    payload,
    payloadBytes,
    signature: fromBase64url(parts[2]),
    signingInput: utf8(`${parts[0]}.${parts[1]}`),
  };
}

export async function verify(compact, publicKey) {
  const parsed = parse(compact);
  if (parsed.header.alg !== "EdDSA") return false;
  return crypto.subtle.verify({ name: "Ed25519" }, publicKey, parsed.signature, parsed.signingInput);
}
