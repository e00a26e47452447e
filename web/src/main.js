// The parley map page: sign in, draw what the hub lets this party see, follow its alerts live,
// and notify -- every notification signed here with the party's own key.

import { Hub, HubError, publicText } from "./api.js";
import { canonical } from "./canonical.js";
import { parseCoordinate } from "./coords.js";
import { $, clear, el, when } from "./dom.js";
import { DrawTool } from "./draw.js";
import { setupEvidence } from "./evidence_view.js";
import { hooks, renderForms } from "./forms.js";
import { KeyFileError, importKeyFile, makeDocument, sign } from "./jws.js";
import { MapView } from "./mapview.js";
import { parseVerifierKey } from "./note.js";
import { actions, renderRecord, showCheck } from "./panel.js";
import { parsePolicy } from "./policy.js";
import { verifyReceipt } from "./receipt.js";
import { STATE_CHOICES, ackable, alertKind, alertState, choicesOf, filterAlerts, ticks, timelineRows, utcLabel, windowsOf } from "./shift.js";
import { follow } from "./stream.js";
import { AREA_RULES, INCIDENT_ICON, OKABE_ITO, SITE_CATEGORIES, siteIconHtml } from "./style-constants.js";
import { KIND_LABEL, acknowledged, acknowledgedBy, humanize, inForce, mapRecords, may, recordName, state, statusOf, track } from "./state.js";

let view = null;
let stopStream = () => {};

// -- sign in ------------------------------------------------------------------------------

$("#signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("#signin-error");
  const button = e.target.querySelector("button[type=submit]");
  error.textContent = "";
  button.disabled = true;
  try {
    await signIn($("#signin-token").value.trim(), $("#signin-key").files[0], $("#signin-vkey").value.trim());
  } catch (err) {
    error.textContent = err.message;
    button.disabled = false;
  }
});

async function signIn(token, keyFile, vkey) {
  if (!token) throw new Error("Type your party's token.");
  if (!keyFile) throw new Error("Choose your party's key file.");
  const { key, x } = await importKeyFile(await keyFile.text());
  const hub = new Hub(token);
  let me;
  try {
    me = await hub.get("/api/v1/parties/me");
  } catch (err) {
    if (err instanceof HubError && err.status === 401) throw new Error("The hub does not know this token. Check it and try again.");
    throw err;
  }
  if (me.public_key?.x !== x) {
    throw new KeyFileError(`This key file is not the key registered for ${me.id}: the hub would refuse every signature. Choose ${me.id}'s key file.`);
  }
  let verifierKey = vkey;
  let source = "typed";
  if (!verifierKey) {
    verifierKey = (await publicText("/log/verifier-key")).trim();
    source = "hub";
  }
  try {
    await parseVerifierKey(verifierKey);
  } catch (err) {
    throw new Error(`The log verifier key is not usable: ${err.message}`);
  }
  // The witness policy the hub publishes: receipts count only with its quorum of cosignatures.
  let policy;
  try {
    policy = await parsePolicy(await publicText("/log/policy"), "the hub's witness policy");
  } catch (err) {
    throw new Error(`The hub's witness policy is not usable: ${err.message}`);
  }
  // The log key's history, so receipts signed by an earlier or later key than the one above
  // verify through the rotations both keys signed (keychain.js).
  let keyRotations = [];
  try {
    keyRotations = JSON.parse(await publicText("/log/key-rotations")).rotations ?? [];
  } catch {
    keyRotations = []; // an older hub: no history, receipts need the key that signed them
  }
  Object.assign(state, { hub, me, key, verifierKey, verifierKeySource: source, policy, keyRotations });
  // Nothing of the key file is kept but the non-extractable key; clear the inputs too.
  $("#signin-key").value = "";
  $("#signin-token").value = "";
  await start();
}

$("#sign-out").addEventListener("click", () => {
  // Reloading is the one sure way to drop the key and the token from memory.
  stopStream();
  location.reload();
});

// -- the app ------------------------------------------------------------------------------

