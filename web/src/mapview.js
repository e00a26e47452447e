// The map: base layers drawn from GeoJSON the hub serves (no tile server, so it works with no
// internet), and one layer group per kind of record. Everything the page shows on the map is
// also reachable from the sidebar's lists, for people who do not use a mouse.

import * as L from "leaflet";
import { MarkerClusterGroup } from "leaflet.markercluster";

import { formatMgrs } from "./coords.js";

import { el, metres, when } from "./dom.js";
import { AREA_RULES, INCIDENT_ICON, OKABE_ITO, STYLE, siteIconHtml } from "./style-constants.js";

export const SYRIA = [
  [32.3, 35.5],
  [37.35, 42.45],
];

// Short here; the sidebar's "Data shown" panel says it in full.
export const ATTRIBUTION = [
  "Boundaries: Natural Earth",
  'Towns: <a href="https://www.geonames.org/">GeoNames</a> (CC BY 4.0)',
  "Demo sites are generated, not real",
];

// From this zoom on, sites are drawn one by one, never clustered.
const UNCLUSTERED_ZOOM = 12;

// Which towns are labelled at each zoom: larger places first, so labels never crowd the map.
const TOWN_THRESHOLDS = [
  [6, 1_000_000],
  [7, 250_000],
  [8, 80_000],
  [9, 25_000],
  [10, 5_000],
];

export class MapView {
  constructor(container, { onSelect }) {
    this.onSelect = onSelect;
    this.clickHook = null; // set while a drawing tool takes the map's clicks
    this.map = L.map(container, { minZoom: 3, maxZoom: 16, zoomSnap: 0.5, keyboard: true, worldCopyJump: false });
    this.map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    for (const line of ATTRIBUTION) this.map.attributionControl.addAttribution(line);
    L.control.scale({ imperial: false }).addTo(this.map);
    this.map.fitBounds(SYRIA);
    const view = this;
    const FitAll = L.Control.extend({
      options: { position: "topleft" },
      onAdd() {
        const bar = el("div", { class: "leaflet-bar fit-all" });
        bar.append(el("button", { type: "button", title: "Show every record", "aria-label": "Zoom out to show every record", onclick: () => view.fitAll() }, "⤢"));
        L.DomEvent.disableClickPropagation(bar);
        return bar;
      },
    });
    new FitAll().addTo(this.map);
    // Where the pointer is, in MGRS and decimal degrees: what a liaison officer reads out.
    const Cursor = L.Control.extend({
      options: { position: "bottomleft" },
      onAdd() {
        return el("div", { class: "cursor-position", id: "cursor-position", "aria-hidden": "true" });
      },
    });
    this.cursor = new Cursor().addTo(this.map);
    this.map.on("mousemove", (e) => {
      const node = this.cursor.getContainer();
      try {
        node.textContent = `MGRS ${formatMgrs({ lat: e.latlng.lat, lon: e.latlng.lng })} · ${e.latlng.lat.toFixed(5)}, ${e.latlng.lng.toFixed(5)}`;
      } catch {
        node.textContent = `${e.latlng.lat.toFixed(5)}, ${e.latlng.lng.toFixed(5)}`;
      }
    });
    this.map.on("mouseout", () => (this.cursor.getContainer().textContent = ""));

    // Base layers sit in their own pane below the records and never take a click.
    const base = this.map.createPane("base");
    base.style.zIndex = 250;
    base.style.pointerEvents = "none";
    const labels = this.map.createPane("labels");
    labels.style.zIndex = 350;
    labels.style.pointerEvents = "none";

    this.layers = {
      countries: L.layerGroup().addTo(this.map),
      governorates: L.layerGroup().addTo(this.map),
      towns: L.layerGroup().addTo(this.map),
      areas: L.layerGroup().addTo(this.map),
      proposed: L.layerGroup().addTo(this.map),
      movements: L.layerGroup().addTo(this.map),
      operations: L.layerGroup().addTo(this.map),
      operationLabels: L.layerGroup().addTo(this.map),
      sites: L.layerGroup().addTo(this.map),
      incidents: L.layerGroup().addTo(this.map),
      conflicts: L.layerGroup().addTo(this.map),
      highlight: L.layerGroup().addTo(this.map),
    };
    // Hundreds of sites share the screen when zoomed out: nearby markers become one count,
    // which a click (or Enter) opens. Their buffers stay drawn, outside the clusters.
    this.clustering = true;
    this.siteCluster = this.makeCluster();
    this.layers.sites.addLayer(this.siteCluster);
    this.byRecord = new Map(); // record id -> Leaflet layers drawn for it
    this.townData = [];
    this.governorateLabels = [];
    this.time = null;
    this.map.on("zoomend moveend", () => this.labelTowns());
    // Small site icons when zoomed out, where hundreds of sites share the screen.
    const scale = () => container.classList.toggle("zoomed-out", this.map.getZoom() < 9);
    this.map.on("zoomend", scale);
    scale();
  }

