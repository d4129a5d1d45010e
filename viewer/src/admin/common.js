// What every section of the admin page shares: calls to the API (with the
// session's CSRF token on state-changing calls), the message line, and
// small builders for tables and buttons. Text goes in with textContent only.
const api = (path) => new URL(`../${path}`, location.href);
const session = { csrf: null };
export const $ = (selector) => document.querySelector(selector);

export function setCsrf(token) { session.csrf = token; }

export function say(text, ok = false) {
  const box = $("#message");
  box.textContent = text;
  box.className = ok ? "ok" : "error";
  box.hidden = !text;
}

function problemText(data, response) {
  const field = data.field ? `（${data.field}）` : "";
  return `${data.message_zh || response.status}${field} / ${data.message_en || response.statusText}`;
}

// body: undefined (none), a string (sent as is, e.g. YAML) or an object (JSON)
export async function call(method, path, body, contentType = "application/json") {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = contentType;
  if (session.csrf && method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  const response = await fetch(api(path), {
    method, headers, credentials: "same-origin",
    body: body === undefined || typeof body === "string" ? body : JSON.stringify(body),
  });
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const data = isJson ? await response.json().catch(() => ({})) : await response.text();
  if (!response.ok) throw new Error(problemText(isJson ? data : {}, response));
  return data;
}

export function cell(row, content) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  return td;
}

// name: what the button does, for a test or a screen reader to find it by
export function button(label, action, name = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.name = name;
  b.textContent = label;
  b.addEventListener("click", () => action().catch((e) => say(e.message)));
  return b;
}

export function buttons(...items) {
  const span = document.createElement("span");
  span.append(...items);
  return span;
}

export function split(text) {
  return text.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean);
}

export function onSubmit(selector, action) {
  $(selector).addEventListener("submit", (event) => {
    event.preventDefault();
    action(event.target, event.submitter).catch((e) => say(e.message));
  });
}

// rows of objects into a table body, one cell per column key
export function fillTable(selector, rows, columns, rowKey) {
  const body = $(`${selector} tbody`);
  body.replaceChildren();
  for (const item of rows) {
    const row = body.insertRow();
    if (rowKey) row.dataset.key = item[rowKey];
    for (const column of columns) {
      const value = typeof column === "function" ? column(item) : item[column];
      cell(row, value !== null && typeof value === "object" && !(value instanceof Node) ? JSON.stringify(value) : value);
    }
  }
}

// the non-empty fields of a form as URL query parameters
export function query(form) {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
  return params;
}