async function start() {
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#whoami").hidden = false;
  $("#party-id").textContent = state.me.id;
  $("#party-role").textContent = state.me.role;
  $("#vkey-shown").textContent = state.verifierKey;
  $("#vkey-source").textContent =
    state.verifierKeySource === "hub"
      ? "(as this hub serves it: compare it with the key your hub operator published)."
      : "(as you typed it at sign-in).";

  view = new MapView($("#map"), { onSelect: select });
  const draw = new DrawTool(view, {
    onChange: () => {},
    onStatus: (text) => {
      const node = $("#draw-status");
      node.textContent = text;
      node.hidden = !text;
    },
  });
  Object.assign(hooks, { draw, submit });
  Object.assign(actions, {
    select,
    focus: (id) => view.focus(id),
    acknowledge,
    setStatus: (id, status) => submit("operation-status", { operation: id, status }, "all"),
    withdraw: (id) => submit("withdrawal", { record: id }, state.records.get(id)?.audience ?? "all"),
    vote: (record, vote, comment) => {
      const { map, version } = record.document.body;
      return submit("area-vote", { map, version, vote, ...(comment ? { comment } : {}) }, "all");
    },
  });
  window.parley = Object.freeze({ canonical, parseCoordinate, verifyReceipt, map: view.map, state, view });

  setupTime();
  setupAlertFilters();
  setupExport();
  setupRecordList();
  setupCheckFile();
  setupEvidence();
  // The base layers load while the records do: neither waits for the other.
  const base = view.loadBase();

  try {
    const parties = await state.hub.get("/api/v1/parties");
    for (const p of parties.items) state.parties.set(p.id, p);
  } catch (err) {
    toast(`Could not list the parties: ${err.message}`, true);
  }
  renderForms();
  // Alerts load while the records do; the records' refresh names them once it lands.
  await Promise.all([refresh(), startAlerts()]);
  const failed = await base;
  if (failed.length) mapError(`Some base layers could not be loaded (${failed.join("; ")}). Records are still shown.`);
  setInterval(() => refresh().catch(() => {}), 10_000);
}

function mapError(text) {
  const node = $("#map-error");
  node.textContent = text;
  node.hidden = !text;
}