  // -- base layers ------------------------------------------------------------------------

  async loadBase() {
    const get = async (name) => {
      const response = await fetch(`/basemap/${name}.geojson`);
      if (!response.ok) throw new Error(`base layer ${name}: ${response.status}`);
      return response.json();
    };
    const results = await Promise.allSettled([get("countries"), get("provinces"), get("governorates"), get("towns")]);
    const [countries, provinces, governorates, towns] = results.map((r) => (r.status === "fulfilled" ? r.value : null));
    const base = { pane: "base", interactive: false };
    if (countries) {
      L.geoJSON(countries, { ...base, style: { color: "#8c8577", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 } }).addTo(this.layers.countries);
    }
    if (provinces) {
      L.geoJSON(provinces, { ...base, style: { color: "#b4ad9e", weight: 0.7, fill: false } }).addTo(this.layers.countries);
    }
    if (governorates) {
      const layer = L.geoJSON(governorates, { ...base, style: { color: "#5d574c", weight: 1.2, dashArray: "5 3", fillColor: "#fffdf7", fillOpacity: 1 } });
      layer.addTo(this.layers.governorates);
      layer.eachLayer((l) => {
        const name = l.feature?.properties?.name;
        if (name && name !== "UNDOF") this.governorateLabels.push({ name, at: l.getBounds().getCenter() });
      });
    }
    if (towns) this.townData = towns.features;
    this.labelTowns();
    return results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  }

  labelTowns() {
    const zoom = this.map.getZoom();
    const bounds = this.map.getBounds().pad(0.1);
    let min = Infinity;
    for (const [z, population] of TOWN_THRESHOLDS) if (zoom >= z) min = population;
    if (zoom >= 11) min = 0;
    this.layers.towns.clearLayers();
    for (const f of this.townData) {
      const [lon, lat] = f.geometry.coordinates;
      if (f.properties.population < min || !bounds.contains([lat, lon])) continue;
      L.circleMarker([lat, lon], { pane: "labels", interactive: false, radius: 2.5, color: "#333", weight: 1, fillColor: "#fff", fillOpacity: 1 }).addTo(this.layers.towns);
      L.marker([lat, lon], {
        pane: "labels",
        interactive: false,
        keyboard: false,
        icon: L.divIcon({ className: "town-label", html: "", iconSize: null }),
      })
        .addTo(this.layers.towns)
        .getElement()
        ?.append(el("span", {}, f.properties.name));
    }
    if (zoom >= 7) {
      for (const g of this.governorateLabels) {
        L.marker(g.at, { pane: "labels", interactive: false, keyboard: false, icon: L.divIcon({ className: "governorate-label", html: "", iconSize: null }) })
          .addTo(this.layers.towns)
          .getElement()
          ?.append(el("span", {}, g.name));
      }
    }
  }

  // -- records ----------------------------------------------------------------------------

  // `view` answers, for a record id, what the map needs to know: is it mine, is it acknowledged.
  makeCluster() {
    return new MarkerClusterGroup({
      maxClusterRadius: 50,
      disableClusteringAtZoom: this.clustering ? UNCLUSTERED_ZOOM : 0,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      iconCreateFunction: (cluster) => {
        const n = cluster.getChildCount();
        const size = n < 10 ? 30 : n < 100 ? 36 : 42;
        return L.divIcon({ className: "site-cluster", html: `<span>${n}</span>`, iconSize: [size, size] });
      },
    });
  }

  // Group nearby sites (true) or draw every marker (false).
  setClustering(on) {
    const markers = this.siteCluster.getLayers();
    this.layers.sites.removeLayer(this.siteCluster);
    this.clustering = on;
    this.siteCluster = on ? this.makeCluster() : L.featureGroup();
    this.siteCluster.addLayers ? this.siteCluster.addLayers(markers) : markers.forEach((m) => this.siteCluster.addLayer(m));
    this.layers.sites.addLayer(this.siteCluster);
  }

