// The staff page for public participation: signs in (POST /auth/login, a
// session cookie), then moderates comments (approve, reject, reply) and moves
// violation reports through their statuses, through /moderation/api/….
// State-changing calls carry the session's CSRF token (from /auth/me); the
// citizens' text is only ever set with textContent.
const STATUS = { received: '已受理', verifying: '核查中', confirmed: '已查实', closed: '已办结' };
const NEXT = { received: ['verifying'], verifying: ['confirmed', 'closed'], confirmed: ['closed'], closed: [] };
const STATE = { pending: '待审核', approved: '已公开', rejected: '不予公开' };
const DONE = { approve: '已通过 / approved', reject: '不予公开 / rejected', reply: '已答复 / replied' };
const $ = (selector) => document.querySelector(selector);
let csrf = null;

function say(text, ok = false) {
  const box = $('#message');
  box.textContent = text;
  box.className = ok ? 'ok' : 'error';
  box.hidden = !text;
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const response = await fetch(new URL(`../${path}`, location.href), {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const field = data.field ? `（${data.field}）` : '';
    throw new Error(`${data.message_zh || response.status}${field}\n${data.message_en || response.statusText}`);
  }
  return data;
}

function cell(row, content, className) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content); else td.textContent = content ?? '';
  if (className) td.className = className;
  return td;
}

function button(label, name, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.name = name;
  b.textContent = label;
  b.addEventListener('click', () => action().catch((e) => say(e.message)));
  return b;
}

function group(...items) {
  const span = document.createElement('span');
  span.append(...items);
  return span;
}

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
    cell(row, c.yjnr, 'text');
    cell(row, [c.author_name, c.author_phone].filter(Boolean).join(' ') || '匿名 anonymous');
    cell(row, `${STATE[c.state]} ${c.state}`, 'state');
    cell(row, c.dfnr, 'reply text');
    const reply = document.createElement('input');
    reply.name = 'reply';
    reply.placeholder = '答复 reply';
    const act = (action) => async () => {
      await call('POST', `moderation/api/comments/${c.id}`, { action, reply: reply.value || undefined });
      await showComments();
      say(`意见 ${c.id}：${DONE[action]}`, true);
    };
    cell(row, group(reply,
      ...(c.state === 'pending' ? [button('通过 Approve', 'approve', act('approve')),
        button('不予公开 Reject', 'reject', act('reject'))] : []),
      ...(c.state === 'approved' ? [button('答复 Reply', 'reply', act('reply'))] : [])));
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
    cell(row, r.jbnr, 'text');
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
    cell(row, group(note, ...NEXT[r.status].map((next) => button(`${STATUS[next]} ${next}`, next, async () => {
      await call('POST', `moderation/api/reports/${r.id}`, { status: next, note: note.value });
      await showReports();
      say(`举报 ${r.cxbh}：${STATUS[next]} / ${next}`, true);
    }))));
  }
}

async function start() {
  const me = await call('GET', 'auth/me');
  csrf = me.csrf;
  $('#login').hidden = !me.anonymous;
  if (me.anonymous) {
    document.body.dataset.state = 'signed-out';
    return;
  }
  const rights = await call('GET', 'moderation/api/me');
  $('#staff').hidden = false;
  $('#me').textContent = `${me.name}（${me.roles.join(', ')}）`;
  $('#moderation').hidden = !rights.moderate;
  $('#triage').hidden = !rights.triage;
  if (!rights.moderate && !rights.triage) {
    say(`当前用户（${me.name}）无审核或举报处理权限\n${me.name} may not moderate comments or triage reports`);
    document.body.dataset.state = 'forbidden';
    return;
  }
  await Promise.all([rights.moderate && showComments(), rights.triage && showReports()]);
  document.body.dataset.state = 'ready';
}

$('#login').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.target;
  call('POST', 'auth/login', { name: form.elements.name.value, password: form.elements.password.value })
    .then(() => { form.reset(); say(''); return start(); })
    .catch((e) => say(e.message));
});
$('#logout').addEventListener('click', async () => {
  await call('POST', 'auth/logout').catch((e) => say(e.message));
  location.reload();
});
$('#comment-state').addEventListener('change', () => showComments().catch((e) => say(e.message)));
$('#report-status').addEventListener('change', () => showReports().catch((e) => say(e.message)));
start().catch((e) => { say(e.message); document.body.dataset.state = 'error'; });
