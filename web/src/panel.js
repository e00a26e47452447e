// The selected record's panel: what it says, who acknowledged it, the conflicts it is part of,
// and its receipt -- downloadable, and checked here in the browser against the log's key.

import { formatDms, formatMgrs } from "./coords.js";
import { clear, el, kept, metres, when } from "./dom.js";
import { evidenceBlock } from "./evidence_view.js";
import { importPublicKey } from "./jws.js";
import { verifyReceipt } from "./receipt.js";
import { AREA_RULES, SITE_CATEGORIES, siteCategory } from "./style-constants.js";
import { KIND_LABEL, NEXT_STATUS, acknowledgedBy, humanize, inForce, mapRecords, mapVersion, may, members, recordName, state, statusOf } from "./state.js";

export const actions = {
  select: () => {},
  focus: () => {},
  acknowledge: async () => {},
  setStatus: async () => {},
  withdraw: async () => {},
  vote: async () => {},
};

export function renderRecord() {
  const host = document.getElementById("record");
  const record = state.records.get(state.selected);
  if (!record) {
    clear(host, el("p", { class: "empty" }, "Nothing selected. Choose a record on the map or in the lists below."));
    return;
  }
  const body = record.document.body ?? {};
  const rows = [
    ["Notified by", partyLabel(record.party)],
    ["Log sequence", String(record.sequence)],
    ["Received by the hub", when(record.received_at)],
    ["Audience", record.audience === "all" ? "All parties" : record.audience.join(", ")],
    ...(["site", "operation", "movement", "area-map"].includes(record.kind) ? [["Status", statusOf(record.id) + (inForce(record) ? "" : " (not shown on the map)")]] : []),
    ...details(record, body),
  ];
  clear(
    host,
    el("h3", { class: "record-name" }, el("span", { class: "kind" }, KIND_LABEL[record.kind] ?? record.kind), " ", recordName(record)),
    el("dl", { class: "facts" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    acknowledgementBlock(record),
    voteBlock(record),
    lifecycleBlock(record),
    conflictBlock(record),
    el("div", { class: "actions" }, el("button", { type: "button", onclick: () => actions.focus(record.id) }, "Show on map")),
    receiptBlock(record),
    evidenceBlock(record),
    el("details", { class: "raw" }, el("summary", {}, "Signed document"), el("pre", {}, JSON.stringify(record.document, null, 2))),
  );
}

function partyLabel(id) {
  const p = state.parties.get(id);
  return p ? `${p.name} (${id})` : id;
}

function position(geometry) {
  if (geometry?.type !== "Point") return geometry ? `${geometry.type}` : "";
  const [lon, lat] = geometry.coordinates;
  const at = { lat, lon };
  return el("span", {}, `${lat.toFixed(5)}, ${lon.toFixed(5)}`, el("br"), formatDms(at), el("br"), `MGRS ${formatMgrs(at)}`);
}

function details(record, body) {
  switch (record.kind) {
    case "site":
      return [
        ["Category", SITE_CATEGORIES[siteCategory(body.category)].label + (SITE_CATEGORIES[body.category] ? "" : ` (${body.category})`)],
        ["Position", position(body.geometry)],
        ["Protected radius", body.radius_m ? metres(body.radius_m) : "the polygon"],
        ["Valid", `${when(body.valid?.start)} to ${when(body.valid?.end)}`],
      ];
    case "operation":
      return [
        ...(body.supersedes ? [["Amends", state.records.get(body.supersedes) ? recordName(state.records.get(body.supersedes)) : body.supersedes]] : []),
        [
          "Volumes",
          el(
            "ol",
            {},
            (body.volumes ?? []).map((v) =>
              el(
                "li",
                {},
                v.footprint?.type === "Point" ? `circle of ${metres(v.radius_m)} around ${v.footprint.coordinates[1].toFixed(4)}, ${v.footprint.coordinates[0].toFixed(4)}` : `polygon of ${(v.footprint?.coordinates?.[0]?.length ?? 1) - 1} vertices`,
                el("br"),
                `${v.altitude?.lower_m} to ${v.altitude?.upper_m} m, ${when(v.time?.start)} to ${when(v.time?.end)}`,
              ),
            ),
          ),
        ],
      ];
    case "incident":
      return [
        ["Category", body.category ?? ""],
        ["When", when(body.time)],
        ["Where", position(body.location)],
        ["Description", body.description ?? ""],
        ...(body.casualties ? [["Casualties reported", `${body.casualties.killed ?? 0} killed, ${body.casualties.injured ?? 0} injured`]] : []),
        ["Evidence", body.evidence?.length ? el("ul", { class: "digests" }, body.evidence.map((d) => el("li", {}, `SHA-256 ${d}`))) : "none listed"],
      ];
    case "movement":
      return [
        ["Corridor", `±${metres(body.corridor_m)}`],
        ["When", `${when(body.time?.start)} to ${when(body.time?.end)}`],
      ];
    case "area":
      return [
        ["Rule", (AREA_RULES[body.rule]?.label ?? body.rule) + (body.party ? ` (${body.party})` : "") + (body.group ? ` (${body.group})` : "")],
        ["Valid", `${when(body.valid?.start)} to ${when(body.valid?.end)}`],
      ];
    case "area-map": {
      const version = mapVersion(record);
      const current = mapRecords(body.map).inForce;
      const before = new Map((current && current.id !== record.id ? current.document.body.areas ?? [] : []).map((a) => [a.id, JSON.stringify(a)]));
      const change = (a) => (!current || current.id === record.id ? "" : !before.has(a.id) ? " — added" : before.get(a.id) !== JSON.stringify(a) ? " — changed" : "");
      const kept = new Set((body.areas ?? []).map((a) => a.id));
      const removed = [...before.keys()].filter((id) => !kept.has(id));
      return [
        ["Map", `“${body.map}”, version ${body.version}`],
        ["Valid", `${when(body.valid?.start)} to ${when(body.valid?.end)}`],
        [
          "Areas",
          el(
            "ul",
            {},
            (body.areas ?? []).map((a) => el("li", {}, `${a.name ?? a.id}: ${AREA_RULES[a.rule]?.label ?? a.rule}${a.party ? ` (${a.party})` : ""}${a.group ? ` (${a.group})` : ""}${change(a)}`)),
            removed.map((id) => el("li", {}, `${id} — removed`)),
          ),
        ],
        ["Votes", version && Object.keys(version.votes).length ? el("ul", {}, Object.entries(version.votes).map(([p, v]) => el("li", {}, `${p}: ${v.vote}${v.comment ? ` — “${v.comment}”` : ""}`))) : "none yet"],
        ["Waiting for", version?.waiting_for?.length ? version.waiting_for.join(", ") : "nobody"],
      ];
    }
    case "area-vote":
      return [
        ["Vote", `${body.vote} version ${body.version} of “${body.map}”`],
        ["Comment", body.comment ?? ""],
      ];
    case "acknowledgement": {
      const target = state.records.get(body.record);
      return [["Acknowledges receipt of", target ? el("button", { type: "button", class: "link", onclick: () => actions.select(target.id) }, recordName(target)) : body.record]];
    }
    default:
      return [];
  }
}

// Acknowledgement is a member's signed statement that it received the notification; the page
// never calls it approval.
function acknowledgementBlock(record) {
  if (record.kind !== "site") return null;
  const by = acknowledgedBy(record.id);
  const all = members().filter((m) => m.id !== record.party);
  const done = all.filter((m) => by.has(m.id)).map((m) => m.id);
  const missing = all.filter((m) => !by.has(m.id)).map((m) => m.id);
  const parts = [el("h4", {}, "Receipt acknowledged")];
  parts.push(el("p", {}, done.length ? `By ${done.join(", ")}.` : "By no member yet."));
  if (missing.length) parts.push(el("p", {}, `Not yet by ${missing.join(", ")}.`));
  if (may("acknowledgement") && record.party !== state.me.id) {
    if (by.has(state.me.id)) {
      parts.push(el("p", { class: "ok" }, `You acknowledged receipt (sequence ${by.get(state.me.id).sequence}).`));
    } else {
      const status = el("p", { class: "status", role: "status" });
      const button = el(
        "button",
        {
          type: "button",
          class: "primary",
          onclick: async () => {
            button.disabled = true;
            status.textContent = "Signing and sending…";
            try {
              await actions.acknowledge(record.id);
            } catch (err) {
              status.textContent = `Not acknowledged: ${err.message}`;
              status.className = "status error";
              button.disabled = false;
            }
          },
        },
        "Acknowledge receipt",
      );
      parts.push(el("p", { class: "help" }, "Records, signed by your party, that you received this notification. It is not an approval."), button, status);
    }
  }
  return el("div", { class: "block" }, parts);
}

// A member answers the latest version of an area map: accept, or contest (saying why).
function voteBlock(record) {
  if (record.kind !== "area-map" || !may("area-vote")) return null;
  const version = mapVersion(record);
  if (!version) return null;
  const mine = version.votes[state.me.id];
  if (mine) return el("div", { class: "block" }, el("p", { class: "ok" }, `You answered: ${mine.vote}.`));
  if (version.proposer === state.me.id) return el("div", { class: "block" }, el("p", {}, "You proposed this version: it is in force once every other member accepts it."));
  const latest = mapRecords(record.document.body.map).latest;
  if (latest?.id !== record.id || version.status === "in force") return null;
  const comment = el("input", { id: "vote-comment", type: "text", autocomplete: "off" });
  const status = el("p", { class: "status", role: "status" });
  const vote = (choice) => {
    const button = el("button", { type: "button", class: choice === "accept" ? "primary" : "" }, choice === "accept" ? `Accept version ${version.version}` : `Contest version ${version.version}`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      status.textContent = "Signing and sending…";
      try {
        await actions.vote(record, choice, comment.value.trim());
      } catch (err) {
        status.textContent = `Not sent: ${err.message}`;
        status.className = "status error";
        button.disabled = false;
      }
    });
    return button;
  };
  return el(
    "div",
    { class: "block" },
    el("h4", {}, "Your answer"),
    el("p", { class: "help" }, "The map in force changes only when every member accepts. Contesting keeps the current map in force."),
    el("label", { for: comment.id }, "Comment (optional; say why when contesting)"),
    comment,
    el("div", { class: "actions" }, vote("accept"), vote("contest")),
    status,
  );
}

// One's own records: move an operation along its life, or withdraw a notification.
function lifecycleBlock(record) {
  if (record.party !== state.me.id) return null;
  const status = el("p", { class: "status", role: "status" });
  const act = (label, run) => {
    const button = el("button", { type: "button" }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      status.textContent = "Signing and sending…";
      try {
        await run();
      } catch (err) {
        status.textContent = `Not sent: ${err.message}`;
        status.className = "status error";
        button.disabled = false;
      }
    });
    return button;
  };
  const buttons = [];
  if (record.kind === "operation" && may("operation-status")) {
    const label = { active: "Mark active", completed: "Mark completed", cancelled: "Cancel operation" };
    for (const next of NEXT_STATUS[statusOf(record.id)] ?? []) buttons.push(act(label[next], () => actions.setStatus(record.id, next)));
  }
  if (["site", "movement"].includes(record.kind) && may("withdrawal") && inForce(record)) {
    buttons.push(act("Withdraw this notification", () => actions.withdraw(record.id)));
  }
  if (!buttons.length) return null;
  return el("div", { class: "block" }, el("h4", {}, "Your record"), el("div", { class: "actions" }, buttons), status);
}

