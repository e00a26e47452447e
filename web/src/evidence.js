// Checking a parley-evidence/1 file in the browser, offline, as src/parley/client/evidence_check.py
// and evidence_timeline.py do (docs/evidence.md): the manifest's signature by the log key, the
// latest checkpoint and every signature line on it, the consistency proofs, each item's receipt
// and author signature, receipt / signed record / manifest agreement, and nothing missing or
// extra. The answer is the CLI's: checks and a timeline of { label, ok, failure, at, event,
// details, data }, and textLines() gives `parley verify evidence`'s lines. No DOM, no network.

import { equal, fromBase64, fromUtf8, hex } from "./bytes.js";
import { formatDms, formatLatLon, formatMgrs } from "./coords.js";
import * as jws from "./jws.js";
import { ProofError, nodeHash } from "./merkle.js";
import { NoteError, openCosignatures, parseCosignatureVerifierKey, parseNote, parseVerifierKey, verifyCheckpoint } from "./note.js";
import { PolicyError, checkPolicy } from "./policy.js";
import { ReceiptError, verifyReceipt } from "./receipt.js";

export const FORMAT = "parley-evidence/1";
export const MANIFEST_KIND = "evidence-manifest";
export const OK = "✓";
export const FAIL = "✗";
const FILE_KEYS = ["format", "manifest", "items", "checkpoint", "consistency"];
const MANIFEST_KEYS = ["format", "subject", "made_for", "made_at", "origin", "items", "conflicts", "alerts", "parties", "latest_size", "proofs", "witnesses"];
const RECEIPT_KEYS = ["version", "origin", "index", "tree_size", "entry", "inclusion_proof", "checkpoint", "submission"];
const SUBMISSION_KEYS = ["id", "kind", "party", "received_at", "jws", "salt"];
const PROOF_KEYS = ["from", "old_root", "to", "proof"];
const NOTIFIED = { site: "notified", movement: "notified", operation: "notified", incident: "reported" };
const SIDES = ["operation", "site", "area", "movement", "other_operation"];

// The file cannot be read as evidence at all (not the failure of one item).
export class EvidenceError extends Error {}

// Failures that say what is wrong in words; anything else is a malformed value.
const KNOWN = [EvidenceError, ReceiptError, NoteError, PolicyError, ProofError];

// How Python writes a value into a message (str()): the lines must read as the CLI's.
function py(value) {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  return String(value);
}

function checked(label, ok, extra = {}) {
  return { label, ok, failure: null, at: null, event: null, details: [], data: {}, ...extra };
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function exact(found, keys, what) {
  if (!isObject(found)) throw new EvidenceError(`${what} is not a JSON object`);
  const have = Object.keys(found);
  const odd = [...have.filter((k) => !keys.includes(k)), ...keys.filter((k) => !have.includes(k))].sort();
  if (odd.length) throw new EvidenceError(`${what} has unexpected or missing fields: ${odd.join(", ")}`);
  return found;
}

// Canonical base64 only: a flipped bit in a padding character must not decode to the same bytes.
function b64(text, what) {
  try {
    return fromBase64(String(text), true);
  } catch {
    throw new EvidenceError(`${what} is not base64`);
  }
}

const isInt = (v) => Number.isSafeInteger(v);

// The file's JSON, or EvidenceError.
export function load(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new EvidenceError(`the file is not JSON: ${err.message}`);
  }
  exact(data, FILE_KEYS, "the file");
  if (data.format !== FORMAT) throw new EvidenceError(`the file is not ${FORMAT} evidence`);
  return data;
}

async function openManifest(data, verifier) {
  let parsed;
  try {
    parsed = jws.parse(String(data.manifest));
    if (parsed.header.kid !== "hub") throw new EvidenceError("the manifest is not signed by the hub");
    if (!(await jws.verify(String(data.manifest), verifier.key))) {
      throw new EvidenceError("the signature does not verify with the registered key of party 'hub'");
    }
  } catch (err) {
    throw new EvidenceError(`the manifest: the hub's signature does not verify with the log key (${err.message})`);
  }
  const payload = parsed.payload;
  if (!isObject(payload) || Object.keys(payload).sort().join() !== "body,kind,party" || payload.kind !== MANIFEST_KIND) {
    throw new EvidenceError("the manifest is not an evidence manifest");
  }
  const body = exact(payload.body, MANIFEST_KEYS, "the manifest");
  if (body.format !== FORMAT || body.origin !== verifier.name) {
    throw new EvidenceError(`the manifest is for origin '${py(body.origin)}', not '${verifier.name}'`);
  }
  return body;
}

