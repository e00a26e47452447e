// Distance between two {lat, lon} in metres, for comparing positions with a table's
// tolerance_m. Haversine on a sphere of the WGS84 semi-major axis: within a few metres it errs
// by far less than the tolerances. (node --test runs this file too; it holds no tests.)

export function metres(a, b) {
  const rad = Math.PI / 180;
  const dlat = (b.lat - a.lat) * rad;
  const dlon = (b.lon - a.lon) * rad;
  const h = Math.sin(dlat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dlon / 2) ** 2;
  return 2 * 6378137 * Math.asin(Math.sqrt(h));
}
