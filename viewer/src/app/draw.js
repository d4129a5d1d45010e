// Drawing on the map (a line or a polygon: click the vertices, double-click
// or 完成 to finish) and geodesic measure on the CGCS2000 ellipsoid
// (GeographicLib, loaded as a script: window.geodesic).
const { Geodesic, PolygonArea } = window.geodesic;
// CGCS2000: a = 6378137 m, f = 1/298.257222101
const CGCS2000 = new Geodesic.Geodesic(6378137, 1 / 298.257222101);
const SOURCE = 'draw';

let drawing = null; // {mode, points, done}

export function measure(mode, points) {
  const polygon = new PolygonArea.PolygonArea(CGCS2000, mode === 'line');
  for (const [lon, lat] of points) polygon.AddPoint(lat, lon);
  const result = polygon.Compute(false, true);
  return mode === 'line' ? { length_m: result.perimeter } : { area_m2: Math.abs(result.area), perimeter_m: result.perimeter };
}

function geometry(mode, points) {
  if (mode === 'line' || points.length < 3) return { type: 'LineString', coordinates: points };
  return { type: 'Polygon', coordinates: [[...points, points[0]]] };
}

// The drawn overlay; re-added after every style change.
export function ensureOverlay(map) {
  if (map.getSource(SOURCE)) return;
  map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'draw-fill', type: 'fill', source: SOURCE, filter: ['==', ['geometry-type'], 'Polygon'],
    paint: { 'fill-color': '#1565c0', 'fill-opacity': 0.15 } });
  map.addLayer({ id: 'draw-line', type: 'line', source: SOURCE, paint: { 'line-color': '#1565c0', 'line-width': 2 } });
  map.addLayer({ id: 'draw-point', type: 'circle', source: SOURCE, filter: ['==', ['geometry-type'], 'Point'],
    paint: { 'circle-radius': 3, 'circle-color': '#1565c0' } });
}

function show(map) {
  ensureOverlay(map);
  const features = drawing ? [
    { type: 'Feature', properties: {}, geometry: geometry(drawing.mode, drawing.points) },
    ...drawing.points.map((p) => ({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: p } })),
  ] : [];
  map.getSource(SOURCE).setData({ type: 'FeatureCollection', features });
}

export const isDrawing = () => Boolean(drawing && !drawing.done);

// Start drawing; `onDone(geometry, measures)` when finished.
export function startDrawing(map, mode, onDone, onChange = () => {}) {
  drawing = { mode, points: [], done: false, onDone, onChange };
  map.doubleClickZoom.disable();
  map.getCanvas().style.cursor = 'crosshair';
  show(map);
}

export function addPoint(map, lngLat) {
  drawing.points.push([lngLat.lng, lngLat.lat]);
  show(map);
  drawing.onChange(measure(drawing.mode, drawing.points));
}

export function finishDrawing(map) {
  if (!drawing || drawing.done) return;
  drawing.done = true;
  map.getCanvas().style.cursor = '';
  setTimeout(() => map.doubleClickZoom.enable(), 0); // after this double-click
  show(map);
  drawing.onDone(geometry(drawing.mode, drawing.points), measure(drawing.mode, drawing.points));
}

export function clearDrawing(map) {
  drawing = null;
  show(map);
}