async function witnessVerifiers(manifest, policy) {
  const found = new Map();
  for (const key of manifest.witnesses ?? []) {
    try {
      const v = await parseCosignatureVerifierKey(String(key));
      found.set(v.text, v);
    } catch (err) {
      throw new EvidenceError(`the manifest names a bad witness key: ${err.message}`);
    }
  }
  for (const v of policy?.witnesses?.values() ?? []) found.set(v.text, v);
  return [...found.values()];
}

// The checkpoint, once the log's signature (and the policy's quorum) verify and every signature
// line on it is by a key the file names and verifies; and the names of who cosigned it.
async function checkCheckpoint(signed, verifier, witnesses, policy) {
  const checkpoint = policy ? (await checkPolicy(policy, signed, verifier)).checkpoint : await verifyCheckpoint(signed, verifier);
  const { signatures } = parseNote(signed);
  const known = [verifier, ...witnesses];
  for (const s of signatures) {
    if (!known.some((v) => v.name === s.name && equal(v.id, s.id))) {
      throw new EvidenceError(`a signature line by '${s.name}' is by no key the file names`);
    }
  }
  if (new Set(signatures.map((s) => `${s.name}+${hex(s.id)}`)).size !== signatures.length) {
    throw new EvidenceError("a key signed the checkpoint twice");
  }
  const cosigned = await openCosignatures(signed, witnesses);
  return { checkpoint, cosigned: cosigned.map((c) => c.verifier.name) };
}