  render(records, view) {
    for (const group of ["areas", "proposed", "movements", "operations", "operationLabels", "sites", "incidents"]) this.layers[group].clearLayers();
    this.siteCluster.clearLayers();
    this.layers.sites.addLayer(this.siteCluster);
    this.siteMarkers = [];
    this.byRecord.clear();
    for (const record of records.values()) {
      if (record.kind === "area-map") {
        this.drawAreaMap(record, view);
        continue;
      }
      if (!view.inForce(record)) continue;
      try {
        this.draw(record, view);
      } catch (err) {
        // One malformed record must not blank the map; it is still listed in the sidebar.
        console.warn(`cannot draw record ${record.id}: ${err.message}`);
      }
    }
    if (this.siteCluster.addLayers) this.siteCluster.addLayers(this.siteMarkers);
    else this.siteMarkers.forEach((m) => this.siteCluster.addLayer(m));
    this.applyTime();
  }

  draw(record, view) {
    const body = record.document.body ?? {};
    const layers = [];
    const click = (layer) => layer.on("click", (e) => this.clicked(record.id, e));
    switch (record.kind) {
      case "site": {
        const acked = view.acknowledged(record.id);
        const at = pointOf(body.geometry);
        if (body.geometry?.type === "Polygon") {
          layers.push(L.geoJSON(body.geometry, { style: { ...STYLE.siteBuffer, dashArray: null, weight: 2 } }).addTo(this.layers.sites));
        } else if (at && body.radius_m) {
          layers.push(L.circle(at, { radius: body.radius_m, ...STYLE.siteBuffer }).addTo(this.layers.sites));
        }
        if (at) {
          const marker = L.marker(at, {
            icon: L.divIcon({ className: "site-marker", html: siteIconHtml(body.category, acked), iconSize: [34, 34], iconAnchor: [15, 15] }),
            title: `${body.name ?? "Protected site"} (${acked ? "receipt acknowledged" : "not yet acknowledged"})`,
            alt: body.name ?? "Protected site",
            riseOnHover: true,
          });
          tag(marker, { record: record.id, acknowledged: acked ? "yes" : "no" });
          this.siteMarkers.push(marker);
          click(marker);
          layers.push(marker);
        }
        break;
      }
      case "operation": {
        const mine = view.mine(record);
        (body.volumes ?? []).forEach((volume, index) => {
          const style = { ...(mine ? STYLE.ownOperation : STYLE.operation), dashArray: mine ? null : "6 4" };
          const layer = footprintLayer(volume.footprint, volume.radius_m, style);
          if (!layer) return;
          layer.volume = volume;
          layer.options.className = "operation-volume";
          layer.bindTooltip(tip(body.name ?? "Operation", `${record.party} · volume ${index + 1}`, band(volume.altitude), `${when(volume.time?.start)} to ${when(volume.time?.end)}`), { sticky: true });
          click(layer);
          layer.addTo(this.layers.operations);
          layers.push(layer);
          // The operation's name on the map itself, not only in a tooltip.
          const centre = layer.getBounds().getCenter();
          const text = (body.volumes?.length ?? 0) > 1 ? `${body.name ?? "Operation"} (${index + 1})` : body.name ?? "Operation";
          const label = L.marker(centre, { pane: "labels", interactive: false, keyboard: false, icon: L.divIcon({ className: "operation-label", html: el("span", {}, text), iconSize: null }) });
          label.volume = volume;
          label.addTo(this.layers.operationLabels);
        });
        break;
      }
      case "movement": {
        if (body.route?.type !== "LineString") break;
        const line = L.polyline(body.route.coordinates.map(([lon, lat]) => [lat, lon]), STYLE.movement);
        line.volume = { time: body.time };
        line.bindTooltip(tip(body.name ?? "Movement", `corridor ±${metres(body.corridor_m)}`, `${when(body.time?.start)} to ${when(body.time?.end)}`), { sticky: true });
        click(line);
        layers.push(line.addTo(this.layers.movements));
        break;
      }
      case "incident": {
        const at = pointOf(body.location);
        if (!at) break;
        const marker = L.marker(at, {
          icon: L.divIcon({ className: "incident-marker", html: INCIDENT_ICON, iconSize: [30, 28], iconAnchor: [15, 18] }),
          title: `Incident: ${body.category ?? "reported"}`,
          alt: "Incident",
        });
        tag(marker, { record: record.id });
        marker.addTo(this.layers.incidents);
        click(marker);
        layers.push(marker);
        break;
      }
      default:
        break;
    }
    if (layers.length) this.byRecord.set(record.id, layers);
  }

