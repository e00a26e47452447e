// The notification forms. Each builds a record body in the shape the hub screens
// (src/parley/geo/shapes.py), signs it here with the party's key and submits it. Every field
// has a label, every map gesture has a typed equivalent, and a refusal says which field and why.

import { CoordinateError, formatDms, formatMgrs, parseCoordinate } from "./coords.js";
import { hex, sha256 } from "./bytes.js";
import { clear, el, fromLocalInput, toLocalInput } from "./dom.js";
import { AREA_RULES, SITE_CATEGORIES } from "./style-constants.js";
import { BodyError, MAX_CORRIDOR_M, SEVERAL_SITES, movementBody, sitesMet } from "./shift.js";
import { humanize, mapRecords, may, members, state } from "./state.js";

export const hooks = {
  draw: null, // DrawTool
  submit: async () => {}, // (kind, body, audience) -> hub answer
  drawStatus: () => {},
};

let formCount = 0;
const uid = (name) => `f${formCount}-${name}`;

// -- pieces -------------------------------------------------------------------------------

function field(label, input, help) {
  const helpId = help ? `${input.id}-help` : undefined;
  if (helpId) input.setAttribute("aria-describedby", helpId);
  return el("div", { class: "field" }, el("label", { for: input.id }, label), input, help ? el("p", { class: "help", id: helpId }, help) : null);
}

export function inRange(input, low, high, what) {
  const value = Number(input.value);
  if (input.value === "" || !Number.isFinite(value) || value < low || value > high) {
    throw new FieldError(input, `${what} must be a number from ${low} to ${high}`);
  }
  return value;
}

export class FieldError extends Error {
  constructor(input, message) {
    super(message);
    this.input = input;
  }
}

// A position typed as lat/lon, DMS or MGRS, or picked on the map; read back in all three.
function positionField(label, onPick) {
  const input = el("input", { id: uid("pos"), type: "text", autocomplete: "off", spellcheck: "false", placeholder: "36.2012, 37.1612 · 36°12′04″N 37°09′40″E · 37S BA 12345 67890" });
  const readout = el("output", { class: "readout", for: input.id, id: `${input.id}-readout` });
  const pick = el("button", { type: "button", onclick: () => onPick(), "aria-describedby": readout.id }, "Pick on map");
  input.setAttribute("aria-describedby", readout.id);
  const show = () => {
    if (!input.value.trim()) {
      readout.textContent = "Type lat, lon (decimal), DMS or MGRS, or pick on the map.";
      readout.className = "readout";
      input.removeAttribute("aria-invalid");
      return null;
    }
    try {
      const at = parseCoordinate(input.value);
      readout.textContent = `Reads as ${at.lat.toFixed(5)}, ${at.lon.toFixed(5)} · ${formatDms(at)} · MGRS ${formatMgrs(at)}`;
      readout.className = "readout";
      input.removeAttribute("aria-invalid");
      whereIs(input.value, readout);
      return at;
    } catch (err) {
      readout.textContent = err.message;
      readout.className = "readout error";
      input.setAttribute("aria-invalid", "true");
      return null;
    }
  };
  input.addEventListener("input", show);
  show();
  return {
    node: el("div", { class: "field" }, el("label", { for: input.id }, label), el("div", { class: "with-button" }, input, pick), readout),
    input,
    set(latlng) {
      input.value = `${latlng.lat.toFixed(6)}, ${latlng.lng.toFixed(6)}`;
      show();
    },
    get() {
      try {
        return parseCoordinate(input.value);
      } catch (err) {
        throw new FieldError(input, err instanceof CoordinateError ? `Position: ${err.message}` : err.message);
      }
    },
  };
}

