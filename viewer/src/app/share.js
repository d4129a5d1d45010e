// 成果共享: a layer's service addresses (OGC API Features, WMS, WMTS, the CSW
// record) to copy into QGIS or ArcGIS, and the visible features as a
// GeoPackage (the gateway's /download, within the caller's rights and its
// size limit).
import { request } from './api.js';
import { state, viewBbox } from './map.js';
import { $, bilingual, download, el } from './ui.js';

const RECORD_PREFIX = 'cn.gov.yiyang.onemap.layer.';

export function addresses(layerId) {
  const base = new URL('.', location.href).href.replace(/\/$/, '');
  return [
    ['OGC API Features', 'OGC API Features', `${base}/ogc/collections/${layerId}`],
    ['WMS 1.3.0', 'WMS', `${base}/mapproxy/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0`],
    ['WMTS 1.0.0', 'WMTS', `${base}/mapproxy/wmts/1.0.0/WMTSCapabilities.xml`],
    ['CSW 元数据记录', 'CSW record', `${base}/csw?service=CSW&version=2.0.2&request=GetRecordById&id=${RECORD_PREFIX}${layerId}`
      + '&outputSchema=http://www.isotc211.org/2005/gmd&elementSetName=full'],
  ];
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // no clipboard permission (plain http): the field stays selected to copy by hand
  }
  button.textContent = '已复制 Copied';
}

export function renderShare() {
  const select = $('#share-layer');
  const chosen = select.value;
  select.replaceChildren(...state.order.map((id) => {
    const layer = state.layers.find((l) => l.id === id);
    return el('option', { value: id, selected: id === chosen }, `${layer.zh} ${layer.en}`);
  }));
  const layerId = select.value;
  $('#share-addresses').replaceChildren(...addresses(layerId).flatMap(([zh, en, url]) => {
    const field = el('input', { value: url, readOnly: true, className: 'address' });
    field.addEventListener('focus', () => field.select());
    const button = el('button', { type: 'button' }, '复制 Copy');
    button.addEventListener('click', () => { field.select(); copy(url, button); });
    const item = el('dd', {}, field, button);
    item.dataset.service = en;
    return [bilingual(el('dt'), zh, en), item];
  }));
}

export async function downloadVisible(map) {
  const layerId = $('#share-layer').value;
  const params = new URLSearchParams({ bbox: viewBbox(map) });
  if (state.time) params.set('datetime', state.time);
  const response = await request('GET', `download/${layerId}.gpkg?${params}`, { accept: 'application/geopackage+sqlite3' });
  download(await response.blob(), `${layerId}.gpkg`);
}
