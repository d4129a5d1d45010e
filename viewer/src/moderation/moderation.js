// The staff page for public participation: signs in (POST /auth/login, a
// session cookie), then moderates comments (approve, reject, reply), moves
// violation reports through their statuses and writes, publishes and
// withdraws publications (公开公示管理), through /moderation/api/…. Sign-in,
// calls (with the session's CSRF token), messages and table cells are the
// admin page's (../admin/common.js); the citizens' text is only ever set
// with textContent.
import { $, button, buttons, call, cell, onSubmit, say, setCsrf, split } from '../admin/common.js';

const STATUS = { received: '已受理', verifying: '核查中', confirmed: '已查实', closed: '已办结' };
const NEXT = { received: ['verifying'], verifying: ['confirmed', 'closed'], confirmed: ['closed'], closed: [] };
const STATE = { pending: '待审核', approved: '已公开', rejected: '不予公开' };
const DONE = { approve: '已通过 / approved', reject: '不予公开 / rejected', reply: '已答复 / replied' };
const PUBLICATION = { draft: '草稿', published: '已发布', withdrawn: '已撤回' };
const STEP = { publish: ['发布', 'Publish', 'published'], withdraw: ['撤回', 'Withdraw', 'withdrawn'] };
const editing = { gsbh: null, geometry: null }; // the publication in the form, its stored area

async function showComments() {
  const state = $('#comment-state').value;
  const rows = await call('GET', `moderation/api/comments${state ? `?state=${state}` : ''}`);
  const body = $('#comments tbody');
  body.replaceChildren();
  for (const c of rows) {
    const row = body.insertRow();
    row.dataset.id = c.id;
    cell(row, String(c.id));
    cell(row, `${c.gsbh} ${c.gsmc}`);
    cell(row, c.yjnr).className = 'text';
    cell(row, [c.author_name, c.author_phone].filter(Boolean).join(' ') || '匿名 anonymous');
    cell(row, `${STATE[c.state]} ${c.state}`).className = 'state';
    cell(row, c.dfnr).className = 'reply text';
    const reply = document.createElement('input');
    reply.name = 'reply';
    reply.placeholder = '答复 reply';
    const act = (action) => async () => {
      await call('POST', `moderation/api/comments/${c.id}`, { action, reply: reply.value || undefined });
      await showComments();
      say(`意见 ${c.id}：${DONE[action]}`, true);
    };
    cell(row, buttons(reply,
      ...(c.state === 'pending' ? [button('通过 Approve', act('approve'), 'approve'),
        button('不予公开 Reject', act('reject'), 'reject')] : []),
      ...(c.state === 'approved' ? [button('答复 Reply', act('reply'), 'reply')] : [])));
  }
}

function photoLinks(report) {
  const span = document.createElement('span');
  for (let n = 1; n <= report.photos; n += 1) {
    const link = document.createElement('a');
    link.href = new URL(`../moderation/api/reports/${report.id}/photos/${n}`, location.href);
    link.target = '_blank';
    const img = document.createElement('img');
    img.src = link.href;
    img.alt = `照片 photo ${n}`;
    link.append(img);
    span.append(link);
  }
  return span;
}

async function showReports() {
  const status = $('#report-status').value;
  const rows = await call('GET', `moderation/api/reports${status ? `?status=${status}` : ''}`);
  const body = $('#reports tbody');
  body.replaceChildren();
  for (const r of rows) {
    const row = body.insertRow();
    row.dataset.number = r.cxbh;
    row.dataset.status = r.status;
    cell(row, r.cxbh);
    cell(row, r.jbnr).className = 'text';
    cell(row, `${r.lon.toFixed(6)}, ${r.lat.toFixed(6)}`);
    cell(row, photoLinks(r));
    const steps = document.createElement('ol');
    steps.append(...r.steps.map((s) => {
      const item = document.createElement('li');
      item.textContent = `${s.at.slice(0, 16)} ${STATUS[s.status]} ${s.status}${s.note ? `：${s.note}` : ''}`;
      return item;
    }));
    cell(row, steps);
    const note = document.createElement('input');
    note.name = 'note';
    note.placeholder = '处理说明 note';
    cell(row, buttons(note, ...NEXT[r.status].map((next) => button(`${STATUS[next]} ${next}`, async () => {
      await call('POST', `moderation/api/reports/${r.id}`, { status: next, note: note.value });
      await showReports();
      say(`举报 ${r.cxbh}：${STATUS[next]} / ${next}`, true);
    }, next))));
  }
}

