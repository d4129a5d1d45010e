// 专题制图: a choropleth of a statistic by county-level unit (the area of a
// first-level land-use class, from area-statistics) in class breaks, with
// title, legend, scale bar and north arrow; and 打印输出: the current map
// with those elements as a PDF (A4 / A3, landscape / portrait), rendered on
// the server by the project's one PDF engine so the Chinese text and fonts
// are the same as in every report.
import { execute, getJSON, request } from './api.js';
import { cityBounds, state } from './map.js';
import { $, bilingual, download, el, number } from './ui.js';

const RAMP = ['#fff5eb', '#fdd0a2', '#fd8d3c', '#d94801', '#7f2704'];
const SOURCE = 'thematic';
let legendItems = [];
let statistics = null;

// The first-level classes of the plan with their areas by county-level unit.
export async function loadClasses() {
  statistics = (await execute('area-statistics', { layer: 'GHYDYH', class_level: 1, level: '县' })).statistics;
  $('#thematic-form').elements.class.replaceChildren(...statistics.by_class.map((row) =>
    el('option', { value: row.code }, `${row.code} ${row.name}`)));
}

// Quantile breaks: up to five classes of about equal counts.
export function breaks(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = Math.min(RAMP.length, sorted.length);
  return Array.from({ length: n + 1 }, (_, i) => sorted[Math.min(sorted.length - 1, Math.round((i * (sorted.length - 1)) / n))]);
}

function classOf(value, edges) {
  for (let i = 1; i < edges.length; i += 1) if (value <= edges[i]) return i - 1;
  return edges.length - 2;
}

export async function drawThematic(map) {
  const form = $('#thematic-form');
  const code = form.elements.class.value;
  const name = form.elements.class.selectedOptions[0].textContent;
  const title = form.elements.title.value.trim() || `${name}面积（公顷）分布`;
  const units = await getJSON('ogc/collections/XZQ/items?f=json&limit=200&xzqjb=县');
  const values = new Map();
  for (const row of statistics.rows.filter((r) => r.code === code)) {
    values.set(row.xzqdm, (values.get(row.xzqdm) ?? 0) + row.area_ha);
  }
  const features = units.features.map((f) => ({ ...f, properties: { ...f.properties, value: values.get(f.properties.xzqdm) ?? 0 } }));
  const edges = breaks(features.map((f) => f.properties.value));
  for (const f of features) f.properties.colour = RAMP[classOf(f.properties.value, edges)];
  const data = { type: 'FeatureCollection', features };
  if (map.getSource(SOURCE)) map.getSource(SOURCE).setData(data);
  else {
    map.addSource(SOURCE, { type: 'geojson', data });
    map.addLayer({ id: 'thematic-fill', type: 'fill', source: SOURCE, paint: { 'fill-color': ['get', 'colour'], 'fill-opacity': 1 } });
    map.addLayer({ id: 'thematic-line', type: 'line', source: SOURCE, paint: { 'line-color': '#555', 'line-width': 1 } });
  }
  legendItems = edges.slice(1).map((upper, i) => ({ colour: RAMP[i], label: `${number(edges[i])} – ${number(upper)} 公顷 ha` }));
  const box = $('#legend-box');
  box.replaceChildren(el('h3', { id: 'map-title' }, title), el('ul', { className: 'legend' }, ...legendItems.map((item) => {
    const swatch = el('i', { className: 'swatch' });
    swatch.style.background = item.colour;
    return el('li', {}, swatch, item.label);
  })));
  box.hidden = false;
  // the whole city (its admin units) on the sheet
  map.fitBounds(cityBounds(state.layers.filter((l) => l.id === 'XZQ')), { padding: 20, animate: false });
  return { title, values: Object.fromEntries(values), edges };
}

export async function printMap(map) {
  const form = $('#print-form');
  const image = map.getCanvas().toDataURL('image/png');
  const body = {
    title: $('#map-title')?.textContent ?? '国土空间规划“一张图”',
    paper: form.elements.paper.value,
    orientation: form.elements.orientation.value,
    image,
    legend: legendItems,
    scale: document.querySelector('.maplibregl-ctrl-scale')?.textContent ?? '',
  };
  const response = await request('POST', 'print/map.pdf', { json: body, accept: 'application/pdf' });
  download(await response.blob(), `${body.title}.pdf`);
  return bilingual(el('span'), '已导出', 'Exported');
}
