// Evidence on the page: "Download evidence" in a record's panel (the file as the hub signed it,
// byte for byte), and an evidence file chosen or dropped anywhere on the page checked here,
// offline, by evidence.js with the log key and witness policy the page signed in with. The lines
// shown are `parley verify evidence`'s, so a reader can compare the two.

import { HubError } from "./api.js";
import { $, clear, el, kept } from "./dom.js";
import { checkEvidence, textLines } from "./evidence.js";
import { state } from "./state.js";

export const EVIDENCE_KINDS = ["site", "movement", "operation", "incident"];

// The block in the panel of a record evidence is given about; null for other kinds.
export function evidenceBlock(record) {
  if (!EVIDENCE_KINDS.includes(record.kind)) return null;
  return kept(`evidence ${record.id}`, () => makeEvidenceBlock(record));
}

function makeEvidenceBlock(record) {
  const status = el("p", { class: "status evidence-status", role: "status", "aria-live": "polite" });
  const button = el("button", { type: "button" }, "Download evidence");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.className = "status evidence-status";
    status.textContent = "Fetching the evidence…";
    try {
      const name = await downloadEvidence(record);
      status.textContent = `Evidence saved as ${name}: check it here (drop it on the page) or offline with parley verify evidence.`;
    } catch (err) {
      status.textContent = `No evidence: ${err.message}`;
      status.className = "status evidence-status error";
    } finally {
      button.disabled = false;
    }
  });
  return el(
    "div",
    { class: "block" },
    el("h4", {}, "Evidence"),
    el("p", { class: "help" }, "Everything signed about this record that you may see, with the hub's proofs: for anyone to check offline with the log key alone."),
    el("div", { class: "actions" }, button),
    status,
  );
}

async function downloadEvidence(record) {
  const response = await state.hub.request("GET", `/api/v1/evidence/${encodeURIComponent(record.id)}`);
  // The text as served: every byte of the file is covered by a signature or a proof.
  const text = await response.text();
  if (!response.ok) {
    let problem = {};
    try {
      problem = JSON.parse(text);
    } catch {
      problem = { detail: text.slice(0, 300) };
    }
    throw new HubError({ status: response.status, ...problem });
  }
  const name = `evidence-${record.kind}-${record.id.slice(0, 8)}.json`;
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

// Check the file's text and show the result in `host`.
export async function showEvidence(text, host) {
  clear(host, el("p", {}, "Checking the evidence in this browser…"));
  let report;
  try {
    report = await checkEvidence(text, state.verifierKey, state.policy ?? null);
  } catch (err) {
    clear(host, el("p", { class: "error failed" }, `✗ This evidence does not verify: ${err.message}`));
    return null;
  }
  const lines = textLines(report);
  const list = el("ol", { class: "evidence-lines", "aria-label": "Evidence timeline" });
  let last = null;
  for (const l of lines) {
    if (l.detail) {
      last?.querySelector("ul")?.append(el("li", { class: "evidence-detail" }, l.text.trim()));
      continue;
    }
    const c = l.checked;
    const mark = l.text.includes(" ✗ ") || l.text.startsWith("✗") ? "failed" : l.text.includes(" ✓ ") || l.text.startsWith("✓") ? "ok" : "";
    last = el("li", { class: `evidence-item ${mark}` }, el("span", { class: "evidence-line" }, l.text), c?.ok ? el("ul", { class: "evidence-details" }) : null);
    list.append(last);
  }
  clear(
    host,
    report.ok
      ? el("p", { class: "ok" }, "✓ Evidence verified in this browser, offline: every signature, proof and cosignature.")
      : el("p", { class: "error failed" }, `✗ This evidence does not verify: ${report.failures.length} failure(s), marked ✗ below.`),
    list,
  );
  return report;
}

async function checkFile(file, host) {
  if (!state.verifierKey) {
    clear(host, el("p", { class: "error" }, "Sign in first: the file is checked with this hub's log key."));
    return;
  }
  host.closest("section")?.scrollIntoView({ block: "start" });
  await showEvidence(await file.text(), host);
}

// The file input, and a drop anywhere on the page.
export function setupEvidence() {
  const input = $("#evidence-file");
  const host = $("#evidence-result");
  input.addEventListener("change", async () => {
    if (input.files[0]) await checkFile(input.files[0], host);
  });
  const files = (e) => [...(e.dataTransfer?.types ?? [])].includes("Files");
  document.addEventListener("dragover", (e) => {
    if (!files(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
    document.body.classList.add("evidence-drop");
  });
  document.addEventListener("dragleave", (e) => {
    if (!e.relatedTarget) document.body.classList.remove("evidence-drop");
  });
  document.addEventListener("drop", async (e) => {
    if (!files(e)) return;
    e.preventDefault();
    document.body.classList.remove("evidence-drop");
    const file = e.dataTransfer.files[0];
    if (file) await checkFile(file, host);
  });
}
