// Drawing a footprint on the map: a polygon (click each vertex, then Finish or click the first
// vertex), a route (click each point, then Finish), a circle (click the centre; a second click sets the radius) or a point (one click).
// Every shape drawn here is also written into the form's text fields, and the same shape can
// be typed there instead, so the map is a convenience and never the only way in.

import * as L from "leaflet";

import { STYLE } from "./style-constants.js";

export class DrawTool {
  constructor(view, { onChange, onStatus }) {
    this.view = view;
    this.map = view.map;
    this.onChange = onChange;
    this.onStatus = onStatus;
    this.mode = null;
    this.points = [];
    this.center = null;
    this.radius = null;
    this.layer = L.layerGroup().addTo(this.map);
    this.keys = (e) => this.key(e);
  }

  get active() {
    return this.mode !== null;
  }

  start(mode, { radius } = {}) {
    this.stop(false);
    this.mode = mode;
    this.lineShape = mode === "line";
    this.points = [];
    this.center = null;
    this.radius = radius ?? null;
    this.layer.clearLayers();
    this.view.clickHook = (latlng) => this.add(latlng);
    this.clicks = (e) => this.add(e.latlng);
    this.map.on("click", this.clicks);
    // Two quick clicks at nearby vertices must not zoom the map under the pointer.
    this.map.doubleClickZoom.disable();
    this.map.getContainer().classList.add("drawing");
    document.addEventListener("keydown", this.keys);
    this.say();
  }

  stop(keepShape = true) {
    if (!this.mode) return;
    this.map.off("click", this.clicks);
    this.view.clickHook = null;
    this.map.doubleClickZoom.enable();
    this.map.getContainer().classList.remove("drawing");
    document.removeEventListener("keydown", this.keys);
    this.mode = null;
    if (!keepShape) this.layer.clearLayers();
    this.onStatus("");
  }

  // Keys work while the map (not a text field) has focus: Enter finishes, Escape cancels,
  // Backspace removes the last vertex.
  key(e) {
    const target = e.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return;
    if (e.key === "Enter") {
      e.preventDefault();
      this.finish();
    } else if (e.key === "Escape") {
      e.preventDefault();
      this.stop(false);
      this.onChange(null);
    } else if (e.key === "Backspace" && (this.mode === "polygon" || this.mode === "line")) {
      e.preventDefault();
      this.points.pop();
      this.redraw();
      this.say();
    }
  }

  add(latlng) {
    const at = L.latLng(round(latlng.lat), round(L.Util.wrapNum(latlng.lng, [-180, 180], true)));
    if (this.mode === "point") {
      this.center = at;
      this.redraw();
      this.emit();
      this.stop();
    } else if (this.mode === "circle") {
      if (!this.center) {
        this.center = at;
        this.redraw();
        this.emit();
        this.say();
      } else {
        this.radius = Math.max(1, Math.round(this.map.distance(this.center, at)));
        this.redraw();
        this.emit();
        this.stop();
      }
    } else if (this.mode === "polygon" || this.mode === "line") {
      this.points.push(at);
      this.redraw();
      this.emit();
      this.say();
    }
  }

  finish() {
    if (this.mode === "polygon" && this.points.length < 3) {
      this.onStatus("A polygon needs at least three vertices: click more points on the map.");
      return false;
    }
    if (this.mode === "line" && this.points.length < 2) {
      this.onStatus("A route needs at least two points: click more points on the map.");
      return false;
    }
    if (this.mode === "circle" && !this.center) {
      this.onStatus("Click the circle's centre on the map first.");
      return false;
    }
    this.emit();
    this.stop();
    return true;
  }

  say() {
    const n = this.points.length;
    const text = {
      point: "Click the map to place the position. Escape cancels.",
      circle: this.center ? "Click again to set the radius, or press Finish to keep the radius typed in the form." : "Click the circle's centre on the map. Escape cancels.",
      polygon: `${n} ${n === 1 ? "vertex" : "vertices"}: click to add, click the first vertex or press Finish (Enter) to close, Backspace removes the last.`,
      line: `${n} route ${n === 1 ? "point" : "points"}: click to add, press Finish (Enter) to end the route, Backspace removes the last.`,
    }[this.mode];
    this.onStatus(text ?? "");
  }

  emit() {
    this.onChange(this.shape());
  }

  shape() {
    if (this.mode === "line" || (this.mode === null && this.lineShape && this.points.length)) {
      return { type: "line", points: this.points.slice() };
    }
    if (this.mode === "polygon" || (this.mode === null && this.points.length)) {
      return { type: "polygon", points: this.points.slice() };
    }
    if (this.center && (this.mode === "circle" || this.radius !== null)) {
      return { type: "circle", center: this.center, radius: this.radius };
    }
    if (this.center) return { type: "point", center: this.center };
    return null;
  }

  // Show a shape that came from the form's text fields.
  show(shape) {
    this.lineShape = shape?.type === "line";
    this.points = shape?.type === "polygon" || shape?.type === "line" ? shape.points.map((p) => L.latLng(p)) : [];
    this.center = shape?.center ? L.latLng(shape.center) : null;
    this.radius = shape?.radius ?? null;
    this.redraw(shape?.type);
  }

  setRadius(radius) {
    this.radius = radius;
    this.redraw();
  }

  redraw(type = this.mode) {
    this.layer.clearLayers();
    if (this.points.length && (type === "line" || (!type && this.lineShape))) {
      L.polyline(this.points, { ...STYLE.drawing, interactive: false }).addTo(this.layer);
      for (const p of this.points) L.circleMarker(p, { radius: 5, color: "#000", weight: 2, fillColor: "#fff", fillOpacity: 1, className: "draw-vertex" }).addTo(this.layer);
    } else if (this.points.length) {
      const closed = this.mode !== "polygon" || this.points.length >= 3;
      L.polygon(this.points, { ...STYLE.drawing, interactive: false, fill: closed }).addTo(this.layer);
      this.points.forEach((p, i) => {
        const vertex = L.circleMarker(p, { radius: i === 0 ? 7 : 5, color: "#000", weight: 2, fillColor: "#fff", fillOpacity: 1, className: "draw-vertex" });
        if (i === 0) {
          vertex.on("click", (e) => {
            L.DomEvent.stop(e);
            if (this.mode === "polygon") this.finish();
          });
        }
        vertex.addTo(this.layer);
      });
    }
    if (this.center) {
      if (type === "circle" || this.radius) {
        L.circle(this.center, { ...STYLE.drawing, radius: this.radius || 1, interactive: false }).addTo(this.layer);
      }
      L.circleMarker(this.center, { radius: 5, color: "#000", weight: 2, fillColor: "#fff", fillOpacity: 1, interactive: false }).addTo(this.layer);
    }
  }

  clear() {
    this.stop(false);
    this.points = [];
    this.center = null;
    this.layer.clearLayers();
  }
}

function round(x) {
  return Math.round(x * 1e6) / 1e6;
}