// The hub's reading of the same text: the nearest place and governorate, or why it would refuse
// it (outside the area it serves, axes swapped). Asked once the typing pauses.
let whereTimer = 0;
function whereIs(text, readout) {
  clearTimeout(whereTimer);
  whereTimer = setTimeout(async () => {
    if (!state.hub) return;
    const reads = readout.textContent;
    try {
      const found = await state.hub.get("/api/v1/position", { q: text });
      if (readout.textContent === reads && found.near) readout.textContent = `${reads} · ${found.near}`;
    } catch (err) {
      if (readout.textContent !== reads) return;
      readout.textContent = `${reads} · The hub would refuse it: ${err.message}`;
      readout.className = "readout error";
    }
  }, 250);
}

// "All parties", or a list. The author is always in the audience; the hub adds it.
function audienceField() {
  const id = uid("aud");
  const all = el("input", { type: "radio", name: id, id: `${id}-all`, value: "all", checked: true });
  const some = el("input", { type: "radio", name: id, id: `${id}-some`, value: "some" });
  const others = [...state.parties.values()].filter((p) => p.id !== state.me.id);
  const boxes = others.map((p) => el("input", { type: "checkbox", id: `${id}-${p.id}`, value: p.id, disabled: true }));
  const sync = () => boxes.forEach((b) => (b.disabled = !some.checked));
  all.addEventListener("change", sync);
  some.addEventListener("change", sync);
  const node = el(
    "fieldset",
    { class: "audience" },
    el("legend", {}, "Audience"),
    el("div", { class: "inline" }, all, el("label", { for: all.id }, "All parties")),
    el("div", { class: "inline" }, some, el("label", { for: some.id }, "Only these parties (and mine):")),
    el("div", { class: "choices" }, others.map((p, i) => el("div", { class: "inline" }, boxes[i], el("label", { for: boxes[i].id }, `${p.id} (${p.role})`)))),
  );
  return {
    node,
    get() {
      if (all.checked) return "all";
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!chosen.length) throw new FieldError(boxes[0] ?? some, "Audience: choose at least one party, or all parties");
      return chosen;
    },
  };
}

function timeInput(name, value) {
  return el("input", { id: uid(name), type: "datetime-local", step: 60, value: value ? toLocalInput(value) : "" });
}

export function readTime(input, what, required = true) {
  let iso = null;
  try {
    iso = fromLocalInput(input.value);
  } catch {
    throw new FieldError(input, `${what} is not a date and time`);
  }
  if (!iso && required) throw new FieldError(input, `${what} is required`);
  return iso;
}

// A form in a disclosure, with a status line that says what happened.
function formShell(title, id, build) {
  formCount += 1;
  const status = el("div", { class: "status", role: "status", "aria-live": "polite" });
  const form = el("form", { id, novalidate: true, "aria-label": title });
  const submit = build(form, status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    for (const bad of form.querySelectorAll("[aria-invalid=true]")) bad.removeAttribute("aria-invalid");
    button.disabled = true;
    clear(status, "Signing and sending…");
    status.className = "status";
    try {
      const answer = await submit();
      hooks.draw.clear(); // the record itself is on the map now
      const conflicts = answer.conflicts ?? [];
      const flags = answer.flags ?? [];
      const sites = sitesMet(conflicts);
      clear(
        status,
        el("p", { class: "ok" }, `Notified and logged at sequence ${answer.sequence}.`),
        // Meeting several protected sites is not routine: say so before anything else.
        sites >= SEVERAL_SITES
          ? el("div", { class: "sites-warning", role: "alert" }, el("strong", {}, `Warning: this meets ${sites} protected sites.`), " Check the plan against each of them before it goes ahead.")
          : "",
        // The hub's warnings (possible duplicate, late notice) are never hidden.
        flags.length ? el("div", { class: "flag-note", role: "alert" }, el("strong", {}, "The hub flagged it:"), el("ul", {}, flags.map((f) => el("li", {}, humanize(f))))) : "",
        conflicts.length
          ? el("div", { class: "conflict-note", role: "alert" }, el("strong", {}, `The hub raised ${conflicts.length} conflict${conflicts.length === 1 ? "" : "s"}:`), el("ul", {}, conflicts.map((c) => el("li", {}, `${c.severity} ${c.kind}: ${humanize(c.detail)}`))))
          : el("p", {}, "No conflict was raised for you."),
      );
    } catch (err) {
      status.className = "status error";
      const where = err.input ?? null;
      clear(status, el("p", { role: "alert" }, `Not sent: ${err.message}`));
      if (where) {
        where.setAttribute("aria-invalid", "true");
        where.focus();
      }
    } finally {
      button.disabled = false;
    }
  });
  form.append(status);
  return el("details", { class: "form", id: `${id}-section` }, el("summary", {}, title), form);
}

