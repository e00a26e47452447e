// Building DOM nodes from data. Record text comes from other parties, so it is only ever set
// as text, never parsed as HTML.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// Blocks that outlive a redraw of the panel holding them. The record panel is rebuilt whenever
// the hub's records change; a receipt being checked, or its answer, must not vanish with it.
const keptBlocks = new Map();
export function kept(key, make) {
  let node = keptBlocks.get(key);
  if (!node) {
    if (keptBlocks.size >= 64) keptBlocks.clear();
    node = make();
    keptBlocks.set(key, node);
  }
  return node;
}

// "2026-11-25T21:00:00.000000Z" -> "25 Nov 21:00Z"; times are shown in UTC everywhere, as
// the hub stores them, so two parties reading the same record read the same time.
export function when(iso) {
  if (!iso) return "until further notice";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const month = d.toLocaleString("en-GB", { month: "short", timeZone: "UTC" });
  const hh = String(d.getUTCHours()).padStart(2, "0");
  const mm = String(d.getUTCMinutes()).padStart(2, "0");
  return `${d.getUTCDate()} ${month} ${d.getUTCFullYear()} ${hh}:${mm}Z`;
}

// <input type="datetime-local"> values are read and written as UTC, and labelled so.
export function toLocalInput(date) {
  return date.toISOString().slice(0, 16);
}

export function fromLocalInput(value) {
  if (!value) return null;
  // "YYYY-MM-DDTHH:MM" or with seconds; either way read as UTC.
  const d = new Date(`${value.length === 16 ? `${value}:00` : value}Z`);
  if (Number.isNaN(d.getTime())) throw new Error(`${value} is not a date and time`);
  return d.toISOString();
}

export function metres(m) {
  if (m === null || m === undefined) return "";
  return m >= 10_000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m).toLocaleString("en-GB")} m`;
}