// RFC 9162 section 2.1.4.2, as src/parley/log/merkle.py verify_consistency.
export async function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  const m = BigInt(oldSize);
  const n = BigInt(newSize);
  if (m <= 0n) throw new EvidenceError("a consistency proof from the empty tree proves nothing");
  if (m > n) throw new EvidenceError(`the tree shrank from ${m} to ${n} leaves`);
  proof.forEach((p, i) => {
    if (p.length !== 32) throw new EvidenceError(`proof hash ${i} is not 32 bytes`);
  });
  if (m === n) {
    if (proof.length) throw new EvidenceError("trees of equal size need an empty consistency proof");
    if (!equal(oldRoot, newRoot)) throw new EvidenceError(`two different roots for the same size ${m}`);
    return;
  }
  if (!proof.length) throw new EvidenceError(`consistency proof from ${m} to ${n} is empty`);
  const path = [...proof];
  // When the old tree is a complete subtree its root is the proof's omitted first node.
  if ((m & (m - 1n)) === 0n) path.unshift(oldRoot);
  let fn = m - 1n;
  let sn = n - 1n;
  while (fn & 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new EvidenceError(`consistency proof is longer than sizes ${m} and ${n} need`);
    if (fn & 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new EvidenceError(`consistency proof is shorter than sizes ${m} and ${n} need`);
  if (!equal(fr, oldRoot)) throw new EvidenceError(`consistency proof leads to old root ${hex(fr)}, not ${hex(oldRoot)}`);
  if (!equal(sr, newRoot)) throw new EvidenceError(`consistency proof leads to new root ${hex(sr)}, not ${hex(newRoot)}`);
}

// Check everything in an evidence file (its text, or its parsed JSON) with the log key alone
// (and a parsed witness policy, policy.js); `saved`: checkpoints the checking party kept.
// Throws EvidenceError only when the file cannot be read at all; each item's failure is on
// its own line. Answers { manifest, checks, timeline, ok, failures }.
export async function checkEvidence(file, logKey, policy = null, saved = []) {
  const data = typeof file === "string" ? load(file) : file;
  let verifier;
  try {
    verifier = await parseVerifierKey(logKey);
  } catch (err) {
    throw new EvidenceError(`the log key: ${err.message}`);
  }
  const manifest = await openManifest(data, verifier);
  const witnesses = await witnessVerifiers(manifest, policy);
  const checks = [];
  const latestLabel = `the latest checkpoint (size ${py(manifest.latest_size)})`;
  let latest = null;
  try {
    const found = await checkCheckpoint(String(data.checkpoint), verifier, witnesses, policy);
    if (found.checkpoint.size !== BigInt(isInt(manifest.latest_size) ? manifest.latest_size : -1)) {
      throw new EvidenceError(`it has size ${found.checkpoint.size}, the manifest says otherwise`);
    }
    latest = found.checkpoint;
    const cosigned = found.cosigned.length ? `, cosigned by ${found.cosigned.join(", ")}` : "";
    checks.push(checked(latestLabel, true, { event: `signed by ${verifier.name}${cosigned}` }));
  } catch (err) {
    checks.push(checked(latestLabel, false, { failure: err.message }));
  }
  const roots = await provenRoots(data, manifest, latest, checks);
  for (const text of saved) checks.push(await savedCheck(text, verifier, latest, roots));
  const timeline = await items(data, manifest, logKey, verifier, policy, witnesses, roots, checks);
  const failures = [...checks, ...timeline].filter((c) => !c.ok).map((c) => `${c.label}: ${c.failure}`);
  return { manifest, checks, timeline, ok: failures.length === 0, failures };
}

// Sizes (as decimal strings) whose roots consistency proofs tie to the latest checkpoint's tree.
async function provenRoots(data, manifest, latest, checks) {
  const roots = new Map();
  if (latest) roots.set(String(latest.size), latest.root);
  const proofs = data.consistency;
  if (!Array.isArray(proofs)) {
    checks.push(checked("the consistency proofs", false, { failure: "not a list" }));
    return roots;
  }
  const given = proofs.filter((p) => isObject(p) && isInt(p.from)).map((p) => p.from);
  const listed = Array.isArray(manifest.proofs) ? manifest.proofs : [];
  for (const size of listed) {
    if (!given.includes(size)) {
      checks.push(checked(`the consistency proof from size ${py(size)}`, false, { failure: "listed by the hub's manifest, missing from the file" }));
    }
  }
  const sorted = (xs) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(",");
  if (given.length !== proofs.length || sorted(given) !== sorted(listed)) {
    checks.push(checked("the consistency proofs", false, { failure: "they differ from the manifest's" }));
  }
  for (const [i, found] of proofs.entries()) {
    let label = `consistency proof ${i + 1}`;
    try {
      const proof = exact(found, PROOF_KEYS, label);
      label = `consistency proof ${i + 1} (size ${py(proof.from)} to ${py(proof.to)})`;
      if (!latest || !isInt(proof.to) || BigInt(proof.to) !== latest.size) throw new EvidenceError("it does not lead to the latest checkpoint");
      if (!isInt(proof.from) || !Array.isArray(proof.proof)) throw new EvidenceError("its sizes or hashes are malformed");
      const oldRoot = b64(proof.old_root, "its old root");
      const hashes = proof.proof.map((h) => b64(h, "a proof hash"));
      await verifyConsistency(proof.from, proof.to, oldRoot, latest.root, hashes);
      roots.set(String(proof.from), oldRoot);
      checks.push(checked(label, true, { event: "links its checkpoint to the latest" }));
    } catch (err) {
      checks.push(checked(label, false, { failure: err.message }));
    }
  }
  return roots;
}

async function savedCheck(text, verifier, latest, roots) {
  let label = "the checkpoint you saved";
  let mine;
  try {
    mine = await verifyCheckpoint(String(text), verifier);
  } catch (err) {
    return checked(label, false, { failure: `it does not verify with the log key: ${err.message}` });
  }
  label = `the checkpoint you saved (size ${mine.size})`;
  if (!latest) return checked(label, false, { failure: "the file's latest checkpoint does not verify" });
  if (mine.size > latest.size) return checked(label, false, { failure: `it is newer than the file's (size ${latest.size})` });
  const known = roots.get(String(mine.size));
  if (!known) {
    return checked(label, false, {
      failure: `the file holds no proof linking size ${mine.size} to its latest checkpoint (size ${latest.size}): make it again with --checkpoint`,
    });
  }
  if (!equal(known, mine.root)) {
    return checked(label, false, {
      failure: `it is not consistent with the file's latest checkpoint (size ${latest.size}): the log showed you another history`,
    });
  }
  return checked(label, true, { event: `consistent with the latest checkpoint (size ${latest.size})` });
}

// The timeline: every item and conflict, checked, in time order (log order on a tie). Items
// the manifest lists and the file lacks, or holds unlisted, go to `checks`.
async function items(data, manifest, logKey, verifier, policy, witnesses, roots, checks) {
  const given = Array.isArray(data.items) ? data.items : [];
  const byId = new Map();
  for (const receipt of given) {
    const sub = isObject(receipt) ? receipt.submission : undefined;
    byId.set(py(isObject(sub) ? sub.id : undefined), receipt);
  }
  const listed = (Array.isArray(manifest.items) ? manifest.items : []).filter(isObject);
  const timeline = [];
  for (const [i, item] of listed.entries()) {
    const label = `item ${i + 1} (${py(item.role)}: ${py(item.kind)} ${py(item.id)})`;
    const key = py(item.id);
    if (!byId.has(key)) {
      checks.push(checked(label, false, { failure: "listed by the hub's manifest, missing from the file" }));
      continue;
    }
    const receipt = byId.get(key);
    byId.delete(key);
    const c = await checkItem(receipt, item, i + 1, label, manifest, verifier, logKey, policy, witnesses, roots);
    timeline.push([c.at ?? "", isInt(item.index) ? item.index : -1, c]);
  }
  for (const extra of byId.keys()) checks.push(checked(`item ${extra}`, false, { failure: "in the file but not in the hub's manifest" }));
  if (given.length !== listed.length) {
    checks.push(checked("the items", false, { failure: `the file holds ${given.length}, the manifest ${listed.length}` }));
  }
  for (const conflict of Array.isArray(manifest.conflicts) ? manifest.conflicts : []) {
    const c = isObject(conflict) ? conflict : {};
    const sides = SIDES.filter((role) => c[role]).map((role) => `${role} ${py(c[role])}`).join(", ");
    const event = `the hub raised conflict ${py(c.id)} (${py(c.kind)}, ${py(c.severity)}): ${py(c.detail)}${sides ? ` [${sides}]` : ""}`;
    const details = c.distance_m !== null && c.distance_m !== undefined ? [`distance ${py(c.distance_m)} m`] : [];
    details.push("signed by the hub in the manifest; conflicts are not log entries");
    // After the records logged at the same instant: it follows them.
    timeline.push([py(c.created_at), 2 ** 62, checked(`conflict ${py(c.id)}`, true, { at: c.created_at ?? null, event, details, data: { conflict: c } })]);
  }
  timeline.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  return timeline.map((t) => t[2]);
}

async function partyKey(manifest, party) {
  for (const p of Array.isArray(manifest.parties) ? manifest.parties : []) {
    if (isObject(p) && p.id === party) return jws.importPublicKey(String(p.public_key));
  }
  throw new EvidenceError(`the manifest gives no key for party '${party}'`);
}

async function checkItem(receipt, item, number, label, manifest, verifier, logKey, policy, witnesses, roots) {
  let payload;
  let proven;
  try {
    exact(receipt, RECEIPT_KEYS, "its receipt");
    const sub = exact(receipt.submission, SUBMISSION_KEYS, "its receipt's submission");
    const party = py(sub.party);
    label = `item ${number} (${py(item.role)}: ${py(sub.kind)} ${py(sub.id)} by ${party})`;
    const key = party === "hub" ? verifier.key : await partyKey(manifest, party);
    proven = await verifyReceipt(receipt, logKey, key, policy);
    const { checkpoint } = await checkCheckpoint(String(receipt.checkpoint), verifier, witnesses, policy);
    payload = jws.parse(String(sub.jws)).payload;
    const entry = JSON.parse(fromUtf8(b64(receipt.entry, "its entry")));
    const problems = [
      [receipt.index !== item.index, "its log index differs from the manifest's"],
      [receipt.origin !== verifier.name, "its origin is not the log's"],
      [!isInt(receipt.tree_size) || BigInt(receipt.tree_size) !== checkpoint.size, "its tree size is not its checkpoint's"],
      [!(sub.kind === payload.kind && payload.kind === item.kind), "its kind differs between receipt, signed record and manifest"],
      [sub.party !== payload.party, "its party is not the signer named inside"],
      [sub.received_at !== proven.receivedAt, "its time is not the logged one"],
      ["jws_sha256" in entry && (sub.salt !== null || entry.kind !== sub.kind || entry.party !== party), "its public log entry disagrees with the receipt"],
    ];
    for (const [bad, why] of problems) if (bad) throw new EvidenceError(why);
    const root = roots.get(String(checkpoint.size));
    if (!root || !equal(root, checkpoint.root)) {
      throw new EvidenceError(`no consistency proof links its checkpoint (size ${checkpoint.size}) to the latest one`);
    }
  } catch (err) {
    const why = KNOWN.some((k) => err instanceof k) ? err.message : `malformed (${err.message})`;
    const sub = isObject(receipt) && isObject(receipt.submission) ? receipt.submission : {};
    return checked(label, false, { failure: why, at: sub.received_at === undefined || sub.received_at === null ? null : py(sub.received_at) });
  }
  return event(label, receipt, payload, item, proven);
}

// A polygon ring's signed area and area-weighted centre (shoelace), in degrees as shapely's
// planar centroid, which the CLI uses.
function ring(coords) {
  let a = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i + 1 < coords.length; i++) {
    const [x0, y0] = coords[i];
    const [x1, y1] = coords[i + 1];
    const cross = x0 * y1 - x1 * y0;
    a += cross;
    x += (x0 + x1) * cross;
    y += (y0 + y1) * cross;
  }
  return { a: a / 2, x: x / 6, y: y / 6 };
}