// -- the forms ----------------------------------------------------------------------------

function siteForm() {
  return formShell("Notify a protected site", "site-form", (form) => {
    const name = el("input", { id: uid("name"), type: "text", required: true });
    const category = el("select", { id: uid("cat") }, Object.entries(SITE_CATEGORIES).map(([k, v]) => el("option", { value: k }, v.label)));
    const where = positionField("Position", () => {
      hooks.draw.start("point");
      hooks.draw.onChange = (shape) => shape && where.set(shape.center);
    });
    const radius = el("input", { id: uid("radius"), type: "number", min: 1, max: 50000, step: 1, value: 300 });
    const start = timeInput("start", new Date());
    const end = timeInput("end", null);
    const audience = audienceField();
    form.append(
      field("Name", name, "As the site is known locally, e.g. Al-Razi hospital."),
      field("Category", category),
      where.node,
      field("Protected radius (metres)", radius, "The buffer around the position that operations must keep clear of."),
      field("Valid from (UTC)", start),
      field("Valid until (UTC, optional)", end, "Leave empty for until further notice."),
      audience.node,
      el("button", { type: "submit", class: "primary" }, "Sign and notify site"),
    );
    return () => {
      if (!name.value.trim()) throw new FieldError(name, "Name is required");
      const at = where.get();
      const body = {
        category: category.value,
        name: name.value.trim(),
        geometry: { type: "Point", coordinates: [at.lon, at.lat] },
        radius_m: inRange(radius, 1, 50000, "Protected radius"),
        valid: { start: readTime(start, "Valid from"), end: readTime(end, "Valid until", false) },
      };
      return hooks.submit("site", body, audience.get());
    };
  });
}