  // An area map version: drawn in full when in force; when it is the latest version and not
  // yet in force, only the areas it adds or changes are drawn, outlined, as a proposal.
  drawAreaMap(record, view) {
    const body = record.document.body ?? {};
    const status = view.mapStatus(record);
    const latest = view.mapRecords(body.map).latest;
    const proposal = status !== "in force" && latest?.id === record.id;
    if (status !== "in force" && !proposal) return;
    const current = new Map((view.mapRecords(body.map).inForce?.document.body.areas ?? []).map((a) => [a.id, JSON.stringify(a)]));
    const layers = [];
    for (const area of body.areas ?? []) {
      if (proposal && current.get(area.id) === JSON.stringify(area)) continue;
      const rule = AREA_RULES[area.rule] ?? AREA_RULES.delineation;
      const style = proposal
        ? { color: rule.color, weight: 2, dashArray: "2 5", fillOpacity: 0.04, fillColor: rule.color, className: "area-proposed" }
        : { ...rule, fillColor: rule.color, className: `area-rule area-${area.rule}` };
      const layer = L.geoJSON(area.geometry, { style });
      const who = (area.party ? ` (${area.party})` : "") + (area.group ? ` (${area.group})` : "");
      const standing = proposal
        ? `Proposed in version ${body.version} by ${record.party}: ${status}, not in force`
        : `Map “${body.map}” version ${body.version}, in force`;
      layer.bindTooltip(tip(area.name ?? rule.label, rule.label + who, standing), { sticky: true });
      layer.on("click", (e) => this.clicked(record.id, e));
      layer.addTo(proposal ? this.layers.proposed : this.layers.areas);
      layers.push(layer);
    }
    if (layers.length) this.byRecord.set(record.id, layers);
  }

  clicked(id, event) {
    if (this.clickHook) {
      // A drawing tool is active: a click on a record is a click on the map at that place.
      this.clickHook(event.latlng);
      return;
    }
    L.DomEvent.stop(event);
    this.onSelect(id);
  }

  // Conflicts as lines between the two records, where the viewer can see both.
  renderConflicts(conflicts, records) {
    this.layers.conflicts.clearLayers();
    for (const c of conflicts.values()) {
      // Only between two records on the map: both seen by this party, and both in force.
      if (!this.byRecord.has(c.record) || !this.byRecord.has(c.other)) continue;
      const a = records.get(c.record);
      const b = records.get(c.other);
      let from = anchor(a, c.facts?.volumes?.[0]);
      let to = anchor(b, c.facts?.other_volumes?.[0] ?? 0);
      if (!from || !to) continue;
      // An area or a route is long: end the line at its part nearest the other record.
      from = nearestPart(a, to) ?? from;
      to = nearestPart(b, from) ?? to;
      const points = from.equals(to, 1e-9) ? [from, L.latLng(to.lat + 1e-4, to.lng)] : [from, to];
      L.polyline(points, { color: "#fff", weight: 8, opacity: 0.85, interactive: false }).addTo(this.layers.conflicts);
      // Drawn by state: an open conflict in full, a settled one lighter, a moot one faded.
      const conflictState = c.state ?? "open";
      const look = CONFLICT_LOOK[conflictState] ?? CONFLICT_LOOK.open;
      const line = L.polyline(points, { ...STYLE.conflict, ...look, className: `conflict-line state-${conflictState}` });
      line.bindTooltip(tip(`Conflict: ${c.kind}`, `${c.severity} · ${conflictState}`, c.detail), { sticky: true });
      line.on("click", (e) => this.clicked(c.record, e));
      line.addTo(this.layers.conflicts);
      for (const p of points) {
        L.circleMarker(p, { radius: 6, color: look.color ?? OKABE_ITO.vermillion, opacity: look.opacity ?? 1, weight: 3, fill: false, interactive: false }).addTo(this.layers.conflicts);
      }
    }
  }

