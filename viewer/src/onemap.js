// 一张图 One Map viewer: the layers of the OGC API as vector tiles from our own
// OGC API Tiles, drawn with the MapLibre styles the gateway generates from
// styles/*.yaml. Nothing is fetched from outside the stack (no basemap, no
// glyphs, no sprites), so it works on a closed government network.
import * as maplibregl from './maplibre-gl/maplibre-gl.mjs';

const MAPLIBRE_STYLE = 'application/vnd.maplibre.style+json';
// polygons under lines under points, whatever the order of the collections
const DRAW_ORDER = { fill: 0, line: 1, circle: 2 };
const BACKGROUND = { id: 'background', type: 'background', paint: { 'background-color': '#f4f3ef' } };

const state = {
  token: '',
  layers: [], // {id, zh, en, bbox, style}
  hidden: new Set(), // ids of the layers switched off, kept across reloads
  // origins the token may be sent to: this page's and those our own links name
  // (the public URL of the stack may differ from the one in the address bar)
  ourOrigins: new Set([location.origin]),
};

function authHeaders(url) {
  const ours = state.ourOrigins.has(new URL(url, location.href).origin);
  return state.token && ours ? { Authorization: `Bearer ${state.token}` } : {};
}

// read before the map writes its own view into the address
const sharedView = location.hash.length > 1;

const map = new maplibregl.Map({
  container: 'map',
  style: { version: 8, sources: {}, layers: [BACKGROUND] },
  hash: true, // a view can be shared as a link: #zoom/lat/lon
  transformRequest: (url) => ({ url, headers: authHeaders(url) }),
});
map.addControl(new maplibregl.NavigationControl(), 'top-right');
map.addControl(new maplibregl.ScaleControl(), 'bottom-left');

function setState(value) {
  document.body.dataset.state = value;
}

function showError(zh, en) {
  const box = document.getElementById('error');
  box.textContent = `${zh}\n${en}`;
  box.hidden = false;
  setState('error');
}

function clearError() {
  document.getElementById('error').hidden = true;
}

// The service's own bilingual message (message_zh / message_en, as every
// error of the gateway carries), else what the status says.
function serviceMessage(status, body) {
  try {
    const problem = JSON.parse(body);
    if (problem.message_zh || problem.message_en) {
      return [problem.message_zh ?? problem.message_en, problem.message_en ?? problem.message_zh];
    }
  } catch {
    // not JSON: fall through to the status
  }
  return [`服务请求失败（HTTP ${status}）`, `The service request failed (HTTP ${status})`];
}

class ServiceError extends Error {
  constructor(zh, en) {
    super(`${zh} / ${en}`);
    this.zh = zh;
    this.en = en;
  }
}

async function getJSON(url) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: 'application/json', ...authHeaders(url) } });
  } catch (error) {
    throw new ServiceError(`无法连接服务：${error.message}`, `The service cannot be reached: ${error.message}`);
  }
  if (!response.ok) {
    throw new ServiceError(...serviceMessage(response.status, await response.text()));
  }
  return response.json();
}

// The map layers (collections with a MapLibre style) in the caller's view:
// titles in Chinese and English, extent and style.
async function loadLayers() {
  const [zh, en] = await Promise.all([
    getJSON('ogc/collections?f=json&lang=zh-CN'),
    getJSON('ogc/collections?f=json&lang=en-US'),
  ]);
  const english = new Map(en.collections.map((c) => [c.id, c.title]));
  const mapped = zh.collections.flatMap((collection) => {
    const link = collection.links.find((l) => l.rel === 'stylesheet' && l.type === MAPLIBRE_STYLE);
    return link ? [{ collection, href: link.href }] : []; // the catalogue has records, not a map
  });
  for (const { href } of mapped) {
    state.ourOrigins.add(new URL(href, location.href).origin);
  }
  const styles = await Promise.all(mapped.map(({ href }) => getJSON(href)));
  return mapped.map(({ collection }, i) => ({
    id: collection.id,
    zh: collection.title,
    en: english.get(collection.id) ?? '',
    bbox: collection.extent?.spatial?.bbox?.[0],
    style: styles[i],
  }));
}

// One style of every layer's sources and style layers.
function combinedStyle(layers) {
  const sources = {};
  const drawn = [];
  for (const layer of layers) {
    Object.assign(sources, layer.style.sources);
    for (const styleLayer of layer.style.layers) {
      // labels need glyphs and the stack serves none: leave them out rather
      // than fetch fonts from outside (our styles keep labels in metadata)
      if (styleLayer.type === 'symbol') continue;
      const visibility = state.hidden.has(layer.id) ? 'none' : 'visible';
      drawn.push({ ...styleLayer, layout: { ...styleLayer.layout, visibility } });
    }
  }
  drawn.sort((a, b) => (DRAW_ORDER[a.type] ?? 1) - (DRAW_ORDER[b.type] ?? 1));
  return { version: 8, sources, layers: [BACKGROUND, ...drawn] };
}