function operationForm() {
  return formShell("Notify an operation", "operation-form", (form) => {
    const name = el("input", { id: uid("name"), type: "text", required: true });
    const kindId = uid("shape");
    const polygon = el("input", { type: "radio", name: kindId, id: `${kindId}-polygon`, value: "polygon", checked: true });
    const circle = el("input", { type: "radio", name: kindId, id: `${kindId}-circle`, value: "circle" });
    const vertices = el("textarea", { id: uid("vertices"), rows: 5, spellcheck: "false", placeholder: "one position per line:\n36.30, 37.10\n36.30, 37.20\n36.22, 37.15" });
    const centre = positionField("Centre", () => startDrawing("circle"));
    const radius = el("input", { id: uid("radius"), type: "number", min: 1, max: 50000, step: 1, value: 5000 });
    const lower = el("input", { id: uid("lower"), type: "number", min: -1000, max: 100000, step: 1, value: 500 });
    const upper = el("input", { id: uid("upper"), type: "number", min: -1000, max: 100000, step: 1, value: 4500 });
    const soon = new Date(Math.ceil(Date.now() / 300_000) * 300_000 + 3_600_000);
    const start = timeInput("start", soon);
    const end = timeInput("end", new Date(soon.getTime() + 2 * 3_600_000));
    const audience = audienceField();

    const drawButton = el("button", { type: "button", id: "draw-start", onclick: () => startDrawing(polygon.checked ? "polygon" : "circle") }, "Draw on map");
    const finishButton = el("button", { type: "button", id: "draw-finish", onclick: () => hooks.draw.finish() }, "Finish shape");
    const clearButton = el("button", { type: "button", onclick: () => { hooks.draw.clear(); vertices.value = ""; centre.input.value = ""; centre.input.dispatchEvent(new Event("input")); } }, "Clear");
    const polygonPart = el("div", { class: "shape-part" }, field("Vertices (lat, lon, DMS or MGRS, one per line)", vertices, "Drawn vertices appear here; you can type or correct them."));
    const circlePart = el("div", { class: "shape-part", hidden: true }, centre.node, field("Radius (metres)", radius));
    const syncShape = () => {
      polygonPart.hidden = !polygon.checked;
      circlePart.hidden = polygon.checked;
    };
    polygon.addEventListener("change", syncShape);
    circle.addEventListener("change", syncShape);

    function startDrawing(mode) {
      if (mode === "circle") {
        circle.checked = true;
        syncShape();
      }
      hooks.draw.onChange = (shape) => {
        if (!shape) return;
        if (shape.type === "polygon") vertices.value = shape.points.map((p) => `${p.lat.toFixed(6)}, ${p.lng.toFixed(6)}`).join("\n");
        if (shape.type === "circle") {
          centre.set(shape.center);
          if (shape.radius) radius.value = shape.radius;
        }
      };
      hooks.draw.start(mode, { radius: Number(radius.value) || 5000 });
    }
    // Typed shapes are shown on the map as they are typed.
    vertices.addEventListener("input", () => {
      const points = vertices.value.split("\n").filter((l) => l.trim()).map((l) => { try { const p = parseCoordinate(l); return [p.lat, p.lon]; } catch { return null; } }).filter(Boolean);
      hooks.draw.show({ type: "polygon", points });
    });
    const showCircle = () => {
      try {
        const c = parseCoordinate(centre.input.value);
        hooks.draw.show({ type: "circle", center: [c.lat, c.lon], radius: Number(radius.value) || 1 });
      } catch {
        /* the readout already says what is wrong */
      }
    };
    centre.input.addEventListener("input", showCircle);
    radius.addEventListener("input", showCircle);

    form.append(
      field("Name", name),
      el(
        "fieldset",
        {},
        el("legend", {}, "Footprint"),
        el("div", { class: "inline" }, polygon, el("label", { for: polygon.id }, "Polygon")),
        el("div", { class: "inline" }, circle, el("label", { for: circle.id }, "Circle")),
        el("div", { class: "actions" }, drawButton, finishButton, clearButton),
        polygonPart,
        circlePart,
      ),
      el("fieldset", {}, el("legend", {}, "Altitude band (metres above the WGS 84 ellipsoid)"), field("Lower", lower), field("Upper", upper)),
      el("fieldset", {}, el("legend", {}, "Time window (UTC)"), field("Start", start), field("End", end)),
      audience.node,
      el("button", { type: "submit", class: "primary" }, "Sign and notify operation"),
    );

    return () => {
      if (!name.value.trim()) throw new FieldError(name, "Name is required");
      hooks.draw.stop();
      const volume = {};
      if (polygon.checked) {
        volume.footprint = readPolygon(vertices);
      } else {
        const c = centre.get();
        volume.footprint = { type: "Point", coordinates: [c.lon, c.lat] };
        volume.radius_m = inRange(radius, 1, 50000, "Radius");
      }
      const lo = inRange(lower, -1000, 100000, "Lower altitude");
      const hi = inRange(upper, -1000, 100000, "Upper altitude");
      if (lo > hi) throw new FieldError(lower, "The lower altitude is above the upper one");
      volume.altitude = { lower_m: lo, upper_m: hi };
      const s = readTime(start, "Start");
      const e = readTime(end, "End");
      if (Date.parse(e) <= Date.parse(s)) throw new FieldError(end, "The window ends before it starts");
      volume.time = { start: s, end: e };
      return hooks.submit("operation", { name: name.value.trim(), volumes: [volume] }, audience.get());
    };
  });
}