// The centre of a Point or Polygon, as { lat, lon }; null for anything else.
export function point(geometry) {
  if (!isObject(geometry) || !Array.isArray(geometry.coordinates)) return null;
  if (geometry.type === "Point") {
    const [lon, lat] = geometry.coordinates;
    return typeof lat === "number" && typeof lon === "number" ? { lat, lon } : null;
  }
  if (geometry.type !== "Polygon") return null;
  try {
    // Holes count against the outer ring, whichever way each is wound.
    const rings = geometry.coordinates.map(ring).map((r, i) => ({ s: (i ? -1 : 1) * Math.sign(r.a), ...r }));
    const area = rings.reduce((n, r) => n + r.s * r.a, 0);
    if (!area) return null;
    const lon = rings.reduce((n, r) => n + r.s * r.x, 0) / area;
    const lat = rings.reduce((n, r) => n + r.s * r.y, 0) / area;
    return Number.isFinite(lat) && Number.isFinite(lon) ? { lat, lon } : null;
  } catch {
    return null;
  }
}

// A position as the CLI writes it: decimal, DMS and MGRS (it adds the nearest town from its
// gazetteer, which the page does not carry).
function position(at) {
  return [formatLatLon(at), formatDms(at), formatMgrs(at)].filter(Boolean).join(" · ");
}

