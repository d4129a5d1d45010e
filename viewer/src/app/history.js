// 规划回溯: a slider over the plan versions (process plan-history); a
// position is the instant a version took effect, the last one the plan in
// force. The versioned layers are then requested with `datetime`.
import { execute } from './api.js';
import { state } from './map.js';
import { $, bilingual, el } from './ui.js';

let versions = [];

export async function loadVersions() {
  versions = (await execute('plan-history', {})).versions ?? [];
  return versions;
}

function label(index) {
  const version = versions[index];
  if (!version) return ['现行规划', 'The plan in force'];
  return [`${version.plan_version}（${version.valid_from.slice(0, 10)} 起）`, version.title];
}

// `onChange(time)` redraws the map; time null is the plan in force.
export function renderHistory(onChange) {
  const slider = $('#time');
  slider.max = versions.length; // one step a version, the last: in force
  const at = versions.findIndex((v) => v.valid_from === state.time);
  slider.value = at >= 0 ? at : versions.length;
  const show = () => {
    const [zh, en] = label(Number(slider.value));
    $('#time-label').replaceChildren(bilingual(el('span'), zh, en));
  };
  show();
  slider.oninput = show;
  slider.onchange = () => onChange(versions[Number(slider.value)]?.valid_from ?? null);
  $('#time-list').replaceChildren(...versions.map((v) => el('li', {},
    `${v.plan_version} · ${v.valid_from.slice(0, 10)} — ${v.valid_to?.slice(0, 10) ?? '今 now'}${v.in_force ? ' · 现行 in force' : ''}`)));
}

export const planVersions = () => versions;