// --- 公开公示管理 publications ----------------------------------------------------
async function showPublications() {
  const rows = await call('GET', 'moderation/api/publications');
  const body = $('#publications tbody');
  body.replaceChildren();
  for (const p of rows) {
    const row = body.insertRow();
    row.dataset.gsbh = p.gsbh;
    row.dataset.state = p.zt;
    cell(row, p.gsbh);
    cell(row, `${p.gsmc} ${p.gsmc_en}`);
    cell(row, `${p.ksrq} — ${p.jzrq}`);
    cell(row, p.layers.join(', '));
    cell(row, `${PUBLICATION[p.zt]} ${p.zt}`).className = 'state';
    const steps = Object.entries(STEP).filter(([, [, , to]]) => to !== p.zt).map(([step, [zh, en]]) =>
      button(`${zh} ${en}`, async () => {
        await call('POST', `moderation/api/publications/${encodeURIComponent(p.gsbh)}/${step}`);
        await showPublications();
        say(`公示 ${p.gsbh}：${zh} / ${en}`, true);
      }, step));
    cell(row, buttons(button('编辑 Edit', async () => edit(p), 'edit'), ...steps));
  }
}

function edit(p) {
  const form = $('#publication-form');
  form.reset();
  editing.gsbh = p?.gsbh ?? null;
  editing.geometry = p?.geometry ?? null;
  form.elements.gsbh.readOnly = Boolean(p);
  $('#publication-mode').textContent = p ? `编辑 Edit ${p.gsbh}` : '新建 New';
  if (!p) return;
  for (const name of ['gsbh', 'gsmc', 'gsmc_en', 'gsnr', 'gsnr_en', 'ksrq', 'jzrq']) form.elements[name].value = p[name];
  form.elements.layers.value = p.layers.join(', ');
  form.elements.documents.value = p.documents.map((d) => [d.title_zh, d.title_en, d.url].join(' | ')).join('\n');
}

// The notice area: the chosen admin unit's boundary (public XZQ features),
// else, when editing, the area stored.
async function area(xzqdm) {
  if (!xzqdm) return editing.geometry;
  const found = await call('GET', `ogc/collections/XZQ/items?f=json&limit=1&xzqdm=${encodeURIComponent(xzqdm)}`);
  return found.features[0]?.geometry ?? null;
}

async function loadUnits() {
  const units = await call('GET', 'ogc/collections/XZQ/items?f=json&limit=200&properties=xzqdm,xzqmc,xzqjb&skipGeometry=true');
  const options = units.features.map((f) => f.properties).sort((a, b) => a.xzqdm.localeCompare(b.xzqdm))
    .map((u) => Object.assign(document.createElement('option'), { value: u.xzqdm, textContent: `${u.xzqmc}（${u.xzqjb}）${u.xzqdm}` }));
  $('#publication-form').elements.xzqdm.append(...options);
}

onSubmit('#publication-form', async (form) => {
  const value = (name) => form.elements[name].value.trim();
  const body = {
    gsbh: value('gsbh'), gsmc: value('gsmc'), gsmc_en: value('gsmc_en'), gsnr: value('gsnr'), gsnr_en: value('gsnr_en'),
    ksrq: value('ksrq'), jzrq: value('jzrq'), layers: split(value('layers')),
    documents: value('documents').split('\n').filter((line) => line.trim()).map((line) => {
      const [title_zh = '', title_en = '', url = ''] = line.split('|').map((s) => s.trim());
      return { title_zh, title_en, url };
    }),
    geometry: await area(value('xzqdm')),
  };
  if (editing.gsbh) await call('PUT', `moderation/api/publications/${encodeURIComponent(editing.gsbh)}`, body);
  else await call('POST', 'moderation/api/publications', body);
  const saved = body.gsbh;
  edit(null);
  await showPublications();
  say(`公示 ${saved}：已保存 / saved`, true);
});
$('#publication-new').addEventListener('click', () => edit(null));

async function start() {
  const me = await call('GET', 'auth/me');
  setCsrf(me.csrf);
  $('#login').hidden = !me.anonymous;
  if (me.anonymous) {
    document.body.dataset.state = 'signed-out';
    return;
  }
  // the roles' participation rights (moderate, triage, publish): a section each
  const rights = Object.fromEntries(me.participation.map((right) => [right, true]));
  $('#staff').hidden = false;
  $('#me').textContent = `${me.name}（${me.roles.join(', ')}）`;
  $('#moderation').hidden = !rights.moderate;
  $('#triage').hidden = !rights.triage;
  $('#publishing').hidden = !rights.publish;
  if (!me.participation.length) {
    say(`当前用户（${me.name}）无审核、举报处理或公示管理权限 / ${me.name} may not moderate, triage or publish`);
    document.body.dataset.state = 'forbidden';
    return;
  }
  await Promise.all([rights.moderate && showComments(), rights.triage && showReports(),
    rights.publish && showPublications(), rights.publish && loadUnits()]);
  document.body.dataset.state = 'ready';
}

onSubmit('#login', async (form) => {
  await call('POST', 'auth/login', { name: form.elements.name.value, password: form.elements.password.value });
  form.reset();
  say('');
  await start();
});
$('#logout').addEventListener('click', async () => {
  await call('POST', 'auth/logout').catch((e) => say(e.message));
  setCsrf(null);
  location.reload();
});
$('#comment-state').addEventListener('change', () => showComments().catch((e) => say(e.message)));
$('#report-status').addEventListener('change', () => showReports().catch((e) => say(e.message)));
start().catch((e) => { say(e.message); document.body.dataset.state = 'error'; });
