// 要素查询: a click lists every attribute of the features under it, top
// layer first.
import { BACKGROUND, layerById, maplibregl } from './map.js';
import { bilingual, el } from './ui.js';

const OWN = new Set([BACKGROUND.id, 'basemap']);
export const identifiable = (feature) => !OWN.has(feature.layer.id) && !feature.layer.id.startsWith('draw-')
  && !feature.layer.id.startsWith('highlight-');

export function identify(map, event) {
  const features = map.queryRenderedFeatures(event.point).filter(identifiable);
  if (!features.length) return;
  const content = el('div', { className: 'popup' });
  const seen = new Set();
  for (const feature of features) {
    const key = `${feature.source}/${feature.id ?? JSON.stringify(feature.properties)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const layer = layerById(feature.source) ?? { zh: feature.source, en: '' };
    const heading = bilingual(el('h3'), layer.zh, layer.en);
    const legend = feature.layer.metadata;
    if (legend?.title_zh) heading.append(` · ${legend.title_zh}`);
    const table = el('table');
    for (const [name, value] of Object.entries(feature.properties)) {
      const row = table.insertRow();
      row.append(el('th', {}, name));
      row.insertCell().textContent = String(value);
    }
    content.append(heading, table);
  }
  new maplibregl.Popup({ maxWidth: '360px' }).setLngLat(event.lngLat).setDOMContent(content).addTo(map);
}