// A convoy: a route typed or drawn point by point, a corridor half-width and a time window.
function movementForm() {
  return formShell("Notify a movement (convoy)", "movement-form", (form) => {
    const name = el("input", { id: uid("name"), type: "text", required: true });
    const route = el("textarea", { id: uid("route"), rows: 4, spellcheck: "false", placeholder: "one position per line, in order:\n36.50, 37.50\n36.52, 37.55" });
    const corridor = el("input", { id: uid("corridor"), type: "number", min: 1, max: MAX_CORRIDOR_M, step: 1, value: 200 });
    const soon = new Date(Math.ceil(Date.now() / 300_000) * 300_000 + 3_600_000);
    const start = timeInput("start", soon);
    const end = timeInput("end", new Date(soon.getTime() + 3 * 3_600_000));
    const audience = audienceField();
    const showRoute = () => {
      const points = route.value.split("\n").filter((l) => l.trim()).map((l) => { try { const p = parseCoordinate(l); return [p.lat, p.lon]; } catch { return null; } }).filter(Boolean);
      hooks.draw.show({ type: "line", points });
    };
    route.addEventListener("input", showRoute);
    const draw = () => {
      hooks.draw.onChange = (shape) => shape && (route.value = shape.points.map((p) => `${p.lat.toFixed(6)}, ${p.lng.toFixed(6)}`).join("\n"));
      hooks.draw.start("line");
    };
    form.append(
      field("Name", name, "How the parties will know it, e.g. UN convoy 7."),
      el(
        "fieldset",
        {},
        el("legend", {}, "Route"),
        el("div", { class: "actions" }, el("button", { type: "button", onclick: draw }, "Draw route on map"), el("button", { type: "button", onclick: () => hooks.draw.finish() }, "Finish route")),
        field("Route points (lat, lon, DMS or MGRS, one per line, in order)", route, "Drawn points appear here; you can type or correct them."),
        field("Corridor half-width (metres)", corridor, "How far either side of the route the convoy may be."),
      ),
      el("fieldset", {}, el("legend", {}, "Time window (UTC)"), field("Start", start), field("End", end)),
      audience.node,
      el("button", { type: "submit", class: "primary" }, "Sign and notify movement"),
    );
    const inputs = { name, route, corridor, start, end };
    return () => {
      hooks.draw.stop();
      let body;
      try {
        body = movementBody({ name: name.value, route: route.value, corridor: corridor.value, start: readTime(start, "Start"), end: readTime(end, "End") });
      } catch (err) {
        if (err instanceof BodyError) throw new FieldError(inputs[err.field] ?? name, err.message);
        throw err;
      }
      return hooks.submit("movement", body, audience.get());
    };
  });
}

// A polygon typed (or drawn) one vertex a line, as GeoJSON.
export function readPolygon(vertices) {
  const lines = vertices.value.split("\n").filter((l) => l.trim());
  const points = lines.map((line, i) => {
    try {
      return parseCoordinate(line);
    } catch (err) {
      throw new FieldError(vertices, `Vertex ${i + 1}: ${err.message}`);
    }
  });
  if (points.length < 3) throw new FieldError(vertices, "A polygon needs at least three vertices: draw it on the map or type them");
  return { type: "Polygon", coordinates: [ring(points)] };
}

// A closed GeoJSON ring, counter-clockwise as RFC 7946 asks.
export function ring(points) {
  const coords = points.map((p) => [p.lon, p.lat]);
  let area = 0;
  for (let i = 0; i < coords.length; i++) {
    const [x1, y1] = coords[i];
    const [x2, y2] = coords[(i + 1) % coords.length];
    area += x1 * y2 - x2 * y1;
  }
  if (area < 0) coords.reverse();
  coords.push(coords[0]);
  return coords;
}

