// 规划公众服务 The public portal: plans under public notice on a map (OGC API
// Features of GHGS and GZYJ, the plan's public layers as our vector tiles),
// comments on them, violation reports with photos, and a report's status by
// its tracking number. Citizens' text is only ever set with textContent.
// Requests carry no credentials: everything here is public.
import * as maplibregl from '../viewer/maplibre-gl/maplibre-gl.mjs';

const MAPLIBRE_STYLE = 'application/vnd.maplibre.style+json';
const STATUS = { received: '已受理', verifying: '核查中', confirmed: '已查实', closed: '已办结' };
const EMPTY = { type: 'FeatureCollection', features: [] };
const $ = (selector) => document.querySelector(selector);
const state = { publications: [], selected: null, planLayers: [], point: null };

// the public collections drawn from their features (OGC API Features), in their styles
const NOTICES = 'GHGS';
const COMMENTS = 'GZYJ';
const CONTEXT = 'XZQ'; // where a plan lies: the boundaries of the city, counties and townships
const BACKGROUND = { id: 'background', type: 'background', paint: { 'background-color': '#f4f3ef' } };
const PICK = { id: 'pick', type: 'circle', source: 'pick',
  paint: { 'circle-radius': 7, 'circle-color': '#E03131', 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } };

const sharedView = location.hash.length > 1; // read before the map writes its own view there
const map = new maplibregl.Map({
  container: 'map',
  style: { version: 8, sources: { pick: { type: 'geojson', data: EMPTY } }, layers: [BACKGROUND, PICK] },
  center: [112.3, 28.5],
  zoom: 7,
  hash: true, // a view can be shared as a link: #zoom/lat/lon
});
map.addControl(new maplibregl.NavigationControl(), 'top-right');
map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
const mapLoaded = new Promise((resolve) => map.once('load', resolve));

class ServiceError extends Error {}

function say(text, ok = false) {
  const box = $('#message');
  box.textContent = text;
  box.className = ok ? 'ok' : 'error';
  box.hidden = !text;
}

// The gateway's bilingual problem (Chinese first, the field at fault), else the status.
async function call(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { credentials: 'omit', headers: { Accept: 'application/json' }, ...options });
  } catch (error) {
    throw new ServiceError(`无法连接服务：${error.message}\nThe service cannot be reached: ${error.message}`);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const field = data.field ? `（${data.field}）` : '';
    throw new ServiceError(`${data.message_zh || `请求失败（HTTP ${response.status}）`}${field}\n`
      + `${data.message_en || `The request failed (HTTP ${response.status})`}`);
  }
  return data;
}

const api = (path) => new URL(`api/${path}`, location.href);
const ogc = (path) => new URL(`../ogc/${path}`, location.href);

function bilingual(element, zh, en) {
  const english = document.createElement('span');
  english.lang = 'en';
  english.textContent = en;
  element.append(`${zh} `, english);
  return element;
}

function renderPublications() {
  $('#publications').replaceChildren(...state.publications.map((p) => {
    const item = bilingual(document.createElement('li'), p.gsmc, p.gsmc_en);
    item.dataset.gsbh = p.gsbh;
    const dates = document.createElement('div');
    dates.className = 'dates';
    dates.textContent = `${p.gsbh} · ${p.ksrq} — ${p.jzrq}`;
    item.append(dates);
    item.addEventListener('click', () => select(p.gsbh).catch((e) => fail(e)));
    return item;
  }));
}

function renderComments(comments) {
  $('#comments').replaceChildren(...comments.map((c) => {
    const item = document.createElement('li');
    item.dataset.id = c.id;
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = c.yjnr;
    item.append(`${c.tjrq} `, body);
    if (c.dfnr) {
      const reply = document.createElement('span');
      reply.className = 'reply';
      reply.textContent = `答复 Reply: ${c.dfnr}`;
      item.append(reply);
    }
    return item;
  }));
}

// A collection's MapLibre style (the stylesheet link of the collection).
async function collectionStyle(id) {
  const collection = await call(ogc(`collections/${encodeURIComponent(id)}?f=json`));
  const link = collection.links.find((l) => l.rel === 'stylesheet' && l.type === MAPLIBRE_STYLE);
  if (!link) throw new ServiceError(`图层 ${id} 没有地图样式\nThe layer ${id} has no map style`);
  return call(link.href);
}

// labels need glyphs, which the stack does not serve
const drawn = (style) => style.layers.filter((l) => l.type !== 'symbol');

// A layer's style over our vector tiles, under the notice areas: the ids of its map layers.
function addTiles(style) {
  const below = map.getStyle().layers.find((l) => l.source === NOTICES)?.id;
  for (const [name, source] of Object.entries(style.sources)) {
    if (!map.getSource(name)) map.addSource(name, source);
  }
  return drawn(style).map((layer) => {
    map.addLayer(layer, below);
    return layer.id;
  });
}

// The plan's public layers, above the context.
async function showPlanLayers(layerIds) {
  for (const id of state.planLayers) map.removeLayer(id);
  const plan = layerIds.filter((id) => id !== CONTEXT); // drawn already
  state.planLayers = (await Promise.all(plan.map(collectionStyle))).flatMap(addTiles);
}

