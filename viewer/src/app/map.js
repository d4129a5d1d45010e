// The map and what is drawn on it: a basemap from /basemaps.json, the
// registry layers as our own OGC API vector tiles in the styles the gateway
// generates from styles/*.yaml, each with its visibility, opacity and place
// in the drawing order; at a past time (规划回溯) the versioned plan layers
// come from OGC API Features with `datetime` (the tiles have no time).
// Nothing is fetched from outside the stack (no glyphs, no sprites, no CDN).
import * as maplibregl from '../maplibre-gl/maplibre-gl.mjs';
import { authHeaders, getJSON } from './api.js';

export { maplibregl };

const MAPLIBRE_STYLE = 'application/vnd.maplibre.style+json';
// polygons under lines under points within a layer
const DRAW_ORDER = { fill: 0, line: 1, circle: 2 };
const OPACITY = { fill: 'fill-opacity', line: 'line-opacity', circle: 'circle-opacity', raster: 'raster-opacity' };
export const BACKGROUND = { id: 'background', type: 'background', paint: { 'background-color': '#f4f3ef' } };
const ITEMS_LIMIT = 10000; // limits.max_items of the gateway

export const state = {
  layers: [], // {id, zh, en, bbox, style, versioned}
  hidden: new Set(), // ids switched off
  opacity: new Map(), // id → 0..1
  order: [], // ids, top first
  basemaps: [],
  basemap: 'blank',
  time: null, // ISO instant of 规划回溯, null: the plan in force
};

export function newMap(container, view = {}) {
  const map = new maplibregl.Map({
    container,
    ...view,
    style: { version: 8, sources: {}, layers: [BACKGROUND] },
    transformRequest: (url) => ({ url, headers: authHeaders(url) }),
    attributionControl: false,
    preserveDrawingBuffer: true, // the print view copies the canvas
  });
  return map;
}

// The map layers (collections with a MapLibre style) in the caller's view.
export async function loadLayers() {
  const [zh, en] = await Promise.all([
    getJSON('ogc/collections?f=json&lang=zh-CN'),
    getJSON('ogc/collections?f=json&lang=en-US'),
  ]);
  const english = new Map(en.collections.map((c) => [c.id, c.title]));
  const mapped = zh.collections.flatMap((collection) => {
    const link = collection.links.find((l) => l.rel === 'stylesheet' && l.type === MAPLIBRE_STYLE);
    return link ? [{ collection, href: link.href }] : []; // the catalogue has records, not a map
  });
  const styles = await Promise.all(mapped.map(({ href }) => getJSON(href)));
  return mapped.map(({ collection }, i) => ({
    id: collection.id,
    zh: collection.title,
    en: english.get(collection.id) ?? '',
    bbox: collection.extent?.spatial?.bbox?.[0],
    versioned: Boolean(collection.extent?.temporal?.interval?.[0]?.[0]),
    style: styles[i],
  }));
}

export async function loadBasemaps() {
  return (await getJSON('basemaps.json')).basemaps;
}

export function layerById(id) {
  return state.layers.find((l) => l.id === id);
}

export function viewBbox(map) {
  const b = map.getBounds();
  return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(',');
}

// The features of a versioned layer valid at `time`, in the current view.
export function itemsUrl(layerId, time, bbox) {
  const params = new URLSearchParams({ f: 'json', limit: ITEMS_LIMIT, datetime: time, bbox });
  return new URL(`ogc/collections/${layerId}/items?${params}`, location.href).href;
}

function timed(layer, time) {
  return Boolean(time) && layer.versioned;
}

// The sources and style layers of one registry layer, `time` applied.
export function layerStyle(layer, { time = null, bbox = '', opacity = 1, visible = true } = {}) {
  const sources = {};
  for (const [id, source] of Object.entries(layer.style.sources)) {
    sources[id] = timed(layer, time) ? { type: 'geojson', data: itemsUrl(layer.id, time, bbox) } : source;
  }
  const drawn = layer.style.layers
    // labels need glyphs and the stack serves none: left out rather than
    // fetched from outside (our styles keep labels in metadata)
    .filter((l) => l.type !== 'symbol')
    .map((styleLayer) => {
      const item = { ...styleLayer, layout: { ...styleLayer.layout, visibility: visible ? 'visible' : 'none' } };
      if (timed(layer, time)) delete item['source-layer'];
      const key = OPACITY[item.type];
      if (key) {
        const base = styleLayer.paint?.[key] ?? 1;
        item.metadata = { ...item.metadata, 'onemap:opacity': base };
        item.paint = { ...item.paint, [key]: base * opacity };
      }
      return item;
    })
    .sort((a, b) => (DRAW_ORDER[a.type] ?? 1) - (DRAW_ORDER[b.type] ?? 1));
  return { sources, layers: drawn };
}

function basemapStyle() {
  const basemap = state.basemaps.find((b) => b.id === state.basemap);
  if (!basemap?.tiles) return { sources: {}, layers: [] };
  return {
    sources: { basemap: { type: 'raster', tiles: [basemap.tiles], tileSize: 256 } },
    layers: [{ id: 'basemap', type: 'raster', source: 'basemap' }],
  };
}

// One style of the basemap and every layer, bottom to top.
export function combinedStyle(map) {
  const bbox = state.time ? viewBbox(map) : '';
  const base = basemapStyle();
  const sources = { ...base.sources };
  const drawn = [...base.layers];
  for (const id of [...state.order].reverse()) {
    const layer = layerById(id);
    const part = layerStyle(layer, {
      time: state.time, bbox, opacity: state.opacity.get(id) ?? 1, visible: !state.hidden.has(id),
    });
    Object.assign(sources, part.sources);
    drawn.push(...part.layers);
  }
  return { version: 8, sources, layers: [BACKGROUND, ...drawn] };
}

export function styleLayersOf(map, layerId) {
  return map.getStyle().layers.filter((l) => l.source === layerId);
}

export function setVisible(map, layerId, visible) {
  if (visible) state.hidden.delete(layerId);
  else state.hidden.add(layerId);
  for (const styleLayer of styleLayersOf(map, layerId)) {
    map.setLayoutProperty(styleLayer.id, 'visibility', visible ? 'visible' : 'none');
  }
}

export function setOpacity(map, layerId, opacity) {
  state.opacity.set(layerId, opacity);
  for (const styleLayer of styleLayersOf(map, layerId)) {
    const key = OPACITY[styleLayer.type];
    if (key) map.setPaintProperty(styleLayer.id, key, (styleLayer.metadata?.['onemap:opacity'] ?? 1) * opacity);
  }
}

// The timed sources follow the view: only the features in sight are fetched.
export function followView(map) {
  map.on('moveend', () => {
    if (!state.time) return;
    for (const layer of state.layers.filter((l) => l.versioned)) {
      map.getSource(layer.id)?.setData(itemsUrl(layer.id, state.time, viewBbox(map)));
    }
  });
}

// The city: the union of the layers' extents.
export function cityBounds(layers) {
  const boxes = layers.map((l) => l.bbox).filter(Boolean);
  if (!boxes.length) return null;
  return [
    [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1]))],
    [Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))],
  ];
}

// Resolves once the map has drawn everything it asked for.
export function idle(map) {
  return new Promise((resolve) => {
    if (map.loaded() && map.areTilesLoaded() && !map.isMoving()) resolve();
    map.once('idle', resolve);
  });
}