function conflictBlock(record) {
  const mine = [...state.conflicts.values()].filter((c) => c.record === record.id || c.other === record.id);
  if (!mine.length) return null;
  return el(
    "div",
    { class: "block" },
    el("h4", {}, "Conflicts"),
    el(
      "ul",
      { class: "conflicts" },
      mine.map((c) => {
        const otherId = c.record === record.id ? c.other : c.record;
        const other = state.records.get(otherId);
        return el(
          "li",
          {},
          el("span", { class: `severity ${c.severity}` }, c.severity),
          ` ${c.kind}: ${humanize(c.detail)}`,
          other ? [" ", el("button", { type: "button", class: "link", onclick: () => actions.select(otherId) }, `Open ${recordName(other)}`)] : null,
        );
      }),
    ),
  );
}

function receiptBlock(record) {
  return kept(`receipt ${record.id}`, () => makeReceiptBlock(record));
}

function makeReceiptBlock(record) {
  const result = el("div", { class: "receipt-result", role: "status", "aria-live": "polite" });
  return el(
    "div",
    { class: "block" },
    el("h4", {}, "Receipt"),
    el("p", { class: "help" }, "The hub's proof that it logged exactly this signed record at this position: check it here, or keep it and check it offline with parley verify receipt."),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", onclick: () => downloadReceipt(record, result) }, "Download receipt"),
      el("button", { type: "button", onclick: () => checkRecordReceipt(record, result) }, "Check receipt"),
    ),
    result,
  );
}

