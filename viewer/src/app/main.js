// 一张图应用 One Map staff application: sign-in and what a role sees, the
// data directory, basemaps, and the tools (回溯, 对比, 统计, 合规性检测,
// 专题制图, 共享), the view kept in the address. Each feature is a module.
import { isStaff, refreshSession, serviceMessage, session, signIn, signOut } from './api.js';
import { directoryTree, renderBasemaps, renderCatalogue } from './catalogue.js';
import {
  formatCompare, parseCompare, secondMap, setLayout, setSwipe, startCompare, stopCompare,
} from './compare.js';
import { runCheck } from './compliance.js';
import { addPoint, clearDrawing, ensureOverlay, finishDrawing, isDrawing, startDrawing } from './draw.js';
import { loadVersions, planVersions, renderHistory } from './history.js';
import { identify, identifiable } from './identify.js';
import {
  cityBounds, combinedStyle, followView, loadBasemaps, loadLayers, maplibregl, newMap, state,
} from './map.js';
import { downloadVisible, renderShare } from './share.js';
import { exportCsv, loadUnits, runStatistics } from './statistics.js';
import { drawThematic, loadClasses, printMap } from './thematic.js';
import { readHash, writeHash } from './urlstate.js';
import { $, clearError, el, reportError, setState, showError } from './ui.js';

const map = newMap('map');
map.addControl(new maplibregl.NavigationControl(), 'top-right');
map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
followView(map);
// the map's own state (sources, rendered features) for the browser tests and the console
window.onemap = { map, secondMap };

const initial = readHash();
const ui = { tool: 'browse', compare: null, tree: [] };

const record = () => writeHash(map, { tool: ui.tool !== 'browse' ? ui.tool : null,
  cmp: ui.compare ? formatCompare(ui.compare) : null });
map.on('moveend', record);

// What the role may see: staff tools for those who read internal data,
// the moderation desk for the roles with participation rights, the
// accounts page for administrators.
function applyRole() {
  const me = session.me;
  const role = me?.anonymous !== false ? 'anonymous' : isStaff() ? 'staff' : 'public';
  document.body.dataset.role = role;
  const may = {
    staff: role === 'staff',
    participation: (me?.participation ?? []).length > 0,
    admin: (me?.administers ?? []).length > 0,
  };
  for (const node of document.querySelectorAll('[data-needs]')) node.hidden = !may[node.dataset.needs];
  $('#login').hidden = role !== 'anonymous';
  $('#signed-in').hidden = role === 'anonymous';
  $('#me').textContent = me?.name ?? '';
  $('#my-roles').textContent = (me?.roles ?? []).join(', ');
  if (role !== 'staff' && ui.tool !== 'browse' && ui.tool !== 'share') selectTool('browse');
}

function redraw() {
  setState('loading');
  waitReady();
  map.setStyle(combinedStyle(map));
  map.once('style.load', () => ensureOverlay(map));
  record();
}

// a layer switched or faded: drawn again, then ready
function repainted() {
  setState('loading');
  record();
  waitReady();
}

function rerender(restyle = false) {
  renderCatalogue(map, ui.tree, rerender, repainted);
  renderShare();
  if (restyle) redraw();
}

function waitReady() {
  map.once('idle', () => {
    if (document.body.dataset.state === 'loading') setState('ready');
  });
}

async function reload() {
  setState('loading');
  clearError();
  try {
    await refreshSession();
    applyRole();
    const [layers, basemaps] = await Promise.all([loadLayers(), loadBasemaps()]);
    state.layers = layers;
    state.basemaps = basemaps;
    if (!basemaps.some((b) => b.id === state.basemap)) state.basemap = 'blank';
    const ids = layers.map((l) => l.id);
    // the address's order first, then the layers it does not name
    state.order = [...(initial.order ?? []).filter((id) => ids.includes(id)), ...ids.filter((id) => !(initial.order ?? []).includes(id))];
    ui.tree = await directoryTree(ids);
  } catch (error) {
    state.layers = [];
    state.order = [];
    $('#layers').replaceChildren();
    map.setStyle(combinedStyle(map));
    reportError(error);
    return;
  }
  renderBasemaps((id) => { state.basemap = id; redraw(); });
  rerender(true);
  if (isStaff()) await staffData();
}

// 规划回溯: the map at another time
function travel(time) {
  state.time = time;
  redraw();
}

// What the staff tools need: plan versions, units, classes.
async function staffData() {
  try {
    await Promise.all([loadVersions(), loadUnits()]);
  } catch (error) {
    reportError(error);
    return;
  }
  renderHistory(travel);
  const versioned = state.layers.filter((l) => l.versioned);
  $('#stats-layer').replaceChildren(...versioned.concat(state.layers.filter((l) => l.id === 'DLTB'))
    .map((l) => el('option', { value: l.id }, `${l.zh} ${l.en}`)));
  fillCompareChoices();
}

function fillCompareChoices() {
  const form = $('#compare-form');
  const versions = form.elements.kind.value === 'versions';
  const options = versions
    ? planVersions().map((v) => [v.plan_version, `${v.plan_version} ${v.valid_from.slice(0, 10)}`])
    : state.layers.map((l) => [l.id, `${l.zh} ${l.en}`]);
  for (const [name, pick] of [['from', 0], ['to', options.length - 1]]) {
    form.elements[name].replaceChildren(...options.map(([value, text], i) => el('option', { value, selected: i === pick }, text)));
  }
}