  // Operation volumes and movements are shown only while their window holds `time` (a Date),
  // or always when `time` is null.
  setTime(time) {
    this.time = time;
    this.applyTime();
  }

  applyTime() {
    const t = this.time?.getTime();
    for (const group of [this.layers.operations, this.layers.operationLabels, this.layers.movements]) {
      for (const layer of this.allLayersOf(group)) {
        const w = layer.volume?.time;
        const start = Date.parse(w?.start ?? "");
        const end = w?.end ? Date.parse(w.end) : Infinity;
        const shown = t === undefined || !w || (t >= start && t <= end);
        layer.setStyle?.({ opacity: shown ? 1 : 0, fillOpacity: shown ? (layer.baseFill ??= layer.options.fillOpacity ?? 0.2) : 0 });
        const node = layer.getElement?.();
        if (node) {
          node.style.pointerEvents = shown ? "" : "none";
          node.classList.toggle("out-of-time", !shown);
        }
      }
    }
  }

  allLayersOf(group) {
    const out = [];
    group.eachLayer((l) => (l.eachLayer && !l.setStyle ? l.eachLayer((x) => out.push(x)) : out.push(l)));
    return out;
  }

  countShown(kind) {
    const group = this.layers[kind];
    return this.allLayersOf(group).filter((l) => !l.getElement?.()?.classList.contains("out-of-time")).length;
  }

  focus(id) {
    const layers = this.byRecord.get(id);
    if (!layers?.length) return;
    const bounds = L.latLngBounds([]);
    for (const l of layers) bounds.extend(l.getBounds ? l.getBounds() : l.getLatLng());
    this.map.fitBounds(bounds.pad(0.5), { maxZoom: 12, animate: false });
    this.reveal(id);
  }

  // A site's marker out of any cluster: centred at the zoom where sites are never clustered.
  // Not markercluster's zoomToShowLayer: its animated zoom left the marker in its cluster
  // now and then (a page test caught it), and a just-notified site must be seen every time.
  reveal(id) {
    for (const l of this.byRecord.get(id) ?? []) {
      if (!(l instanceof L.Marker) || l.getElement()) continue;
      this.map.setView(l.getLatLng(), Math.max(this.map.getZoom(), UNCLUSTERED_ZOOM), { animate: false });
    }
  }

  // Outline the selected record's shapes in black, over everything else.
  highlight(id) {
    const group = this.layers.highlight;
    group.clearLayers();
    const style = { color: "#000", weight: 5, opacity: 0.9, fill: false, interactive: false, dashArray: null };
    const outline = (l) => {
      if (l instanceof L.Circle) L.circle(l.getLatLng(), { ...style, radius: l.getRadius() }).addTo(group);
      else if (l instanceof L.Marker) L.circleMarker(l.getLatLng(), { ...style, weight: 3, radius: 21 }).addTo(group);
      else if (l instanceof L.Polygon) L.polygon(l.getLatLngs(), style).addTo(group);
      else if (l instanceof L.Polyline) L.polyline(l.getLatLngs(), { ...style, weight: 9, opacity: 0.5 }).addTo(group);
      else if (l.eachLayer) l.eachLayer(outline);
    };
    for (const l of this.byRecord.get(id) ?? []) outline(l);
  }

  fitAll() {
    const bounds = L.latLngBounds([]);
    for (const layers of this.byRecord.values()) {
      for (const l of layers) bounds.extend(l.getBounds ? l.getBounds() : l.getLatLng());
    }
    this.map.fitBounds(bounds.isValid() ? bounds.pad(0.1) : SYRIA);
  }

  setVisible(name, visible) {
    for (const layer of name === "operations" ? [this.layers.operations, this.layers.operationLabels] : [this.layers[name]]) {
      if (visible) layer.addTo(this.map);
      else layer.remove();
    }
  }
}

const CONFLICT_LOOK = {
  open: {},
  acknowledged: { opacity: 0.85, dashArray: "8 6" },
  resolved: { color: OKABE_ITO.bluishGreen, opacity: 0.7, dashArray: "2 8" },
  moot: { color: "#777", opacity: 0.3, dashArray: "2 8", weight: 3 },
};

// Markers get their element only when on the map (a hidden layer is not), so the record id
// is written whenever they are added: tests and assistive tools find a record's marker by it.
function tag(marker, data) {
  marker.on("add", () => Object.assign(marker.getElement().dataset, data));
}

