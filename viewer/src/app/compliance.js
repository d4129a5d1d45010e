// 合规性检测 for staff: a drawn boundary, or an uploaded coordinate TXT,
// zipped shapefile or GeoPackage (parsed by the process on the server) →
// compliance-check → verdict, findings, overlaps on the map, the PDF report,
// and the case's earlier checks (the internal collection HGJC).
import { execute, getJSON, request } from './api.js';
import { $, bilingual, el, number, table } from './ui.js';

const OVERLAPS = 'overlaps';

function fields() {
  const form = $('#compliance-form');
  const value = (name) => form.elements[name].value.trim();
  return { stage: value('stage'), use_code: value('use_code'), case_id: value('case_id'), project_name: value('project_name') };
}

// The process's outputs for a drawn geometry or the chosen file (the
// gateway's upload route hands it to the process, which reads it: TXT, zip, GeoPackage).
async function run(drawn) {
  const inputs = Object.fromEntries(Object.entries(fields()).filter(([, v]) => v));
  const file = $('#compliance-file').files[0];
  if (drawn) return execute('compliance-check', { ...inputs, boundary: drawn });
  if (!file) throw Object.assign(new Error(), { zh: '请先绘制范围或选择文件', en: 'Draw a boundary or choose a file first' });
  const form = new FormData();
  form.append('file', file);
  for (const [name, value] of Object.entries(inputs)) form.append(name, value);
  return (await request('POST', 'ogc/processes/compliance-check/upload', { form })).json();
}

function showOverlaps(map, overlaps) {
  map.getSource(OVERLAPS)?.setData(overlaps) ?? (() => {
    map.addSource(OVERLAPS, { type: 'geojson', data: overlaps });
    map.addLayer({ id: 'highlight-overlaps', type: 'fill', source: OVERLAPS, paint: { 'fill-color': '#ff00ff', 'fill-opacity': 0.6 } });
  })();
}

export async function earlierChecks(caseId) {
  if (!caseId) return [];
  const params = new URLSearchParams({ f: 'json', ajbh: caseId, limit: 100, sortby: '-jcsj', skipGeometry: 'true' });
  const items = await getJSON(`ogc/collections/HGJC/items?${params}`);
  return items.features.map((f) => f.properties);
}

export async function runCheck(map, drawn = null) {
  $('#compliance-result').replaceChildren('检测中… Checking…');
  const outputs = await run(drawn);
  const { result, overlaps } = outputs;
  const pdf = `reports/compliance/${result.check_id}.pdf`;
  const findings = table([['规则', 'Rule'], ['图层', 'Layer'], ['结论', 'Verdict'], ['叠加面积（平方米）', 'Overlap (m²)'], ['叠加面积（亩）', 'Overlap (mu)']],
    result.findings.map((f) => [f.title.zh, f.layer_title.zh, `${f.verdict} ${f.verdict_en}`,
      number(f.overlap_m2 ?? 0), number(f.overlap_mu ?? 0, 4)]));
  findings.id = 'findings';
  const verdict = bilingual(el('p', { id: 'verdict' }), `检测结论：${result.verdict}`, `Verdict: ${result.verdict_en}`);
  verdict.dataset.verdict = result.verdict;
  const report = bilingual(el('a', { id: 'report-pdf', href: pdf, download: `${result.check_id}.pdf` }), '下载检测报告（PDF）', 'Report (PDF)');
  const earlier = await earlierChecks(result.case_id);
  const history = table([['检测编号', 'Check'], ['业务阶段', 'Stage'], ['结论', 'Verdict'], ['时间', 'Time']],
    earlier.map((c) => [c.jcbh, c.ywjd, c.jcjl, String(c.jcsj).slice(0, 19)]));
  history.id = 'case-checks';
  $('#compliance-result').replaceChildren(verdict,
    el('p', {}, `${result.check_id} · ${number(result.boundary.area_m2)} m² · ${number(result.boundary.area_mu, 4)} 亩`),
    findings, report, bilingual(el('h4'), '本案件的检测记录', 'Checks of this case'), history);
  showOverlaps(map, overlaps);
  return outputs;
}