// A public collection's features in its own style, under the picked point.
function addFeatures(style, features) {
  const id = style.metadata['onemap:layer'];
  map.addSource(id, { type: 'geojson', data: features });
  for (const { 'source-layer': _tiles, ...layer } of drawn(style)) map.addLayer({ ...layer, source: id }, 'pick');
}

function whenIdle() {
  return new Promise((resolve) => {
    map.once('idle', resolve);
    map.triggerRepaint(); // a frame, so idle comes even when nothing changed
  });
}

async function select(gsbh) {
  document.body.dataset.state = 'loading';
  say('');
  const p = await call(api(`publications/${encodeURIComponent(gsbh)}`));
  state.selected = p;
  for (const li of document.querySelectorAll('#publications li')) li.classList.toggle('selected', li.dataset.gsbh === gsbh);
  $('#detail').hidden = false;
  $('#detail-title').replaceChildren();
  bilingual($('#detail-title'), p.gsmc, p.gsmc_en);
  $('#detail-dates').textContent = `公示期 Notice period: ${p.ksrq} — ${p.jzrq}`;
  $('#detail-summary').replaceChildren();
  bilingual($('#detail-summary'), p.gsnr, p.gsnr_en);
  $('#documents').replaceChildren(...p.documents.map((d) => {
    const link = bilingual(document.createElement('a'), d.title_zh, d.title_en);
    link.href = new URL(d.url, new URL('../', location.href)); // relative to the stack's root
    const item = document.createElement('li');
    item.append(link);
    return item;
  }));
  renderComments(p.comments);
  await showPlanLayers(p.layers);
  map.fitBounds([[p.bbox[0], p.bbox[1]], [p.bbox[2], p.bbox[3]]], { padding: 30, animate: false });
  await whenIdle();
  document.body.dataset.state = 'ready';
}

async function loadPublic() {
  const [list, ...collections] = await Promise.all([
    call(api('publications')),
    ...[NOTICES, COMMENTS].flatMap((id) => [collectionStyle(id), call(ogc(`collections/${id}/items?f=json&limit=1000`))]),
    collectionStyle(CONTEXT),
  ]);
  state.publications = list;
  renderPublications();
  await mapLoaded;
  addFeatures(collections[0], collections[1]);
  addFeatures(collections[2], collections[3]);
  addTiles(collections[4]);
  if (list.length && !sharedView) {
    const boxes = list.map((p) => p.bbox);
    map.fitBounds([[Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1]))],
      [Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))]], { padding: 30, animate: false });
  }
  await whenIdle();
}

function fail(error) {
  say(error.message);
  document.body.dataset.state = 'error';
}

map.on('click', (event) => {
  state.point = [event.lngLat.lng, event.lngLat.lat];
  map.getSource('pick').setData({ type: 'Point', coordinates: state.point });
  $('#report-form').elements.where.value = state.point.map((v) => v.toFixed(6)).join(', ');
});

for (const tab of document.querySelectorAll('#tabs button')) {
  tab.addEventListener('click', () => {
    for (const other of document.querySelectorAll('#tabs button')) {
      other.setAttribute('aria-pressed', String(other === tab));
      $(`#${other.dataset.tab}`).hidden = other !== tab;
    }
    say('');
  });
}

$('#comment-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { body: form.elements.body.value, name: form.elements.name.value, phone: form.elements.phone.value };
  if (form.elements.at_point.checked && state.point) [body.lon, body.lat] = state.point;
  try {
    const result = await call(api(`publications/${encodeURIComponent(state.selected.gsbh)}/comments`), {
      method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    });
    form.reset();
    say(`意见已提交（编号 ${result.id}），审核通过后公开。\nYour comment (no. ${result.id}) is public once approved.`, true);
  } catch (error) {
    say(error.message);
  }
});

$('#report-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  data.delete('where');
  if (state.point) {
    data.set('lon', state.point[0]);
    data.set('lat', state.point[1]);
  }
  $('#tracking').hidden = true;
  try {
    const result = await call(api('reports'), { method: 'POST', body: data });
    form.reset();
    $('#tracking code').textContent = result.tracking_number;
    $('#tracking').hidden = false;
    say('举报已受理，请保存查询编号。\nYour report is received: keep the tracking number.', true);
  } catch (error) {
    say(error.message);
  }
});

$('#status-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('#status').hidden = true;
  try {
    const report = await call(api(`reports/${encodeURIComponent(event.target.elements.number.value.trim())}`));
    $('#status-value').textContent = `${STATUS[report.status]} ${report.status}`;
    $('#steps').replaceChildren(...report.steps.map((step) => {
      const item = document.createElement('li');
      item.dataset.status = step.status;
      item.textContent = `${step.at.slice(0, 16)} ${STATUS[step.status]} ${step.status}${step.note ? `：${step.note}` : ''}`;
      return item;
    }));
    $('#status').hidden = false;
    say('');
  } catch (error) {
    say(error.message);
  }
});

loadPublic().then(() => { document.body.dataset.state = 'ready'; }, fail);
