// 嵌入式案件地图 Case map for the e-government portal: the token comes in the
// fragment (#token=…), never in a URL sent to a server; the data and the
// tiles are fetched with it as Authorization: Bearer, from this stack only.
import * as maplibregl from '../../viewer/maplibre-gl/maplibre-gl.mjs';

const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
const caseId = decodeURIComponent(location.pathname.split('/').pop());
const base = new URL('../..', location.href).href.replace(/\/$/, '');
const ours = (url) => new URL(url, location.href).origin === location.origin;
const VERDICT_COLOURS = ['match', ['get', 'verdict'], '禁止', '#c00', '不符合', '#e60', '限制', '#fc0', '#39c'];

// the service's refusal (401 no valid token, 403 a role that may not, 404
// no check of the case it may see), Chinese first, English beside
function fail(zh, en, status = '') {
  const box = document.getElementById('error');
  box.textContent = `${status ? `${status} ` : ''}${zh}\n${en}`;
  box.hidden = false;
  document.body.dataset.status = status;
  document.body.dataset.state = 'error';
}

const map = new maplibregl.Map({
  container: 'map',
  style: { version: 8, sources: {}, layers: [{ id: 'bg', type: 'background', paint: { 'background-color': '#f4f3ef' } }] },
  transformRequest: (url) => ({ url, headers: ours(url) ? { Authorization: `Bearer ${token}` } : {} }),
});
map.addControl(new maplibregl.NavigationControl(), 'top-right');
// the map's own state (sources, rendered features) for the browser tests and the console
window.onemap = { map };
const loaded = map.once('load'); // asked now: the map may be loaded before the case's data arrives

async function load() {
  if (!token) {
    fail('缺少访问令牌：请从电子政务系统打开本页（地址中 #token=…）',
      'No access token: open this page from the e-government system (#token=… in the address)', 401);
    return;
  }
  // always Bearer: a 401 then challenges Bearer only, never Basic (a browser
  // would meet a Basic challenge with a password dialog)
  const response = await fetch(`${base}/embed/case/${encodeURIComponent(caseId)}.json`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    fail(body.message_zh || '无法加载案件地图', body.message_en || 'The case map cannot be loaded', response.status);
    return;
  }
  await loaded;
  for (const layer of body.layers) {
    map.addSource(layer, { type: 'raster', tileSize: 256,
      tiles: [`${base}/mapproxy/wmts/${layer}/WebMercatorQuad/{z}/{x}/{y}.png`] });
    map.addLayer({ id: layer, type: 'raster', source: layer, paint: { 'raster-opacity': 0.6 } });
  }
  map.addSource('findings', { type: 'geojson', data: body.findings });
  map.addLayer({ id: 'findings', type: 'fill', source: 'findings',
    paint: { 'fill-color': VERDICT_COLOURS, 'fill-opacity': 0.6 } });
  map.addSource('checks', { type: 'geojson', data: body.checks });
  map.addLayer({ id: 'checks', type: 'line', source: 'checks', paint: { 'line-color': '#d00', 'line-width': 2 } });
  const bounds = new maplibregl.LngLatBounds();
  for (const feature of body.checks.features) {
    for (const ring of feature.geometry.type === 'Polygon' ? feature.geometry.coordinates
      : feature.geometry.coordinates.flat()) {
      ring.forEach((point) => bounds.extend(point));
    }
  }
  map.fitBounds(bounds, { padding: 40, animate: false });
  const verdicts = body.checks.features.map((f) => `${f.properties.stage}：${f.properties.verdict}`).join('；');
  document.getElementById('legend').textContent =
    `案件 ${body.case_id}（${body.checks.features.length} 次检测，${body.findings.features.length} 处涉及）${verdicts}`;
  document.body.dataset.state = 'ready';
}

load().catch((error) => fail(`加载失败：${error.message}`, `Loading failed: ${error.message}`));