function incidentForm() {
  return formShell("Report an incident", "incident-form", (form) => {
    const category = el(
      "select",
      { id: uid("cat") },
      ["strike-reported", "shelling-reported", "casualties-reported", "access-denied", "damage-observed", "other"].map((c) => el("option", { value: c }, c.replace("-", " "))),
    );
    const description = el("textarea", { id: uid("desc"), rows: 3 });
    const where = positionField("Where", () => {
      hooks.draw.start("point");
      hooks.draw.onChange = (shape) => shape && where.set(shape.center);
    });
    const at = timeInput("time", new Date());
    const killed = el("input", { id: uid("killed"), type: "number", min: 0, step: 1, value: 0 });
    const injured = el("input", { id: uid("injured"), type: "number", min: 0, step: 1, value: 0 });
    // Evidence stays with the reporter: only each file's SHA-256 is signed and logged, so the
    // file can later be shown to match what was reported, without ever passing through the hub.
    const files = el("input", { id: uid("evidence"), type: "file", multiple: true });
    const digests = el("ul", { class: "digests", "aria-live": "polite" });
    let evidence = [];
    files.addEventListener("change", async () => {
      evidence = [];
      clear(digests);
      for (const file of files.files) {
        const digest = hex(await sha256(new Uint8Array(await file.arrayBuffer())));
        evidence.push(digest);
        digests.append(el("li", {}, `${file.name}: SHA-256 ${digest}`));
      }
    });
    const audience = audienceField();
    form.append(
      field("Category", category),
      field("What happened", description, "Facts only: what was seen or reported, by whom, and how reliable it is."),
      where.node,
      field("When (UTC)", at),
      el("fieldset", {}, el("legend", {}, "Casualties reported"), field("Killed", killed), field("Injured", injured)),
      field("Evidence files (optional)", files, "Only their SHA-256 digests are signed and sent; keep the files."),
      digests,
      audience.node,
      el("button", { type: "submit", class: "primary" }, "Sign and report incident"),
    );
    return () => {
      if (!description.value.trim()) throw new FieldError(description, "Say what happened");
      const p = where.get();
      const body = {
        category: category.value,
        description: description.value.trim(),
        location: { type: "Point", coordinates: [p.lon, p.lat] },
        time: readTime(at, "When"),
        casualties: { killed: inRange(killed, 0, 1_000_000, "Killed"), injured: inRange(injured, 0, 1_000_000, "Injured") },
        evidence: [...new Set(evidence)],
      };
      return hooks.submit("incident", body, audience.get());
    };
  });
}

