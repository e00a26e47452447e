// What the page knows, in one place. Everything here came from the hub after sign-in, except
// the signing key, which came from the key file and never leaves this object.

export const state = {
  hub: null, // api.Hub
  me: null, // {id, name, role, public_key}
  key: null, // non-extractable CryptoKey (Ed25519, sign only)
  verifierKey: "", // the log's verifier key text
  verifierKeySource: "", // "typed" or "hub"
  parties: new Map(), // id -> party
  records: new Map(), // id -> submission view, in log order
  acks: new Map(), // record id -> Map(party id -> acknowledgement record)
  conflicts: new Map(), // conflict id -> conflict
  alerts: new Map(), // alert id -> alert
  alertsAvailable: true,
  cursor: -1, // last submission sequence seen
  selected: null,
};

// What each role may submit (src/parley/parties/roles.py).
const ALLOWED = {
  member: ["operation", "area", "acknowledgement", "intelligence", "incident"],
  notifier: ["site", "movement", "incident"],
  observer: ["incident", "review"],
};

export function may(kind) {
  return (ALLOWED[state.me?.role] ?? []).includes(kind);
}

export function members() {
  return [...state.parties.values()].filter((p) => p.role === "member");
}

export function acknowledgedBy(recordId) {
  return state.acks.get(recordId) ?? new Map();
}

// For a member: have I acknowledged it? For anyone else: have all members?
export function acknowledged(recordId) {
  const by = acknowledgedBy(recordId);
  if (state.me?.role === "member") return by.has(state.me.id);
  const all = members();
  return all.length > 0 && all.every((m) => by.has(m.id));
}

export function recordName(record) {
  const body = record?.document?.body ?? {};
  if (body.name) return body.name;
  if (record?.kind === "incident") return `Incident: ${body.category ?? "reported"}`;
  if (record?.kind === "acknowledgement") return `Acknowledgement of ${state.records.get(body.record) ? recordName(state.records.get(body.record)) : "a record"}`;
  return `${record?.kind ?? "record"} ${record?.id?.slice(0, 8) ?? ""}`;
}

export const KIND_LABEL = {
  site: "Protected site",
  operation: "Operation",
  movement: "Movement",
  area: "Area",
  incident: "Incident",
  acknowledgement: "Acknowledgement",
  intelligence: "Intelligence",
  review: "Review",
};

// The hub's conflict texts name records by id; people know them by name.
export function humanize(text) {
  return String(text ?? "").replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
    const record = state.records.get(id);
    return record ? `“${recordName(record)}”` : id;
  });
}
