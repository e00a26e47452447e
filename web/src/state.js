// What the page knows, in one place. Everything here came from the hub after sign-in, except
// the signing key, which came from the key file and never leaves this object.

export const state = {
  hub: null, // api.Hub
  me: null, // {id, name, role, public_key}
  key: null, // non-extractable CryptoKey (Ed25519, sign only)
  verifierKey: "", // the log's verifier key text
  verifierKeySource: "", // "typed" or "hub"
  policy: null, // the witness policy receipts are checked against (policy.js), from /log/policy
  parties: new Map(), // id -> party
  records: new Map(), // id -> submission view, in log order
  acks: new Map(), // record id -> Map(party id -> acknowledgement record)
  status: new Map(), // record id -> planned | active | completed | cancelled | superseded | withdrawn
  maps: new Map(), // area map name -> the hub's view of it (/api/v1/maps/{name})
  conflicts: new Map(), // conflict id -> conflict
  alerts: new Map(), // alert id -> alert
  alertsAvailable: true,
  cursor: -1, // last submission sequence seen
  selected: null,
};

// What each role may submit, as src/parley/parties/roles.py says; it only decides which forms
// the page offers. The hub decides what it accepts, and the page shows its reason if it refuses.
const ALLOWED = {
  member: ["operation", "operation-status", "resolution", "area-map", "area-vote", "acknowledgement", "intelligence", "incident", "review"],
  notifier: ["site", "movement", "incident", "withdrawal"],
  observer: ["incident", "review"],
};

// Operation lifecycle (src/parley/operations.py): which status may follow which.
export const NEXT_STATUS = { planned: ["active", "cancelled"], active: ["completed", "cancelled"] };
const IN_FORCE = new Set(["planned", "active"]);

// Follow, in log order, what changes a record's standing: a status report, a withdrawal, or an
// amendment (a new version of an operation supersedes the old one and inherits its status).
export function track(item) {
  const body = item.document?.body ?? {};
  if (item.kind === "operation-status" && body.operation) state.status.set(body.operation, body.status);
  else if (item.kind === "withdrawal" && body.record) state.status.set(body.record, "withdrawn");
  else if (item.kind === "operation") {
    state.status.set(item.id, state.status.get(body.supersedes) ?? "planned");
    if (body.supersedes) state.status.set(body.supersedes, "superseded");
  } else if (item.kind === "acknowledgement" && body.record) {
    const by = state.acks.get(body.record) ?? new Map();
    by.set(item.party, item);
    state.acks.set(body.record, by);
  }
}

export function statusOf(id) {
  const record = state.records.get(id);
  if (record?.kind === "area-map") return mapVersion(record)?.status ?? "unknown";
  return state.status.get(id) ?? (record?.kind === "operation" ? "planned" : "in force");
}

// The hub's word on one version of an area map: in force, proposed, contested or superseded,
// with its votes and who has yet to vote.
export function mapVersion(record) {
  const body = record?.document?.body ?? {};
  return state.maps.get(body.map)?.versions?.find((v) => v.version === body.version) ?? null;
}

// The area-map record of a map's version in force, and of its latest version.
export function mapRecords(name) {
  const view = state.maps.get(name);
  const byVersion = (n) => view?.versions?.find((v) => v.version === n)?.record;
  return {
    inForce: state.records.get(byVersion(view?.in_force)) ?? null,
    latest: state.records.get(byVersion(view?.latest)) ?? null,
  };
}

// Only what is in force is drawn: a withdrawn site, or an operation that ended or was amended,
// stays in the lists (and the log) but off the map.
export function inForce(record) {
  const status = statusOf(record.id);
  if (record.kind === "area-map") return status === "in force";
  return record.kind === "operation" ? IN_FORCE.has(status) : status !== "withdrawn";
}

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
  if (record?.kind === "area-map") return `Area map ${body.map}, version ${body.version}`;
  if (record?.kind === "area-vote") return `${record.party} ${body.vote === "accept" ? "accepts" : "contests"} area map “${body.map}” version ${body.version}`;
  if (record?.kind === "withdrawal") return `Withdrawal of ${state.records.get(body.record) ? recordName(state.records.get(body.record)) : "a record"}`;
  if (record?.kind === "operation-status") return `${state.records.get(body.operation) ? recordName(state.records.get(body.operation)) : "An operation"}: ${body.status}`;
  return `${record?.kind ?? "record"} ${record?.id?.slice(0, 8) ?? ""}`;
}

export const KIND_LABEL = {
  site: "Protected site",
  operation: "Operation",
  "operation-status": "Operation status",
  withdrawal: "Withdrawal",
  resolution: "Resolution",
  movement: "Movement",
  area: "Area",
  "area-map": "Area map version",
  "area-vote": "Area map vote",
  incident: "Incident",
  acknowledgement: "Acknowledgement",
  intelligence: "Intelligence",
  review: "Review",
};

// The hub's conflict texts name records by id (an area as <map version id>#<area id>);
// people know them by name.
export function humanize(text) {
  const id = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(#[\w.-]+)?/g;
  return String(text ?? "").replace(id, (whole, uuid, part) => {
    const record = state.records.get(uuid);
    if (!record) return whole;
    const area = part && record.kind === "area-map" ? record.document.body.areas?.find((a) => a.id === part.slice(1)) : null;
    return area ? `“${area.name ?? area.id}” (${recordName(record)})` : `“${recordName(record)}”`;
  });
}