// A new version of an area map: the latest version's areas, each kept or dropped, plus one new
// area drawn or typed. The hub puts it in force once every other member accepts it.
function areaMapForm() {
  return formShell("Propose an area map version", "area-form", (form) => {
    const mapName = el("input", { id: uid("map"), type: "text", value: "main", autocomplete: "off" });
    const keep = el("fieldset", {}, el("legend", {}, "Areas to keep from the latest version"));
    const name = el("input", { id: uid("area-name"), type: "text" });
    const rule = el("select", { id: uid("rule") }, Object.entries(AREA_RULES).map(([k, v]) => el("option", { value: k }, v.label)));
    const party = el("select", { id: uid("party") }, members().map((m) => el("option", { value: m.id }, m.id)));
    const group = el("input", { id: uid("group"), type: "text" });
    const vertices = el("textarea", { id: uid("vertices"), rows: 4, spellcheck: "false" });
    const start = timeInput("start", new Date());
    const end = timeInput("end", null);
    const partyField = field("Party that does not fly there", party);
    const groupField = field("Group present", group);
    const syncRule = () => {
      partyField.hidden = rule.value !== "no-fly";
      groupField.hidden = rule.value !== "delineation";
    };
    rule.addEventListener("change", syncRule);
    syncRule();
    const latest = () => mapRecords(mapName.value.trim()).latest;
    const listKept = () => {
      const areas = latest()?.document.body.areas ?? [];
      clear(
        keep,
        el("legend", {}, latest() ? `Areas to keep from version ${latest().document.body.version}` : "No version of this map yet: this proposal is version 1"),
        areas.map((a, i) => {
          const box = el("input", { type: "checkbox", id: `${keep.id || "keep"}-${i}`, value: a.id, checked: true });
          return el("div", { class: "inline" }, box, el("label", { for: box.id }, `${a.name ?? a.id} (${AREA_RULES[a.rule]?.label ?? a.rule})`));
        }),
      );
    };
    keep.id = uid("keep");
    mapName.addEventListener("input", listKept);
    // The maps load after the forms are built: list the areas afresh each time the form opens.
    queueMicrotask(() => form.closest("details")?.addEventListener("toggle", listKept));
    listKept();
    const draw = () => {
      hooks.draw.onChange = (shape) => shape && (vertices.value = shape.points.map((p) => `${p.lat.toFixed(6)}, ${p.lng.toFixed(6)}`).join("\n"));
      hooks.draw.start("polygon");
    };
    vertices.addEventListener("input", () => {
      const points = vertices.value.split("\n").filter((l) => l.trim()).map((l) => { try { const p = parseCoordinate(l); return [p.lat, p.lon]; } catch { return null; } }).filter(Boolean);
      hooks.draw.show({ type: "polygon", points });
    });
    form.append(
      field("Map", mapName, "The map's name; the demo's is main."),
      keep,
      el(
        "fieldset",
        {},
        el("legend", {}, "A new area (optional)"),
        field("Name", name),
        field("Rule", rule),
        partyField,
        groupField,
        el("div", { class: "actions" }, el("button", { type: "button", onclick: draw }, "Draw area on map"), el("button", { type: "button", onclick: () => hooks.draw.finish() }, "Finish area")),
        field("Vertices (lat, lon, DMS or MGRS, one per line)", vertices),
      ),
      el("fieldset", {}, el("legend", {}, "Valid (UTC)"), field("From", start), field("Until (optional)", end)),
      el("button", { type: "submit", class: "primary" }, "Sign and propose version"),
    );
    return () => {
      const map = mapName.value.trim();
      if (!map) throw new FieldError(mapName, "Name the map");
      hooks.draw.stop();
      const base = latest();
      const chosen = new Set([...keep.querySelectorAll("input:checked")].map((b) => b.value));
      const areas = (base?.document.body.areas ?? []).filter((a) => chosen.has(a.id));
      if (vertices.value.trim() || name.value.trim()) {
        if (!name.value.trim()) throw new FieldError(name, "Name the new area");
        const area = { id: areaId(name.value, areas), name: name.value.trim(), rule: rule.value, geometry: readPolygon(vertices) };
        if (rule.value === "no-fly") area.party = party.value;
        if (rule.value === "delineation") {
          if (!group.value.trim()) throw new FieldError(group, "Name the group present");
          area.group = group.value.trim();
        }
        areas.push(area);
      }
      if (!areas.length) throw new FieldError(name, "A map version needs at least one area: keep one or add one");
      const version = (state.maps.get(map)?.latest ?? 0) + 1;
      const valid = { start: readTime(start, "Valid from"), end: readTime(end, "Valid until", false) };
      return hooks.submit("area-map", { map, version, areas, valid }, "all");
    };
  });
}

export function areaId(name, taken) {
  const base = name.trim().toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "area";
  let id = base;
  for (let n = 2; taken.some((a) => a.id === id); n++) id = `${base}-${n}`;
  return id;
}

export function renderForms() {
  const host = document.getElementById("forms");
  const forms = [];
  if (may("site")) forms.push(siteForm());
  if (may("operation")) forms.push(operationForm());
  if (may("movement")) forms.push(movementForm());
  if (may("area-map")) forms.push(areaMapForm());
  if (may("incident")) forms.push(incidentForm());
  clear(host, forms);
  const none = document.getElementById("notify-none");
  none.hidden = forms.length > 0;
  none.textContent = `A ${state.me.role} notifies nothing from this page.`;
}
