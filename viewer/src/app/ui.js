// Small DOM helpers: bilingual labels, messages, tables, downloads.
export const $ = (selector) => document.querySelector(selector);

export function bilingual(element, zh, en) {
  const english = document.createElement('span');
  english.lang = 'en';
  english.textContent = en;
  element.append(`${zh} `, english);
  return element;
}

export function el(tag, props = {}, ...children) {
  const element = Object.assign(document.createElement(tag), props);
  element.append(...children);
  return element;
}

export function setState(value) {
  document.body.dataset.state = value;
}

export function showError(zh, en) {
  const box = $('#error');
  box.textContent = `${zh}\n${en}`;
  box.hidden = false;
  setState('error');
}

export function clearError() {
  $('#error').hidden = true;
}

// Report a failed action in both languages; the page stays usable.
export function reportError(error) {
  if (error.zh) showError(error.zh, error.en);
  else showError(`操作失败：${error.message}`, `The action failed: ${error.message}`);
}

export function table(headings, rows) {
  const result = el('table', { className: 'data' });
  const head = result.createTHead().insertRow();
  for (const [zh, en] of headings) head.append(bilingual(el('th'), zh, en));
  const body = result.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const value of row) tr.insertCell().textContent = value;
  }
  return result;
}

export function download(blob, filename) {
  const link = el('a', { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

export const number = (value, digits = 2) =>
  Number(value).toLocaleString('zh-CN', { minimumFractionDigits: digits, maximumFractionDigits: digits });