// What a notified record says, as parley's receipts_text.notified does.
function notifiedLines(payload, submission) {
  const body = isObject(payload.body) ? payload.body : {};
  const lines = [];
  const at = point(body.geometry ?? body.location);
  if (at) lines.push(`at ${position(at)}`);
  if (body.radius_m !== null && body.radius_m !== undefined) lines.push(`radius ${py(body.radius_m)} m`);
  for (const [i, volume] of (Array.isArray(body.volumes) ? body.volumes : []).entries()) {
    if (!isObject(volume)) continue;
    const c = point(volume.footprint);
    const band = isObject(volume.altitude) ? volume.altitude : {};
    const time = isObject(volume.time) ? volume.time : {};
    const radius = volume.radius_m !== null && volume.radius_m !== undefined ? `, radius ${py(volume.radius_m)} m` : "";
    lines.push(`volume ${i + 1} at ${c ? position(c) : "?"}${radius}, ${py(band.lower_m)} to ${py(band.upper_m)} m, ${py(time.start)} to ${py(time.end)}`);
  }
  const route = isObject(body.route) && Array.isArray(body.route.coordinates) ? body.route.coordinates : null;
  if (route) {
    route.forEach((p, i) => lines.push(`route point ${i + 1} at ${position({ lat: p[1], lon: p[0] })}`));
    lines.push(`corridor ${py(body.corridor_m)} m`);
  }
  for (const ref of ["record", "operation", "conflict", "incident", "supersedes"]) {
    if (typeof body[ref] === "string") lines.push(`about ${ref} ${body[ref]}`);
  }
  lines.push(`audience: ${audienceText(payload.audience)}`, `received ${py(submission.received_at)}`);
  return lines;
}

