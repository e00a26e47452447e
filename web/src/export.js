// The current view as a PNG: the map as drawn (base layers, records, scale), with the layers'
// legend and a title line laid over it for the time of the picture. html-to-image draws the
// page's own DOM into a canvas; no tile server is involved, so nothing leaves the browser.

import { toBlob } from "html-to-image";

import { el } from "./dom.js";

export async function exportPng(map, legend, caption) {
  const container = map.getContainer();
  const overlay = el(
    "div",
    { class: "export-legend" },
    el("p", { class: "export-caption" }, `parley · ${caption}`),
    legendCopy(legend),
  );
  container.append(overlay);
  try {
    const blob = await toBlob(container, {
      pixelRatio: 1,
      backgroundColor: "#ffffff",
      // Buttons are for the screen, not the picture.
      filter: (node) => !(node instanceof HTMLElement && (node.classList.contains("leaflet-control-zoom") || node.classList.contains("fit-all"))),
    });
    if (!blob) throw new Error("the browser drew nothing");
    return blob;
  } finally {
    overlay.remove();
  }
}

// The legend as it reads, without its checkboxes: hidden layers are left out.
function legendCopy(legend) {
  const copy = legend.cloneNode(true);
  copy.removeAttribute("id");
  for (const item of [...copy.children]) {
    const box = item.querySelector("input[type=checkbox]");
    if (box && !legend.querySelector(`#${CSS.escape(box.id)}`)?.checked && box.id !== "layer-cluster") item.remove();
  }
  for (const node of copy.querySelectorAll("input, [id]")) {
    if (node.tagName === "INPUT") node.remove();
    else node.removeAttribute("id");
  }
  for (const label of copy.querySelectorAll("label")) label.removeAttribute("for");
  return copy;
}