// New records since the last one seen, and every conflict (they are few and can change).
// A caller must see everything committed before it called: one already under way (the live
// stream's, the 10 s poll's) may have read the list before the caller's own record was logged,
// and a just-notified site was then neither selected nor revealed. So a call made while one
// runs gets the one after it (shared by every such caller).
let refreshing = null;
let queued = null;
let first = true;
async function refresh() {
  if (refreshing) {
    queued ??= refreshing.then(() => {
      queued = null;
      return refresh();
    });
    return queued;
  }
  refreshing = (async () => {
    try {
      const { items } = await state.hub.all("/api/v1/submissions", { cursor: state.cursor }, (i) => i.sequence);
      const maps = new Set();
      for (const item of items) {
        state.records.set(item.id, item);
        state.cursor = Math.max(state.cursor, item.sequence);
        track(item);
        if (item.kind === "area-map" || item.kind === "area-vote") maps.add(item.document.body?.map);
      }
      // Which version of a map is in force is the hub's to say (every member must accept).
      for (const name of maps) {
        if (typeof name === "string") state.maps.set(name, await state.hub.get(`/api/v1/maps/${encodeURIComponent(name)}`));
      }
      // Moot ones too: the map draws them faded and the alert filter can show them.
      const conflicts = await state.hub.all("/api/v1/conflicts", { state: "open,acknowledged,resolved,moot" }, () => undefined);
      let changed = items.length > 0 || first;
      for (const c of conflicts.items) {
        changed ||= state.conflicts.get(c.id)?.state !== c.state;
        state.conflicts.set(c.id, c);
        // An alert shows its conflict's state as it is now.
        for (const a of state.alerts.values()) if (a.conflict?.id === c.id && a.conflict.state !== c.state) state.alerts.set(a.id, { ...a, conflict: { ...a.conflict, state: c.state } });
      }
      first = false;
      // Redrawing five hundred sites costs a moment: only when something changed.
      if (changed) render();
      mapError("");
    } catch (err) {
      mapError(`Cannot reach the hub: ${err.message}. Showing what was loaded; retrying every 10 s.`);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function render() {
  view.render(state.records, { acknowledged, inForce, mine: (r) => r.party === state.me.id, mapStatus: (r) => statusOf(r.id), mapRecords });
  view.renderConflicts(state.conflicts, state.records);
  view.highlight(state.selected);
  renderLegend();
  renderRecordList();
  renderPending();
  renderRecord();
  renderAlerts();
  renderMaps();
  renderTimeline();
}

function select(id) {
  state.selected = id;
  view.highlight(id);
  renderRecord();
  const panel = $("#record-panel");
  panel.scrollIntoView({ block: "nearest" });
  $("#record-title").focus?.();
}

// Sign a document with the party's key and submit it; then show the new record.
async function submit(kind, body, audience) {
  const document = makeDocument(kind, state.me.id, body, audience, state.hub.now());
  const compact = await sign(document, state.key, state.me.id);
  const answer = await state.hub.submit(compact);
  await refresh();
  // A new record is shown in the panel; a statement about one (acknowledgement, status,
  // withdrawal) leaves that record there, updated.
  if (["site", "operation", "incident", "movement", "area-map"].includes(kind)) select(answer.id);
  else renderRecord();
  // A new site may land in a cluster at this zoom: open it so the site itself is seen.
  if (kind === "site") view.reveal(answer.id);
  toast(`${KIND_LABEL[kind] ?? kind} signed and logged (sequence ${answer.sequence}).`);
  return answer;
}

async function acknowledge(recordId) {
  // A record about a record may not be wider than it: the receipt goes to the site's audience.
  await submit("acknowledgement", { record: recordId }, state.records.get(recordId)?.audience ?? "all");
  renderRecord();
}

// -- alerts -------------------------------------------------------------------------------

async function startAlerts() {
  let cursor = 0;
  try {
    const { items, cursor: last } = await state.hub.all("/api/v1/alerts", { cursor: 0 });
    // Drawn once for the whole backlog, not once per alert.
    for (const a of items) addAlert(a, false, false);
    if (view) view.renderConflicts(state.conflicts, state.records);
    cursor = last ?? 0;
  } catch (err) {
    if (err instanceof HubError && err.status === 404) {
      state.alertsAvailable = false;
      streamStatus("unavailable");
      renderAlerts();
      return;
    }
    toast(`Could not load alerts: ${err.message}`, true);
  }
  renderAlerts();
  stopStream = follow(state.hub, "/api/v1/alerts/stream", {
    cursor,
    onStatus: streamStatus,
    onEvent: (event, data) => {
      if (event !== "alert") return;
      try {
        addAlert(JSON.parse(data), true);
      } catch {
        /* a malformed event is skipped; the next refresh lists the conflict anyway */
      }
    },
  });
}

function streamStatus(status, detail) {
  const text = {
    connecting: "Alerts: connecting…",
    live: "Alerts: live",
    offline: `Alerts: offline${detail ? ` (${detail})` : ""}, reconnecting`,
    unavailable: "Alerts: this hub has no alert feed",
  }[status];
  const node = $("#stream-status");
  node.textContent = text ?? "";
  node.dataset.state = status;
}

function addAlert(alert, live, draw = true) {
  const known = state.alerts.has(alert.id);
  state.alerts.set(alert.id, alert);
  if (alert.conflict?.id) state.conflicts.set(alert.conflict.id, alert.conflict);
  if (live && !known) {
    $("#announce").textContent = `New ${alert.severity} alert: ${humanize(alert.conflict?.detail ?? alert.kind)}`;
    // The conflict may name a record this page has not loaded yet.
    refresh();
  }
  if (!draw) return;
  renderAlerts();
  if (view) view.renderConflicts(state.conflicts, state.records);
}

const alertFilter = () => ({ kind: $("#alerts-kind").value, severity: $("#alerts-severity").value, state: $("#alerts-filter-state").value });

function setupAlertFilters() {
  clear($("#alerts-filter-state"), STATE_CHOICES.map(([value, label]) => el("option", { value }, label)));
  for (const id of ["#alerts-kind", "#alerts-severity", "#alerts-filter-state"]) $(id).addEventListener("change", renderAlerts);
  $("#alerts-ack-shown").addEventListener("click", acknowledgeShown);
}

// Keep each filter's options to what is there, keeping the choice made.
function fillChoices(select, values, anyLabel) {
  const chosen = select.value;
  const all = new Set(values);
  if (chosen) all.add(chosen);
  clear(select, el("option", { value: "" }, anyLabel), [...all].sort().map((v) => el("option", { value: v }, v)));
  select.value = chosen;
}

function shownAlerts() {
  return filterAlerts(state.alerts.values(), alertFilter());
}

async function acknowledgeShown() {
  const button = $("#alerts-ack-shown");
  const todo = ackable(shownAlerts());
  button.disabled = true;
  let done = 0;
  const failed = [];
  for (const alert of todo) {
    try {
      await acknowledgeAlert(alert);
      done++;
      $("#alerts-shown").textContent = `Acknowledging: ${done} of ${todo.length}…`;
    } catch (err) {
      failed.push(err.message);
    }
  }
  renderAlerts();
  $("#alerts-shown").textContent = failed.length
    ? `${done} acknowledged; ${failed.length} not: ${failed[0]}`
    : `${done} alert${done === 1 ? "" : "s"} acknowledged.`;
}

// A signed record on the log, told to this party alone; the alert takes the record's time.
async function acknowledgeAlert(alert) {
  const body = alert.conflict?.id ? { alert: alert.id, conflict: alert.conflict.id } : { alert: alert.id };
  const document = makeDocument("alert-acknowledgement", state.me.id, body, [state.me.id], state.hub.now());
  const answer = await state.hub.submit(await sign(document, state.key, state.me.id));
  const conflict = alert.conflict?.state === "open" ? { ...alert.conflict, state: "acknowledged" } : alert.conflict;
  state.alerts.set(alert.id, { ...alert, acknowledged_at: answer.received_at, conflict });
  if (conflict?.id) state.conflicts.set(conflict.id, conflict);
}

function renderAlerts() {
  const list = $("#alerts");
  const stateLine = $("#alerts-state");
  const filter = alertFilter();
  if (!state.alertsAvailable) {
    const all = [...state.conflicts.values()].map((c) => ({ id: c.id, kind: c.kind, severity: c.severity, created_at: c.created_at, conflict: c, acknowledged_at: null }));
    fillChoices($("#alerts-kind"), choicesOf(all, alertKind), "Any type");
    fillChoices($("#alerts-severity"), choicesOf(all, (a) => a.severity), "Any severity");
    const shown = filterAlerts(all, filter);
    $("#alerts-ack-shown").hidden = true;
    stateLine.textContent = shown.length ? "This hub has no alert feed; the conflicts that concern you are listed instead." : "This hub has no alert feed, and no conflict shown here concerns you.";
    clear(list, shown.map((a) => alertItem(a, false)));
    return;
  }
  const alerts = [...state.alerts.values()];
  fillChoices($("#alerts-kind"), choicesOf(alerts, alertKind), "Any type");
  fillChoices($("#alerts-severity"), choicesOf(alerts, (a) => a.severity), "Any severity");
  const shown = filterAlerts(alerts, filter);
  const open = alerts.filter((a) => !a.acknowledged_at).length;
  $("#alert-count").textContent = open ? `${open} new` : "";
  const toAck = ackable(shown).length;
  $("#alerts-ack-shown").disabled = toAck === 0;
  $("#alerts-ack-shown").textContent = toAck ? `Acknowledge all shown (${toAck})` : "Acknowledge all shown";
  if (alerts.length) $("#alerts-shown").textContent = `${shown.length} of ${alerts.length} alert${alerts.length === 1 ? "" : "s"} shown.`;
  stateLine.textContent = !alerts.length
    ? `No alerts for ${state.me.id}. Conflicts that concern your party will appear here as they are raised.`
    : shown.length ? "" : "No alert matches these filters.";
  stateLine.hidden = !stateLine.textContent;
  // Hundreds of alerts would make the panel unusable: the newest 200 that match.
  clear(list, shown.slice(0, 200).map((a) => alertItem(a, true)));
}

function alertItem(alert, canAck) {
  const c = alert.conflict ?? {};
  const status = el("span", { class: "status", role: "status" });
  const ack = el(
    "button",
    {
      type: "button",
      class: "ack",
      "aria-label": "Acknowledge this alert (mark it as seen)",
      onclick: async () => {
        ack.disabled = true;
        try {
          await acknowledgeAlert(alert);
          renderAlerts();
        } catch (err) {
          status.textContent = `Not acknowledged: ${err.message}`;
          ack.disabled = false;
        }
      },
    },
    "Acknowledge",
  );
  const target = c.record && state.records.has(c.record) ? c.record : c.other;
  return el(
    "li",
    { class: `alert ${alert.severity ?? ""} ${alert.acknowledged_at ? "seen" : "new"} state-${alertState(alert)}`, dataset: { alert: alert.id, conflict: c.id ?? "", state: alertState(alert) } },
    el("div", { class: "alert-head" }, el("span", { class: `severity ${alert.severity}` }, alert.severity ?? ""), " ", el("strong", {}, c.kind ?? alert.kind ?? "alert"), " ", el("span", { class: "alert-state" }, alertState(alert)), " ", el("time", { datetime: alert.created_at }, when(alert.created_at))),
    el("p", {}, humanize(c.detail)),
    el(
      "div",
      { class: "actions" },
      target && state.records.has(target)
        ? el("button", { type: "button", onclick: () => { select(target); view.focus(target); } }, "Show on map")
        : null,
      canAck ? (alert.acknowledged_at ? el("span", { class: "seen-at" }, `Acknowledged ${when(alert.acknowledged_at)}`) : ack) : null,
      status,
    ),
  );
}

// -- side panels --------------------------------------------------------------------------

function setupTime() {
  const slider = $("#time-slider");
  const all = $("#time-all");
  const out = $("#time-value");
  // From a day ago to a week ahead, in quarter hours.
  const base = Math.floor((Date.now() - 24 * 3_600_000) / 900_000) * 900_000;
  span.from = base;
  span.to = base + 8 * 24 * 3_600_000;
  slider.max = String(8 * 24 * 4);
  slider.value = String(24 * 4 + 4);
  const apply = () => {
    slider.disabled = all.checked;
    const t = new Date(base + Number(slider.value) * 900_000);
    out.textContent = all.checked ? "Every time" : when(t.toISOString());
    slider.setAttribute("aria-valuetext", out.textContent);
    view.setTime(all.checked ? null : t);
    span.at = all.checked ? null : t.getTime();
    renderLegend();
    renderTimeline();
  };
  slider.addEventListener("input", apply);
  all.addEventListener("change", apply);
  apply();
}

// The slider's span, and the time it shows (null: every time).
const span = { from: 0, to: 1, at: null };

// What is planned when: one bar per operation volume or movement in force in the slider's span.
function renderTimeline() {
  const host = $("#timeline");
  if (!host || !span.to) return;
  const items = [...state.records.values()].filter((r) => (r.kind === "operation" || r.kind === "movement") && inForce(r)).flatMap((r) => windowsOf(r, recordName(r)));
  const rows = timelineRows(items, span.from, span.to);
  const pct = (x) => `${(x * 100).toFixed(2)}%`;
  const axis = el("div", { class: "timeline-axis", "aria-hidden": "true" }, ticks(span.from, span.to, 48).map((t) => el("span", { class: "tick", style: `left:${pct(t.x)}` }, t.label)));
  const cursor = span.at === null ? null : el("div", { class: "timeline-now", style: `left:${pct((span.at - span.from) / (span.to - span.from))}`, "aria-hidden": "true" });
  const shown = rows.slice(0, 60);
  clear(
    host,
    rows.length ? [
      el("p", { class: "help" }, `${rows.length} window${rows.length === 1 ? "" : "s"} from ${utcLabel(span.from)} to ${utcLabel(span.to)}${rows.length > shown.length ? `; the first ${shown.length} are drawn` : ""}.`),
      el(
        "div",
        { class: "timeline-body" },
        axis,
        cursor,
        el(
          "ul",
          { class: "timeline-rows" },
          shown.map((row) =>
            el(
              "li",
              { class: `timeline-row ${row.kind}` },
              el(
                "button",
                {
                  type: "button",
                  class: `timeline-bar ${row.kind}`,
                  style: `left:${pct(row.x0)};width:${pct(Math.max(row.x1 - row.x0, 0.004))}`,
                  title: `${row.name}: ${utcLabel(Date.parse(row.start))} to ${row.end ? utcLabel(Date.parse(row.end)) : "open"}`,
                  "aria-label": `${row.name}, ${KIND_LABEL[row.kind]}, ${utcLabel(Date.parse(row.start))} to ${row.end ? utcLabel(Date.parse(row.end)) : "open"}`,
                  onclick: () => { select(row.id); view.focus(row.id); },
                },
                el("span", {}, row.name),
              ),
            ),
          ),
        ),
      ),
    ] : el("p", { class: "help" }, "Nothing planned in this span."),
  );
}

const LAYERS = [
  ["sites", "Protected sites"],
  ["operations", "Operations (volumes)"],
  ["movements", "Movements"],
  ["areas", "Areas (the map in force)"],
  ["proposed", "Proposed area changes (not in force)"],
  ["incidents", "Incidents"],
  ["conflicts", "Conflicts"],
  ["towns", "Towns and governorate names"],
  ["governorates", "Governorates"],
];
const hidden = new Set();

function swatch(name) {
  const line = (color, dash = "", width = 3) => `<svg viewBox="0 0 28 14" width="28" height="14" aria-hidden="true"><path d="M2 7h24" stroke="${color}" stroke-width="${width}" stroke-dasharray="${dash}"/></svg>`;
  switch (name) {
    case "sites":
      return siteIconHtml("hospital", true);
    case "operations":
      return `<svg viewBox="0 0 28 18" width="28" height="18" aria-hidden="true"><rect x="2" y="2" width="24" height="14" fill="${OKABE_ITO.blue}" fill-opacity=".25" stroke="${OKABE_ITO.blue}" stroke-width="2"/></svg>`;
    case "movements":
      return line(OKABE_ITO.reddishPurple, "", 5);
    case "conflicts":
      return line(OKABE_ITO.vermillion, "2 6", 4);
    case "incidents":
      return INCIDENT_ICON;
    case "areas":
      return line(AREA_RULES["no-fly"].color, "10 6");
    case "proposed":
      return line("#555", "2 5", 2);
    default:
      return line("#5d574c", "5 3", 1.5);
  }
}

function svgNode(html) {
  // Only the page's own constant SVG reaches here, never text from a record.
  const holder = document.createElement("span");
  holder.className = "swatch";
  holder.innerHTML = html;
  return holder;
}

function renderLegend() {
  const counts = {
    sites: kindCount("site"),
    operations: view ? `${view.countShown("operations")} volumes shown` : "",
    movements: kindCount("movement"),
    areas: [...state.maps.keys()].reduce((n, name) => n + (mapRecords(name).inForce?.document.body.areas?.length ?? 0), 0),
    incidents: kindCount("incident"),
    conflicts: state.conflicts.size,
  };
  const items = LAYERS.map(([name, label]) => {
    const box = el("input", { type: "checkbox", id: `layer-${name}`, checked: !hidden.has(name) });
    box.addEventListener("change", () => {
      if (box.checked) hidden.delete(name);
      else hidden.add(name);
      view.setVisible(name, box.checked);
    });
    const count = counts[name];
    return el("li", {}, box, el("label", { for: box.id }, svgNode(swatch(name)), label, count !== undefined && count !== "" ? el("span", { class: "count" }, ` ${count}`) : null));
  });
  const siteKey = el(
    "li",
    { class: "sub" },
    el("span", {}, svgNode(siteIconHtml("other", true)), state.me.role === "member" ? "Receipt acknowledged by you" : "Receipt acknowledged by every member"),
    el("span", {}, svgNode(siteIconHtml("other", false)), state.me.role === "member" ? "Not yet acknowledged by you" : "Not yet acknowledged by every member"),
    el("span", { class: "categories" }, Object.entries(SITE_CATEGORIES).map(([k, v]) => el("span", {}, svgNode(siteIconHtml(k, null)), v.label))),
  );
  const areaKey = el("li", { class: "sub" }, Object.entries(AREA_RULES).map(([, r]) => el("span", {}, svgNode(`<svg viewBox="0 0 28 14" width="28" height="14" aria-hidden="true"><path d="M2 7h24" stroke="${r.color}" stroke-width="3" stroke-dasharray="${r.dashArray}"/></svg>`), r.label)));
  const group = el("input", { type: "checkbox", id: "layer-cluster", checked: view?.clustering ?? true });
  group.addEventListener("change", () => view.setClustering(group.checked));
  siteKey.prepend(el("span", { class: "inline" }, group, el("label", { for: group.id }, "Group nearby sites into counts")));
  items.splice(1, 0, siteKey);
  items.splice(5, 0, areaKey);
  clear($("#legend"), items);
}

// Each area map: the version in force, and the latest one if it still awaits answers.
function renderMaps() {
  const host = $("#maps");
  const maps = [...state.maps.values()];
  $("#maps-state").textContent = maps.length ? "" : "No area map has been proposed yet.";
  clear(
    host,
    maps.map((m) => {
      const latest = m.versions.find((v) => v.version === m.latest);
      const inForce = m.versions.find((v) => v.version === m.in_force);
      const open = (v, label) => el("button", { type: "button", class: "link", onclick: () => select(v.record) }, label);
      return el(
        "li",
        {},
        el("strong", {}, `“${m.map}”`),
        ": ",
        inForce ? open(inForce, `version ${inForce.version} in force`) : "no version in force",
        latest && latest !== inForce
          ? [
              "; ",
              open(latest, `version ${latest.version} ${latest.status}`),
              ` by ${latest.proposer}`,
              latest.waiting_for.length ? `, waiting for ${latest.waiting_for.join(", ")}` : "",
            ]
          : "",
        ".",
      );
    }),
  );
}

function kindCount(kind) {
  let n = 0;
  for (const r of state.records.values()) if (r.kind === kind && inForce(r)) n++;
  return n;
}

function setupRecordList() {
  $("#records-kind").addEventListener("change", renderRecordList);
  $("#records-find").addEventListener("input", renderRecordList);
}

function recordButton(r) {
  return el(
    "button",
    { type: "button", class: "link", onclick: () => { select(r.id); view.focus(r.id); } },
    recordName(r),
  );
}

function renderRecordList() {
  const kind = $("#records-kind").value;
  const find = $("#records-find").value.trim().toLowerCase();
  const shown = [...state.records.values()].filter((r) => (!kind || r.kind === kind) && (!find || recordName(r).toLowerCase().includes(find))).reverse();
  const more = shown.length > 300 ? " The newest 300 are listed: narrow the search to see others." : "";
  $("#records-state").textContent = shown.length
    ? `${shown.length} record${shown.length === 1 ? "" : "s"}, newest first.${more}`
    : find || kind ? "No record you can see matches." : "No records are visible to you yet.";
  clear(
    $("#records"),
    shown.slice(0, 300).map((r) => {
      const standing = inForce(r) ? "" : ` · ${statusOf(r.id)}`;
      return el("li", {}, recordButton(r), el("span", { class: "meta" }, ` ${KIND_LABEL[r.kind] ?? r.kind} · ${r.party} · ${when(r.received_at)}${standing}`));
    }),
  );
}

function renderPending() {
  const panel = $("#pending-panel");
  if (!may("acknowledgement")) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const pending = [...state.records.values()].filter((r) => r.kind === "site" && inForce(r) && r.party !== state.me.id && !acknowledgedBy(r.id).has(state.me.id));
  $("#pending-count").textContent = pending.length ? String(pending.length) : "";
  clear(
    $("#pending"),
    pending.length ? pending.map((r) => el("li", {}, recordButton(r))) : el("li", { class: "empty" }, "None: you have acknowledged receipt of every protected site you can see."),
  );
}

// Print the current view: the map with its scale, and the layers' legend beside it (the print
// stylesheet leaves out the rest of the sidebar).
function setupExport() {
  $("#print-map").addEventListener("click", () => window.print());
  $("#export-png").addEventListener("click", async () => {
    const button = $("#export-png");
    button.disabled = true;
    try {
      const { exportPng } = await import("./export.js");
      const blob = await exportPng(view.map, $("#legend"), `${state.me.id} · ${when(new Date().toISOString())}`);
      const url = URL.createObjectURL(blob);
      const a = el("a", { href: url, download: `parley-map-${new Date().toISOString().slice(0, 16).replace(":", "")}Z.png` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      toast("Map saved as PNG, with its legend and scale.");
    } catch (err) {
      toast(`Could not save the map: ${err.message}`, true);
    } finally {
      button.disabled = false;
    }
  });
  for (const event of ["beforeprint", "afterprint"]) window.addEventListener(event, () => view.map.invalidateSize());
}

function setupCheckFile() {
  $("#check-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    const result = $("#check-result");
    if (!file) return;
    let receipt;
    try {
      receipt = JSON.parse(await file.text());
    } catch {
      clear(result, el("p", { class: "error failed" }, "✗ This file is not JSON: choose a receipt downloaded from parley."));
      return;
    }
    await showCheck(receipt, result);
  });
}

// -- notices ------------------------------------------------------------------------------

let toastTimer = null;
function toast(text, error = false) {
  const node = $("#toast");
  node.textContent = text;
  node.className = error ? "toast error" : "toast";
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 6000);
}

if (!window.isSecureContext || !crypto?.subtle) {
  $("#signin-error").textContent = "This page needs a secure context to sign (HTTPS, or http://localhost). Ask the hub operator to serve it over HTTPS.";
  $("#signin-form button[type=submit]").disabled = true;
}
