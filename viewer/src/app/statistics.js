// 查询统计: area-statistics of a layer for an admin unit or a drawn area, as
// a bar chart and a table (m², ha, 亩) with a CSV export.
import { execute, getJSON } from './api.js';
import { state } from './map.js';
import { $, download, el, number, table } from './ui.js';

export const AREA_HEADINGS = [['面积（平方米）', 'Area (m²)'], ['面积（公顷）', 'Area (ha)'], ['面积（亩）', 'Area (mu)']];
const areas = (row) => [number(row.area_m2), number(row.area_ha, 4), number(row.area_mu)];
let last = null;

export async function loadUnits() {
  const units = await getJSON('ogc/collections/XZQ/items?f=json&limit=200&properties=xzqdm,xzqmc,xzqjb&skipGeometry=true');
  // the admin units of the statistics and of the comparison
  for (const select of [$('#stats-unit'), $('#compare-form').elements.unit]) {
    select.replaceChildren(el('option', { value: '' }, '全市 Whole city'),
      ...units.features.map((f) => f.properties)
        .sort((a, b) => a.xzqdm.localeCompare(b.xzqdm))
        .map((p) => el('option', { value: p.xzqdm }, `${p.xzqmc}（${p.xzqjb}）${p.xzqdm}`)));
  }
}

function chart(byClass) {
  const widest = Math.max(...byClass.map((r) => r.area_m2), 1);
  return el('div', { className: 'chart' }, ...byClass.map((row) => {
    const bar = el('i');
    bar.style.width = `${(100 * row.area_m2) / widest}%`;
    const item = el('div', { className: 'bar', title: `${row.code} ${row.name}` },
      el('span', {}, `${row.code} ${row.name}`), bar, el('b', {}, `${number(row.area_ha, 2)} ha`));
    item.dataset.code = row.code;
    return item;
  }));
}

// `boundary`: a drawn GeoJSON polygon, else the unit of the list.
export async function runStatistics(boundary = null) {
  const inputs = { layer: $('#stats-layer').value, level: '县' };
  if (boundary) inputs.boundary = boundary;
  else if ($('#stats-unit').value) inputs.xzqdm = $('#stats-unit').value;
  if (state.time) inputs.datetime = state.time;
  $('#stats-result').replaceChildren('统计中… Computing…');
  const { statistics } = await execute('area-statistics', inputs);
  last = statistics;
  const rows = statistics.by_class.map((r) => [r.code, r.name, ...areas(r)]);
  rows.push(['合计', 'Total', ...areas(statistics.total)]);
  $('#stats-result').replaceChildren(chart(statistics.by_class),
    table([['代码', 'Code'], ['名称', 'Name'], ...AREA_HEADINGS], rows));
  $('#stats-csv').disabled = false;
  return statistics;
}

export function exportCsv() {
  const quote = (v) => `"${String(v).replaceAll('"', '""')}"`;
  const lines = [['代码 code', '名称 name', '面积 area_m2', '公顷 area_ha', '亩 area_mu'].map(quote).join(',')];
  for (const r of [...last.by_class, { code: '合计 total', name: '', ...last.total }]) {
    lines.push([r.code, r.name, r.area_m2, r.area_ha, r.area_mu].map(quote).join(','));
  }
  // a BOM: Excel opens UTF-8 Chinese correctly
  download(new Blob(['\ufeff', lines.join('\r\n')], { type: 'text/csv;charset=utf-8' }), `area-statistics-${last.layer}.csv`);
}
