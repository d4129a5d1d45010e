// 资源目录: the layers as the data directory tree of the catalogue (OGC API
// Records: directory classes are `series` records, layers `dataset` records
// under them by parentIdentifier), with search by name, legend, visibility,
// opacity and drawing order.
import { getJSON } from './api.js';
import { layerById, setOpacity, setVisible, state } from './map.js';
import { $, bilingual, el } from './ui.js';

const RECORDS = 'ogc/collections/catalogue/items?f=json&limit=1000';
const LAYER_RECORD = /\.layer\.([^.]+)$/;

// {id, zh, en, children, layers} nodes from the records; classes without a
// layer of the caller's view are left out.
export async function directoryTree(layerIds) {
  let records = [];
  try {
    records = (await getJSON(RECORDS)).features;
  } catch {
    // no catalogue: the layers stand in one list (below)
  }
  const nodes = new Map();
  for (const record of records.filter((r) => r.properties.type === 'series')) {
    nodes.set(record.id, { id: record.id, zh: record.properties.title, en: record.properties.title_en ?? '',
      parent: record.properties.parentIdentifier, children: [], layers: [] });
  }
  const placed = new Set();
  for (const record of records.filter((r) => r.properties.type === 'dataset')) {
    const layerId = LAYER_RECORD.exec(record.id)?.[1];
    const parent = nodes.get(record.properties.parentIdentifier);
    if (parent && layerIds.includes(layerId)) {
      parent.layers.push(layerId);
      placed.add(layerId);
    }
  }
  const roots = [];
  for (const node of nodes.values()) (nodes.get(node.parent)?.children ?? roots).push(node);
  const rest = layerIds.filter((id) => !placed.has(id));
  if (rest.length) roots.push({ id: 'other', zh: '其他图层', en: 'Other layers', children: [], layers: rest });
  const prune = (list) => list.filter((node) => {
    node.children = prune(node.children);
    return node.children.length || node.layers.length;
  });
  return prune(roots);
}

function legend(layer) {
  const items = new Map();
  for (const styleLayer of layer.style.layers) {
    const title = styleLayer.metadata?.title_zh;
    const colour = styleLayer.paint?.['fill-color'] ?? styleLayer.paint?.['line-color']
      ?? styleLayer.paint?.['circle-color'];
    if (title && colour && !items.has(title)) items.set(title, [colour, styleLayer.metadata.title_en ?? '']);
  }
  return el('ul', { className: 'legend' }, ...[...items].map(([zh, [colour, en]]) => {
    const swatch = el('i', { className: 'swatch' });
    swatch.style.background = colour;
    return bilingual(el('li', {}, swatch), zh, en);
  }));
}

function layerItem(map, layer, rerender, redraw) {
  const checkbox = el('input', { type: 'checkbox', checked: !state.hidden.has(layer.id) });
  checkbox.dataset.layer = layer.id;
  checkbox.addEventListener('change', () => { setVisible(map, layer.id, checkbox.checked); redraw(); });
  const label = bilingual(el('label'), layer.zh, layer.en);
  label.prepend(checkbox);
  const opacity = el('input', { type: 'range', min: 0, max: 100, value: Math.round((state.opacity.get(layer.id) ?? 1) * 100),
    className: 'opacity', title: '透明度 Opacity' });
  opacity.setAttribute('aria-label', `${layer.zh} 不透明度 Opacity`);
  opacity.addEventListener('input', () => { setOpacity(map, layer.id, opacity.value / 100); redraw(); });
  const move = (step, zh, en) => {
    const button = el('button', { type: 'button', className: 'move', title: `${zh} ${en}` });
    button.dataset.step = step;
    button.setAttribute('aria-label', `${zh} ${en}`);
    button.addEventListener('click', () => {
      const at = state.order.indexOf(layer.id);
      const to = Math.min(Math.max(at + step, 0), state.order.length - 1);
      state.order.splice(at, 1);
      state.order.splice(to, 0, layer.id);
      rerender(true);
    });
    return button;
  };
  const controls = el('div', { className: 'controls' }, opacity, move(-1, '上移', 'Up'), move(1, '下移', 'Down'));
  const item = el('li', {}, label, controls, legend(layer));
  item.dataset.layer = layer.id;
  return item;
}

// The tree, filtered by the search text; `rerender(restyle)` redraws it
// (and the map when the order changed), `redraw` records the state.
export function renderCatalogue(map, tree, rerender, redraw) {
  const term = $('#search').value.trim().toLowerCase();
  const matches = (layer) => !term || `${layer.id} ${layer.zh} ${layer.en}`.toLowerCase().includes(term);
  const byOrder = (a, b) => state.order.indexOf(a) - state.order.indexOf(b);
  const branch = (node) => {
    const layers = node.layers.map(layerById).filter((l) => l && matches(l)).sort((a, b) => byOrder(a.id, b.id));
    const children = node.children.map(branch).filter(Boolean);
    if (!layers.length && !children.length) return null;
    const details = el('details', { open: true }, bilingual(el('summary'), node.zh, node.en));
    details.dataset.node = node.id;
    if (children.length) details.append(el('div', { className: 'classes' }, ...children));
    if (layers.length) details.append(el('ul', { className: 'layers' }, ...layers.map((l) => layerItem(map, l, rerender, redraw))));
    return details;
  };
  $('#layers').replaceChildren(...tree.map(branch).filter(Boolean));
}

export function renderBasemaps(onChange) {
  $('#basemaps').replaceChildren(...state.basemaps.map((basemap) => {
    const radio = el('input', { type: 'radio', name: 'basemap', value: basemap.id, checked: basemap.id === state.basemap });
    radio.addEventListener('change', () => onChange(basemap.id));
    const label = bilingual(el('label'), basemap.title.zh, basemap.title.en);
    label.prepend(radio);
    label.dataset.basemap = basemap.id;
    return label;
  }));
}
