// The view in the address (#map=zoom/lat/lon&layers=…&hidden=…&t=…&base=…
// &cmp=…&tool=…): a link reproduces the view, layers, time and comparison.
import { state } from './map.js';

export function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const view = params.get('map')?.split('/').map(Number);
  return {
    view: view?.length === 3 && view.every(Number.isFinite) ? { zoom: view[0], center: [view[2], view[1]] } : null,
    order: params.get('layers')?.split(',').filter(Boolean) ?? null,
    hidden: params.get('hidden')?.split(',').filter(Boolean) ?? null,
    opacity: params.get('opacity'),
    time: params.get('t'),
    base: params.get('base'),
    compare: params.get('cmp'),
    tool: params.get('tool'),
  };
}

// `extra` holds what the tools add (cmp, tool).
export function writeHash(map, extra = {}) {
  const c = map.getCenter();
  const params = new URLSearchParams();
  params.set('map', `${map.getZoom().toFixed(2)}/${c.lat.toFixed(6)}/${c.lng.toFixed(6)}`);
  params.set('layers', state.order.join(','));
  if (state.hidden.size) params.set('hidden', [...state.hidden].join(','));
  const faded = [...state.opacity].filter(([, v]) => v < 1);
  if (faded.length) params.set('opacity', faded.map(([id, v]) => `${id}:${v}`).join(','));
  if (state.time) params.set('t', state.time);
  if (state.basemap !== 'blank') params.set('base', state.basemap);
  for (const [key, value] of Object.entries(extra)) if (value) params.set(key, value);
  history.replaceState(null, '', `#${params.toString().replaceAll('%2F', '/').replaceAll('%2C', ',').replaceAll('%3A', ':')}`);
}