function audienceText(audience) {
  return audience === "all" ? "all parties" : (Array.isArray(audience) ? audience : []).map(py).join(", ");
}

function event(label, receipt, payload, item, proven) {
  const kind = py(payload.kind);
  const party = py(payload.party);
  const body = isObject(payload.body) ? payload.body : {};
  let at = py(proven.receivedAt);
  const record = py(item.id);
  let details = [`log entry ${proven.index} of tree size ${proven.treeSize}`];
  const data = { kind, party, role: item.role };
  let text;
  if (kind in NOTIFIED) {
    data.notified = { kind, name: body.name, audience: payload.audience, received_at: receipt.submission.received_at };
    data.body = body;
    const name = typeof body.name === "string" ? ` "${body.name}"` : "";
    const verb = item.role === "amendment" ? "amended it as" : NOTIFIED[kind];
    text = `${party} ${verb} ${kind}${name} ${record}`;
    details = [...notifiedLines(payload, receipt.submission), ...details];
  } else if (kind === "acknowledgement") {
    text = `${party} acknowledged ${py(body.record)}`;
  } else if (kind === "withdrawal") {
    text = `${party} withdrew ${py(body.record)}`;
  } else if (kind === "operation-status") {
    text = `${party} set operation ${py(body.operation)} to ${py(body.status)}`;
  } else if (kind === "resolution") {
    text = `${party} resolved conflict ${py(body.conflict)}: ${py(body.outcome)}`;
  } else if (kind === "alert-acknowledgement") {
    text = `${party} acknowledged alert ${py(body.alert)} (conflict ${py(body.conflict)})`;
  } else if (kind === "alert-delivery") {
    text = `the hub delivered alert ${py(body.alert)} to ${py(body.party)}`;
    if (typeof body.delivered_at === "string") {
      at = body.delivered_at;
      details.unshift(`logged ${py(proven.receivedAt)}`);
    }
  } else {
    text = `${party} submitted ${kind} ${record}`;
  }
  details.push(`audience: ${audienceText(payload.audience)}`);
  return checked(label, true, { at, event: text, details, data });
}

// One timeline or check line, as the CLI prints it (parley.client.evidence_page.line).
export function line(c) {
  const at = (c.at ?? "").padEnd(20);
  if (c.ok) return c.at ? `${at}  ${OK} ${c.event}` : `${OK} ${c.label}: ${c.event}`;
  return c.at ? `${at}  ${FAIL} ${c.label}: ${c.failure}` : `${FAIL} ${c.label}: ${c.failure}`;
}

// Who in the subject's audience acknowledged it and who did not, as far as the file shows.
export function summary(report) {
  const subject = report.timeline.find((c) => c.data.role === "record");
  if (!subject || !["site", "movement"].includes(subject.data.kind)) return [];
  const acked = new Set(report.timeline.filter((c) => c.ok && c.data.kind === "acknowledgement").map((c) => c.data.party));
  let members = report.manifest.parties.filter((p) => p?.role === "member").map((p) => p.id);
  const audience = subject.data.notified?.audience;
  if (Array.isArray(audience)) members = members.filter((p) => audience.includes(p));
  const silent = [...new Set(members)].filter((p) => !acked.has(p)).sort();
  return [`acknowledged by: ${[...acked].sort().join(", ") || "nobody"}`, `no acknowledgement in this file from: ${silent.join(", ") || "nobody"}`];
}

// `parley verify evidence`'s text output, line by line: [{ text, detail }] where `detail`
// marks the indented lines under an event.
export function textLines(report) {
  const m = report.manifest;
  const out = [`evidence about ${py(m.subject)}, made for ${py(m.made_for)} at ${py(m.made_at)} from ${py(m.origin)}`, ...report.checks.map(line), "timeline (UTC):"].map((text) => ({ text, detail: false }));
  for (const c of report.timeline) {
    out.push({ text: line(c), detail: false, checked: c });
    if (c.ok) out.push(...c.details.map((d) => ({ text: `${" ".repeat(24)}${d}`, detail: true })));
  }
  out.push(...summary(report).map((text) => ({ text, detail: false })));
  out.push({ text: report.ok ? "all verified" : `${report.failures.length} failure(s)`, detail: false });
  return out;
}