async function fetchReceipt(record, result) {
  clear(result, el("p", {}, "Fetching the receipt…"));
  const receipt = await state.hub.receipt(record.id, 5);
  if (!receipt) {
    clear(result, el("p", { class: "error" }, "No signed checkpoint covers this record yet. Try again in a moment."));
    return null;
  }
  return receipt;
}

async function downloadReceipt(record, result) {
  try {
    const receipt = await fetchReceipt(record, result);
    if (!receipt) return;
    const blob = new Blob([`${JSON.stringify(receipt, null, 2)}\n`], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: `parley-receipt-${record.id}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    clear(result, el("p", {}, `Receipt downloaded: entry ${receipt.index} in a tree of ${receipt.tree_size}.`));
  } catch (err) {
    clear(result, el("p", { class: "error" }, `No receipt: ${err.message}`));
  }
}

async function checkRecordReceipt(record, result) {
  try {
    const receipt = await fetchReceipt(record, result);
    if (!receipt) return;
    await showCheck(receipt, result, record);
  } catch (err) {
    clear(result, el("p", { class: "error" }, `No receipt: ${err.message}`));
  }
}

function witnessLine(proved) {
  if (!proved.policyChecked) return el("li", {}, "Witness cosignatures not checked: no witness policy.");
  const n = proved.cosignatures.length;
  if (state.policy.quorum === null) return el("li", {}, `The hub's witness policy needs no cosignature (${n} found).`);
  return el("li", {}, `${n} witness cosignature${n === 1 ? "" : "s"}: the quorum of the hub's witness policy is met (the witnesses saw this same tree).`);
}

// Check a receipt and say, line by line, what it proves. `record` (optional) is the record
// the receipt should be for.
export async function showCheck(receipt, result, record = null) {
  clear(result, el("p", {}, "Checking…"));
  try {
    const party = state.parties.get(receipt?.submission?.party);
    const partyKey = party?.public_key?.x ? await importPublicKey(party.public_key.x) : null;
    const proved = await verifyReceipt(receipt, state.verifierKey, partyKey, state.policy, state.keyRotations ?? []);
    if (record && receipt.submission.jws !== record.jws) {
      throw new Error("this receipt is for other signed bytes than this record");
    }
    clear(
      result,
      el("p", { class: "verified" }, "✓ Receipt verified in this browser"),
      el(
        "ul",
        { class: "checks" },
        el("li", {}, `Checkpoint signed by the log key ${state.verifierKey.split("+")[0]} (tree of ${proved.treeSize} entries).`),
        el("li", {}, `Entry ${proved.index} is in that tree (RFC 9162 inclusion proof).`),
        el("li", {}, proved.restricted ? "The entry commits to these signed bytes with a salted SHA-256 (a restricted record)." : "The entry commits to the SHA-256 of these signed bytes."),
        el("li", {}, proved.signatureChecked ? `Signed by ${proved.party}'s registered key.` : `Signature by ${proved.party} not checked: its key is not known here.`),
        el("li", {}, `Logged at ${when(proved.receivedAt)}.`),
        witnessLine(proved),
      ),
      proved.cosignatures.length
        ? el(
            "ul",
            { class: "cosignatures", "aria-label": "Witness cosignatures" },
            proved.cosignatures.map((c) => el("li", {}, `✓ Cosigned by witness ${c.witness} at ${new Date(c.time * 1000).toISOString().replace(/\.\d+Z$/, "Z")}.`)),
          )
        : null,
    );
    return proved;
  } catch (err) {
    clear(result, el("p", { class: "error failed" }, `✗ This receipt does not verify: ${err.message}`));
    return null;
  }
}
