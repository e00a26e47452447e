// Witness policies, as src/parley/log/policy.py reads and checks them (Sigsum trust policy
// style), one statement a line, `#` comments:
//   log      <verifier key of the log>
//   witness  <name> <cosignature verifier key> [url]
//   group    <name> <k | all | any> <member> ...
//   quorum   <witness or group name | none>
// The page checks receipts against the policy the hub publishes at /log/policy, so a receipt
// only counts when the witnesses saw the same tree.

import { openCosignatures, parseCosignatureVerifierKey, verifyCheckpoint } from "./note.js";

export class PolicyError extends Error {}

export async function parsePolicy(text, source = "the policy") {
  const policy = { logKey: null, witnesses: new Map(), urls: new Map(), groups: new Map(), quorum: null };
  const names = () => new Set([...policy.witnesses.keys(), ...policy.groups.keys()]);
  let seenQuorum = false;
  const lines = String(text).split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const words = raw.split("#", 1)[0].trim().split(/\s+/).filter(Boolean);
    if (!words.length) continue;
    const where = `${source}, line ${i + 1}`;
    const [keyword, ...args] = words;
    if (keyword === "log" && (args.length === 1 || args.length === 2)) {
      policy.logKey = args[0];
    } else if (keyword === "witness" && (args.length === 2 || args.length === 3)) {
      const [name, key, url] = args;
      if (names().has(name)) throw new PolicyError(`${where}: ${JSON.stringify(name)} is defined twice`);
      try {
        policy.witnesses.set(name, await parseCosignatureVerifierKey(key));
      } catch (err) {
        throw new PolicyError(`${where}: witness ${JSON.stringify(name)}: ${err.message}`);
      }
      if (url) policy.urls.set(name, url);
    } else if (keyword === "group" && args.length >= 3) {
      const [name, how, ...members] = args;
      if (names().has(name)) throw new PolicyError(`${where}: ${JSON.stringify(name)} is defined twice`);
      const unknown = members.filter((m) => !names().has(m));
      if (unknown.length) throw new PolicyError(`${where}: group ${JSON.stringify(name)} names unknown members ${unknown.join(", ")}`);
      if (new Set(members).size !== members.length) throw new PolicyError(`${where}: group ${JSON.stringify(name)} names a member twice`);
      let threshold;
      if (how === "all") threshold = members.length;
      else if (how === "any") threshold = 1;
      else if (/^[0-9]+$/.test(how) && Number(how) >= 1 && Number(how) <= members.length) threshold = Number(how);
      else throw new PolicyError(`${where}: group ${JSON.stringify(name)} needs all, any or a number from 1 to ${members.length}`);
      policy.groups.set(name, { name, threshold, members });
    } else if (keyword === "quorum" && args.length === 1) {
      if (seenQuorum) throw new PolicyError(`${where}: a second quorum line`);
      seenQuorum = true;
      if (args[0] !== "none" && !names().has(args[0])) throw new PolicyError(`${where}: quorum names unknown ${JSON.stringify(args[0])}`);
      policy.quorum = args[0] === "none" ? null : args[0];
    } else {
      throw new PolicyError(`${where}: cannot read ${JSON.stringify(raw.trim())} (log, witness, group or quorum)`);
    }
  }
  if (!seenQuorum) throw new PolicyError(`${source} has no quorum line (write 'quorum none' to need none)`);
  return policy;
}

function met(policy, name, present) {
  if (policy.witnesses.has(name)) return present.has(name);
  const group = policy.groups.get(name);
  return group.members.filter((m) => met(policy, m, present)).length >= group.threshold;
}

// What satisfying `name` (default: the quorum) takes, in words.
export function needs(policy, name = policy.quorum) {
  if (name === null) return "no cosignature";
  if (policy.witnesses.has(name)) {
    const keyName = policy.witnesses.get(name).name;
    return `a cosignature by ${name}${keyName !== name ? ` (${keyName})` : ""}`;
  }
  const group = policy.groups.get(name);
  const how = group.threshold === group.members.length ? "all" : String(group.threshold);
  return `${how} of ${group.members.length} in group ${name}: ${group.members.map((m) => needs(policy, m)).join("; ")}`;
}

// Verify the log's signature and the quorum: answer the checkpoint and the cosignatures of the
// policy's witnesses, [{ witness, keyName, time }].
export async function checkPolicy(policy, note, logVerifier, origin = logVerifier.name) {
  if (policy.logKey !== null && policy.logKey !== logVerifier.text) {
    throw new PolicyError(`the policy's log key ${policy.logKey} is not the log key given (${logVerifier.text})`);
  }
  const checkpoint = await verifyCheckpoint(note, logVerifier, origin);
  const entries = [...policy.witnesses.entries()];
  let found;
  try {
    found = await openCosignatures(note, entries.map(([, v]) => v));
  } catch (err) {
    throw new PolicyError(`a cosignature does not verify: ${err.message}`);
  }
  const cosignatures = found.map(({ verifier, time }) => ({
    witness: entries.find(([, v]) => v === verifier)[0],
    keyName: verifier.name,
    time,
  }));
  const present = new Set(cosignatures.map((c) => c.witness));
  if (policy.quorum !== null && !met(policy, policy.quorum, present)) {
    const have = [...present].sort().join(", ") || "none of the policy's witnesses";
    throw new PolicyError(
      `the checkpoint (size ${checkpoint.size}) lacks the cosignatures the policy's quorum needs: ${needs(policy)}; valid cosignatures from: ${have}`,
    );
  }
  return { checkpoint, cosignatures };
}
