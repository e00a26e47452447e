// Colours: the Okabe-Ito palette (Okabe & Ito, 2008), chosen to stay distinguishable with
// every common form of colour blindness. Colour never carries meaning alone: each kind also
// differs by shape, line dash or a glyph, and the legend names them.

export const OKABE_ITO = {
  black: "#000000",
  orange: "#E69F00",
  skyBlue: "#56B4E9",
  bluishGreen: "#009E73",
  yellow: "#F0E442",
  blue: "#0072B2",
  vermillion: "#D55E00",
  reddishPurple: "#CC79A7",
};

export const STYLE = {
  operation: { color: OKABE_ITO.blue, weight: 2, fillOpacity: 0.18 },
  ownOperation: { color: OKABE_ITO.blue, weight: 3, fillOpacity: 0.25 },
  movement: { color: OKABE_ITO.reddishPurple, weight: 5, opacity: 0.9 },
  conflict: { color: OKABE_ITO.vermillion, weight: 4, dashArray: "2 8", lineCap: "round" },
  siteBuffer: { color: OKABE_ITO.black, weight: 1, dashArray: "3 3", fillOpacity: 0.05, interactive: false },
  drawing: { color: OKABE_ITO.black, weight: 2, dashArray: "6 4", fillColor: OKABE_ITO.blue, fillOpacity: 0.1 },
};

// One colour and dash per area rule.
export const AREA_RULES = {
  "no-fly": { label: "No-fly for a party", color: OKABE_ITO.vermillion, dashArray: "10 6", weight: 3, fillOpacity: 0.08 },
  "no-operations": { label: "No operations", color: OKABE_ITO.black, dashArray: "4 4", weight: 3, fillOpacity: 0.08 },
  delineation: { label: "Delineation (group present)", color: OKABE_ITO.skyBlue, dashArray: "1 6", weight: 3, fillOpacity: 0.06 },
};

// Site icons: a glyph per category (24 x 24 SVG paths, drawn here so no image is fetched).
// The categories are the hub's (src/parley/notices.py CATEGORIES).
export const SITE_CATEGORIES = {
  hospital: { label: "Hospital", glyph: "M9.5 5h5v4.5H19v5h-4.5V19h-5v-4.5H5v-5h4.5z" },
  "health-post": { label: "Health post", glyph: "M10.5 7h3v3.5H17v3h-3.5V17h-3v-3.5H7v-3h3.5z" },
  school: { label: "School", glyph: "M12 5 3 9.5 12 14l7-3.5V16h2V9.5zM7 13v3.5c2.8 2 7.2 2 10 0V13l-5 2.5z" },
  shelter: { label: "Shelter", glyph: "M12 4 3 11.5h2.5V20h5v-5h3v5h5v-8.5H21z" },
  camp: { label: "Camp", glyph: "M12 4 3 20h6l3-6 3 6h6z" },
  water: { label: "Water", glyph: "M12 3.5c3.6 4.6 5.5 7.7 5.5 10.4a5.5 5.5 0 0 1-11 0c0-2.7 1.9-5.8 5.5-10.4z" },
  power: { label: "Power", glyph: "M13.5 3 6 13.5h5L10 21l8-11h-5.2z" },
  "humanitarian-office": { label: "Humanitarian office", glyph: "M6 3h2v18H6zM9 4h10l-3 4 3 4H9z" },
  warehouse: { label: "Warehouse", glyph: "M3 10 12 5l9 5v10h-3v-7H6v7H3zM8 15h8v2H8zM8 18h8v2H8z" },
  cultural: { label: "Cultural or religious site", glyph: "M3.5 9 12 4l8.5 5zM6 10h2.5v7H6zM10.75 10h2.5v7h-2.5zM15.5 10H18v7h-2.5zM4 18h16v2H4z" },
  other: { label: "Other protected site", glyph: "M12 4l8 8-8 8-8-8z" },
};

export function siteCategory(category) {
  return SITE_CATEGORIES[category] ? category : "other";
}

// Acknowledged sites are filled bluish green with a tick; unacknowledged ones orange with a
// dashed ring and an exclamation mark: the state reads without colour too. `null` draws the
// bare category glyph, for the legend.
export function siteIconHtml(category, acknowledged) {
  const { glyph } = SITE_CATEGORIES[siteCategory(category)];
  if (acknowledged === null) {
    return `<svg viewBox="0 0 30 30" width="30" height="30" aria-hidden="true">
<circle cx="15" cy="15" r="13" fill="#fff" stroke="#000" stroke-width="2"/>
<g transform="translate(3 3)"><path d="${glyph}" fill="#000"/></g></svg>`;
  }
  const fill = acknowledged ? OKABE_ITO.bluishGreen : OKABE_ITO.orange;
  const ring = acknowledged ? "" : ' stroke-dasharray="3 2"';
  const badge = acknowledged
    ? '<path d="M22 26l3 3 6-6" fill="none" stroke="#000" stroke-width="2.5"/>'
    : '<path d="M26.5 21v5M26.5 28v1.5" stroke="#000" stroke-width="2.5"/>';
  return `<svg viewBox="0 0 34 34" width="34" height="34" aria-hidden="true">
<circle cx="15" cy="15" r="13" fill="${fill}" stroke="#000" stroke-width="2"${ring}/>
<g transform="translate(3 3)"><path d="${glyph}" fill="#000"/></g>
<circle cx="26.5" cy="25.5" r="7" fill="#fff" stroke="#000" stroke-width="1.5"/>${badge}</svg>`;
}

export const INCIDENT_ICON = `<svg viewBox="0 0 30 28" width="30" height="28" aria-hidden="true">
<path d="M15 2 28 26H2z" fill="${OKABE_ITO.yellow}" stroke="#000" stroke-width="2" stroke-linejoin="round"/>
<path d="M15 10v8M15 21v2" stroke="#000" stroke-width="2.5"/></svg>`;