function bilingual(element, zh, en) {
  const english = document.createElement('span');
  english.lang = 'en';
  english.textContent = en;
  element.append(`${zh} `, english);
  return element;
}

function setVisible(layerId, visible) {
  if (visible) state.hidden.delete(layerId);
  else state.hidden.add(layerId);
  for (const styleLayer of map.getStyle().layers) {
    if (styleLayer.source === layerId) {
      map.setLayoutProperty(styleLayer.id, 'visibility', visible ? 'visible' : 'none');
    }
  }
}

function renderLayerList() {
  const list = document.getElementById('layers');
  list.replaceChildren(...state.layers.map((layer) => {
    const checkbox = document.createElement('input');
    checkbox.type = 'checkbox';
    checkbox.checked = !state.hidden.has(layer.id);
    checkbox.dataset.layer = layer.id;
    checkbox.addEventListener('change', () => setVisible(layer.id, checkbox.checked));
    const label = bilingual(document.createElement('label'), layer.zh, layer.en);
    label.prepend(checkbox);
    const item = document.createElement('li');
    item.dataset.layer = layer.id;
    item.append(label);
    return item;
  }));
}

// The city: the union of the layers' extents.
function cityBounds(layers) {
  const boxes = layers.map((l) => l.bbox).filter(Boolean);
  if (!boxes.length) return null;
  return [
    [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1]))],
    [Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))],
  ];
}

async function reload() {
  setState('loading');
  clearError();
  try {
    state.layers = await loadLayers();
  } catch (error) {
    state.layers = [];
    renderLayerList();
    map.setStyle(combinedStyle([]));
    if (error instanceof ServiceError) showError(error.zh, error.en);
    else showError(`图层加载失败：${error.message}`, `The layers could not be loaded: ${error.message}`);
    return;
  }
  renderLayerList();
  map.setStyle(combinedStyle(state.layers));
  map.once('idle', () => {
    if (document.body.dataset.state === 'loading') setState('ready');
  });
}

// Tile and style errors: the service's message, in both languages.
map.on('error', async (event) => {
  const error = event.error ?? {};
  const body = error.body instanceof Blob ? await error.body.text() : '';
  const [zh, en] = error.status
    ? serviceMessage(error.status, body)
    : [`地图错误：${error.message}`, `Map error: ${error.message}`];
  showError(zh, en);
});

function titleOf(layerId) {
  return state.layers.find((l) => l.id === layerId) ?? { zh: layerId, en: '' };
}

// A click lists the attributes of the features under it, top layer first.
map.on('click', (event) => {
  const features = map.queryRenderedFeatures(event.point).filter((f) => f.layer.id !== BACKGROUND.id);
  if (!features.length) return;
  const content = document.createElement('div');
  content.className = 'popup';
  const seen = new Set();
  for (const feature of features) {
    const key = `${feature.source}/${feature.id ?? JSON.stringify(feature.properties)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const layer = titleOf(feature.source);
    const heading = bilingual(document.createElement('h3'), layer.zh, layer.en);
    const legend = feature.layer.metadata;
    if (legend?.title_zh) heading.append(` · ${legend.title_zh}`);
    const table = document.createElement('table');
    for (const [name, value] of Object.entries(feature.properties)) {
      const row = table.insertRow();
      const th = document.createElement('th');
      th.textContent = name;
      row.append(th);
      row.insertCell().textContent = String(value);
    }
    content.append(heading, table);
  }
  new maplibregl.Popup({ maxWidth: '360px' }).setLngLat(event.lngLat).setDOMContent(content).addTo(map);
});

map.on('mousemove', (event) => {
  const hit = map.queryRenderedFeatures(event.point).some((f) => f.layer.id !== BACKGROUND.id);
  map.getCanvas().style.cursor = hit ? 'pointer' : '';
});

// A pasted token: the requests carry it and the list is reloaded, so staff
// see the internal layers too.
document.getElementById('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = document.getElementById('token').value.trim();
  reload();
});

await reload();
// the whole city unless the address names a view
if (!sharedView) {
  const bounds = cityBounds(state.layers);
  if (bounds) map.fitBounds(bounds, { padding: 20, animate: false });
}
