// 对比分析: two layers, or a plan layer in two versions (of the city or of
// one admin unit), in a swipe or a
// side-by-side view (two synchronised maps: the left one draws the "from"
// side, the right one the "to" side), with the layer-compare result as a
// table of class changes (m², ha, 亩) and the changed parcels highlighted.
import { execute } from './api.js';
import { planVersions } from './history.js';
import { BACKGROUND, layerById, layerStyle, newMap, viewBbox } from './map.js';
import { $, el, number, table } from './ui.js';

const MU_M2 = 10000 / 15;
const HIGHLIGHT = 'highlight';
let second = null;

// cmp in the address: "GHYDYH@v1..v2" (versions) or "DLTB..GHYDYH" (layers),
// "~xzqdm" after either when the comparison is of one admin unit
export function parseCompare(text) {
  const [pair, unit] = (text ?? '').split('~');
  const [from, to] = pair.split('..');
  if (!from || !to) return null;
  const [layer, fromVersion] = from.split('@');
  const spec = fromVersion ? { layer, from: fromVersion, to } : { from, to };
  return unit ? { ...spec, unit } : spec;
}

export const formatCompare = (spec) => (spec.layer ? `${spec.layer}@${spec.from}..${spec.to}` : `${spec.from}..${spec.to}`)
  + (spec.unit ? `~${spec.unit}` : '');

function sideStyle(map, layerId, time) {
  const part = layerStyle(layerById(layerId), { time, bbox: viewBbox(map) });
  return { version: 8, sources: part.sources, layers: [BACKGROUND, ...part.layers] };
}

function validFrom(version) {
  const found = planVersions().find((v) => v.plan_version === version);
  return found ? found.valid_from : null;
}

function sides(spec) {
  return spec.layer
    ? [[spec.layer, validFrom(spec.from)], [spec.layer, validFrom(spec.to)]]
    : [[spec.from, null], [spec.to, null]];
}

function highlight(map, features) {
  const data = { type: 'FeatureCollection', features: features.map((f) => ({
    type: 'Feature', properties: { change: f.change, key: f.key }, geometry: f.geometry })) };
  // a style kept by setStyle's diff keeps the source of the last comparison
  if (map.getSource(HIGHLIGHT)) {
    map.getSource(HIGHLIGHT).setData(data);
    return;
  }
  map.addSource(HIGHLIGHT, { type: 'geojson', data });
  map.addLayer({ id: 'highlight-line', type: 'line', source: HIGHLIGHT, paint: { 'line-color': '#ff00ff', 'line-width': 3 } });
}

function sync(a, b) {
  let busy = false;
  const follow = (from, to) => from.on('move', () => {
    if (busy) return;
    busy = true;
    to.jumpTo({ center: from.getCenter(), zoom: from.getZoom(), bearing: from.getBearing(), pitch: from.getPitch() });
    busy = false;
  });
  follow(a, b);
  follow(b, a);
}

export function setSwipe(percent) {
  $('#map2').style.clipPath = document.body.classList.contains('side-by-side') ? '' : `inset(0 0 0 ${percent}%)`;
  $('#swipe-line').style.left = `${percent}%`;
}

export function setLayout(sideBySide) {
  document.body.classList.toggle('side-by-side', sideBySide);
  setSwipe($('#swipe').value);
}

// Both maps drawn and the result shown; resolves with the process result.
export async function startCompare(map, spec) {
  const [[fromLayer, fromTime], [toLayer, toTime]] = sides(spec);
  document.body.classList.add('comparing');
  if (!second) {
    // shown before it is made: it takes its size and the view of the first
    second = newMap('map2', { center: map.getCenter(), zoom: map.getZoom() });
    sync(map, second);
  }
  second.resize();
  map.setStyle(sideStyle(map, fromLayer, fromTime));
  second.setStyle(sideStyle(map, toLayer, toTime));
  setSwipe($('#swipe').value);
  const inputs = spec.layer
    ? { layer: spec.layer, from_version: spec.from, to_version: spec.to, level: '县' }
    : { from_layer: spec.from, to_layer: spec.to, level: '县' };
  if (spec.unit) inputs.xzqdm = spec.unit;
  $('#compare-result').replaceChildren('分析中… Comparing…');
  const { comparison } = await execute('layer-compare', inputs);
  const rows = comparison.by_class.filter((r) => Math.abs(r.change_m2) > 0.005).map((r) => [
    r.code, r.name, number(r.from_m2), number(r.to_m2), number(r.change_m2), number(r.change_ha, 4),
    number(r.change_m2 / MU_M2)]);
  // two versions: features added, removed, changed; two layers: the pieces whose classes differ
  const summary = spec.layer
    ? `新增 added ${comparison.changes.added} · 删除 removed ${comparison.changes.removed} · 变化 changed ${comparison.changes.changed}`
    : `分类不一致的图斑 pieces of another class ${comparison.changes.changed}${comparison.changes.truncated ? '（图上显示面积最大的部分 largest shown）' : ''}`;
  $('#compare-result').replaceChildren(el('p', { className: 'summary' }, summary), table(
    [['代码', 'Code'], ['名称', 'Name'], ['原面积（平方米）', 'From (m²)'], ['新面积（平方米）', 'To (m²)'],
      ['变化（平方米）', 'Change (m²)'], ['变化（公顷）', 'Change (ha)'], ['变化（亩）', 'Change (mu)']], rows));
  const changed = comparison.changes.features;
  for (const side of [map, second]) {
    if (side.isStyleLoaded()) highlight(side, changed);
    else side.once('style.load', () => highlight(side, changed));
  }
  return comparison;
}

export function stopCompare() {
  document.body.classList.remove('comparing', 'side-by-side');
}

export const secondMap = () => second;