function selectTool(tool) {
  ui.tool = tool;
  for (const button of document.querySelectorAll('#tools button')) {
    button.setAttribute('aria-selected', String(button.dataset.tool === tool));
  }
  for (const panel of document.querySelectorAll('[data-panel]')) panel.hidden = panel.dataset.panel !== tool;
  if (tool !== 'compare' && ui.compare) endCompare();
  if (tool === 'share') renderShare();
  // a version may be new since sign-in
  if (tool === 'history') loadVersions().then(() => renderHistory(travel), reportError);
  if (tool === 'compare') loadVersions().then(fillCompareChoices, reportError);
  if (tool === 'thematic' && !$('#thematic-form').elements.class.options.length) loadClasses().catch(reportError);
  record();
}

async function compare(spec) {
  ui.compare = spec;
  setState('loading');
  record();
  try {
    await startCompare(map, spec);
  } catch (error) {
    reportError(error);
    return;
  }
  waitReady();
}

function endCompare() {
  ui.compare = null;
  stopCompare();
  redraw();
}

// Runs an action of a button or form, its failure shown in both languages.
const guarded = (action) => async (event) => {
  event?.preventDefault();
  clearError();
  try {
    await action(event);
  } catch (error) {
    reportError(error);
  }
};

$('#login').addEventListener('submit', guarded(async () => {
  const form = $('#login');
  await signIn(form.elements.name.value, form.elements.password.value);
  form.reset();
  await reload();
}));
$('#logout').addEventListener('click', guarded(async () => { await signOut(); await reload(); }));
$('#token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  session.token = $('#token').value.trim();
  reload();
});
for (const button of document.querySelectorAll('#tools button')) {
  button.addEventListener('click', () => selectTool(button.dataset.tool));
}
$('#search').addEventListener('input', () => rerender());
$('#compare-form').addEventListener('change', (event) => { if (event.target.name === 'kind') fillCompareChoices(); });
$('#compare-form').addEventListener('submit', guarded(async () => {
  const form = $('#compare-form');
  const from = form.elements.from.value;
  const to = form.elements.to.value;
  const spec = form.elements.kind.value === 'versions' ? { layer: 'GHYDYH', from, to } : { from, to };
  const unit = form.elements.unit.value;
  await compare(unit ? { ...spec, unit } : spec);
}));
$('#compare-stop').addEventListener('click', () => endCompare());
$('#swipe').addEventListener('input', () => setSwipe($('#swipe').value));
$('#side-by-side').addEventListener('change', () => {
  setLayout($('#side-by-side').checked);
  map.resize();
});
$('#stats-run').addEventListener('click', guarded(() => runStatistics()));
$('#stats-csv').addEventListener('click', () => exportCsv());
$('#stats-draw').addEventListener('click', () => startDrawing(map, 'polygon', (geometry) => guarded(() => runStatistics(geometry))()));
const showMeasure = (m) => {
  $('#measure').textContent = m.length_m !== undefined
    ? `${m.length_m.toFixed(2)} 米 m`
    : `${m.area_m2.toFixed(2)} 平方米 m² · ${(m.area_m2 / 10000).toFixed(4)} 公顷 ha · ${(m.area_m2 / (10000 / 15)).toFixed(2)} 亩 mu`;
};
$('#measure-line').addEventListener('click', () => startDrawing(map, 'line', (_, m) => showMeasure(m), showMeasure));
$('#measure-area').addEventListener('click', () => startDrawing(map, 'polygon', (_, m) => showMeasure(m), showMeasure));
for (const finish of ['#draw-finish', '#compliance-finish']) $(finish).addEventListener('click', () => finishDrawing(map));
let drawnBoundary = null;
$('#compliance-draw').addEventListener('click', () => startDrawing(map, 'polygon', (geometry) => { drawnBoundary = geometry; }));
$('#compliance-file').addEventListener('change', () => { drawnBoundary = null; clearDrawing(map); });
$('#compliance-form').addEventListener('submit', guarded(() => runCheck(map, drawnBoundary)));
$('#thematic-form').addEventListener('submit', guarded(() => drawThematic(map)));
$('#print-form').addEventListener('submit', guarded(() => printMap(map)));
$('#share-layer').addEventListener('change', () => renderShare());
$('#share-gpkg').addEventListener('click', guarded(() => downloadVisible(map)));

map.on('click', (event) => {
  if (isDrawing()) addPoint(map, event.lngLat);
  else identify(map, event);
});
map.on('dblclick', () => { if (isDrawing()) finishDrawing(map); });
map.on('mousemove', (event) => {
  if (isDrawing()) return;
  const hit = map.queryRenderedFeatures(event.point).some(identifiable);
  map.getCanvas().style.cursor = hit ? 'pointer' : '';
});

// Tile and style errors: the service's message, in both languages.
map.on('error', async (event) => {
  const error = event.error ?? {};
  const body = error.body instanceof Blob ? await error.body.text() : '';
  const [zh, en] = error.status ? serviceMessage(error.status, body) : [`地图错误：${error.message}`, `Map error: ${error.message}`];
  showError(zh, en);
});

// the address's view, else the whole city
state.hidden = new Set(initial.hidden ?? []);
for (const pair of (initial.opacity ?? '').split(',').filter(Boolean)) {
  const [id, value] = pair.split(':');
  state.opacity.set(id, Number(value));
}
state.time = initial.time;
state.basemap = initial.base ?? 'blank';
if (initial.view) map.jumpTo(initial.view);
await reload();
if (!initial.view) {
  const bounds = cityBounds(state.layers);
  if (bounds) map.fitBounds(bounds, { padding: 20, animate: false });
}
if (initial.tool && !document.querySelector(`#tools button[data-tool="${initial.tool}"]`)?.hidden) selectTool(initial.tool);
const initialCompare = parseCompare(initial.compare);
if (initialCompare && isStaff()) {
  selectTool('compare');
  await compare(initialCompare);
}
record();
