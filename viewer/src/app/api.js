// Calls to the stack: JSON with bilingual errors, the session (the cookie
// of POST /auth/login, the CSRF token of /auth/me on every write).
export class ServiceError extends Error {
  constructor(zh, en, status = 0) {
    super(`${zh} / ${en}`);
    this.zh = zh;
    this.en = en;
    this.status = status;
  }
}

export const session = { me: null, csrf: null, token: '' };

// The service's own bilingual message (message_zh / message_en, as every
// error of the gateway carries), else what the status says.
export function serviceMessage(status, body) {
  try {
    const problem = JSON.parse(body);
    if (problem.message_zh || problem.message_en) {
      return [problem.message_zh ?? problem.message_en, problem.message_en ?? problem.message_zh];
    }
  } catch {
    // not JSON: fall through to the status
  }
  return [`服务请求失败（HTTP ${status}）`, `The service request failed (HTTP ${status})`];
}

// A pasted access token goes to this page's origin only.
export function authHeaders(url) {
  const ours = new URL(url, location.href).origin === location.origin;
  return session.token && ours ? { Authorization: `Bearer ${session.token}` } : {};
}

export async function request(method, url, { json, form, accept = 'application/json' } = {}) {
  const headers = { Accept: accept, ...authHeaders(url) };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  if (session.csrf && method !== 'GET') headers['X-CSRF-Token'] = session.csrf;
  let response;
  try {
    response = await fetch(url, {
      method, headers, credentials: 'same-origin',
      body: json !== undefined ? JSON.stringify(json) : form,
    });
  } catch (error) {
    throw new ServiceError(`无法连接服务：${error.message}`, `The service cannot be reached: ${error.message}`);
  }
  if (!response.ok) {
    throw new ServiceError(...serviceMessage(response.status, await response.text()), response.status);
  }
  return response;
}

export async function getJSON(url) {
  return (await request('GET', url)).json();
}

// A process run synchronously: its outputs as JSON.
export async function execute(processId, inputs) {
  const response = await request('POST', `ogc/processes/${processId}/execution`, { json: { inputs } });
  return response.json();
}

export async function refreshSession() {
  const me = await getJSON('auth/me');
  session.me = me;
  session.csrf = me.csrf;
  return me;
}

export async function signIn(name, password) {
  const me = await (await request('POST', 'auth/login', { json: { name, password } })).json();
  session.me = me;
  session.csrf = me.csrf;
  return me;
}

export async function signOut() {
  await request('POST', 'auth/logout');
  session.csrf = null;
  return refreshSession();
}

// A staff member: reads the internal layers and runs the analyses.
export function isStaff() {
  return (session.me?.reads ?? []).includes('internal');
}