function tip(title, ...lines) {
  return el("div", { class: "tip" }, el("strong", {}, title), lines.filter(Boolean).map((l) => el("div", {}, l)));
}

function band(altitude) {
  if (!altitude) return "";
  return `${Math.round(altitude.lower_m)}–${Math.round(altitude.upper_m)} m`;
}

export function pointOf(geometry) {
  if (geometry?.type === "Point") return L.latLng(geometry.coordinates[1], geometry.coordinates[0]);
  if (geometry?.type === "Polygon" || geometry?.type === "MultiPolygon") return L.geoJSON(geometry).getBounds().getCenter();
  return null;
}

export function footprintLayer(footprint, radius, style) {
  if (footprint?.type === "Point") {
    return L.circle([footprint.coordinates[1], footprint.coordinates[0]], { radius: radius || 1, ...style });
  }
  if (footprint?.type === "Polygon") {
    return L.polygon(footprint.coordinates.map((ring) => ring.map(([lon, lat]) => [lat, lon])), style);
  }
  return null;
}

function polygonsOf(geometry) {
  if (geometry?.type === "Polygon") return [geometry.coordinates];
  if (geometry?.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

// Every polygon of an area map version (or of a single area geometry).
function areaPolygons(record) {
  const body = record.document.body ?? {};
  if (record.kind === "area-map") return (body.areas ?? []).flatMap((a) => polygonsOf(a.geometry));
  return polygonsOf(body.geometry);
}

function insideRing(ring, lon, lat) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

// The point of a line (lon/lat positions) nearest `p`, on a plane scaled by cos(latitude):
// good enough to place a line end on screen, and never used for any distance that matters.
function nearestOnLine(coords, p) {
  const k = Math.cos((p.lat * Math.PI) / 180);
  let best = null;
  let bestD = Infinity;
  for (let i = 0; i + 1 < coords.length; i++) {
    const [x1, y1] = [coords[i][0] * k, coords[i][1]];
    const [x2, y2] = [coords[i + 1][0] * k, coords[i + 1][1]];
    const [px, py] = [p.lng * k, p.lat];
    const len2 = (x2 - x1) ** 2 + (y2 - y1) ** 2;
    const t = len2 ? Math.max(0, Math.min(1, ((px - x1) * (x2 - x1) + (py - y1) * (y2 - y1)) / len2)) : 0;
    const [qx, qy] = [x1 + t * (x2 - x1), y1 + t * (y2 - y1)];
    const d = (qx - px) ** 2 + (qy - py) ** 2;
    if (d < bestD) {
      bestD = d;
      best = L.latLng(qy, qx / k);
    }
  }
  return best;
}

// For an area: `p` itself if inside, else the nearest point of its boundary. For a route: its
// nearest point. Null for anything else.
function nearestPart(record, p) {
  const body = record.document.body ?? {};
  if (record.kind === "movement" && body.route?.type === "LineString") return nearestOnLine(body.route.coordinates, p);
  if (record.kind !== "area" && record.kind !== "area-map") return null;
  const polygons = areaPolygons(record);
  if (polygons.some((rings) => insideRing(rings[0], p.lng, p.lat) && !rings.slice(1).some((h) => insideRing(h, p.lng, p.lat)))) return p;
  let best = null;
  for (const rings of polygons) {
    for (const ring of rings) {
      const q = nearestOnLine(ring, p);
      if (q && (!best || p.distanceTo(q) < p.distanceTo(best))) best = q;
    }
  }
  return best;
}

// Where a conflict line ends on a record: a site's point, the involved volume's centre, the
// middle of an area or a route.
function anchor(record, volumeIndex = 0) {
  const body = record.document.body ?? {};
  switch (record.kind) {
    case "site":
      return pointOf(body.geometry);
    case "operation": {
      const v = body.volumes?.[volumeIndex ?? 0] ?? body.volumes?.[0];
      return v ? pointOf(v.footprint) : null;
    }
    case "area":
      return pointOf(body.geometry);
    case "area-map":
      return pointOf(body.areas?.[0]?.geometry);
    case "movement": {
      const c = body.route?.coordinates;
      if (!c?.length) return null;
      const [lon, lat] = c[Math.floor(c.length / 2)];
      return L.latLng(lat, lon);
    }
    case "incident":
      return pointOf(body.location);
    default:
      return null;
  }
}
