// Configuration management (配置管理): /admin/config. A file is edited as
// text; the server checks the whole configuration before it writes, so a
// refused change shows the server's bilingual message and nothing changes.
import { $, button, call, cell, onSubmit, say } from "./common.js";

const form = () => $("#config-form");

async function showFiles() {
  const { files } = await call("GET", "admin/config");
  const body = $("#config-files tbody");
  body.replaceChildren();
  for (const file of files) {
    const row = body.insertRow();
    row.dataset.key = file.path;
    cell(row, file.path);
    cell(row, file.version ?? "—");
    cell(row, button("编辑 Edit", () => open(file.path)));
  }
}

async function open(path) {
  const text = await call("GET", `admin/config/files/${path}`);
  form().elements.path.value = path;
  $("#config-path").textContent = path;
  form().elements.content.value = text;
  form().hidden = false;
  await showVersions(path);
}

async function showVersions(path) {
  const { versions } = await call("GET", `admin/config/versions/${path}`);
  const body = $("#config-versions tbody");
  body.replaceChildren();
  for (const v of versions) {
    const row = body.insertRow();
    row.dataset.key = v.version;
    for (const value of [v.version, v.label, v.at, v.author, v.comment]) cell(row, value);
    cell(row, button("回退到此版本 Roll back", async () => {
      if (!confirm(`${path} 回退到第 ${v.version} 版？/ Roll ${path} back to version ${v.version}?`)) return;
      const done = await call("POST", `admin/config/rollback/${path}`, { version: v.version, comment: "admin page" });
      await refreshAfter(path, `已回退，当前第 ${done.version} 版 / rolled back, now version ${done.version}`);
    }));
  }
}

async function refreshAfter(path, message) {
  await showFiles();
  await open(path);
  say(message, true);
}

export async function start() {
  await showFiles();
}

onSubmit("#config-form", async (f) => {
  const path = f.elements.path.value;
  const params = new URLSearchParams({ comment: f.elements.comment.value });
  if (f.elements.label.value) params.set("label", f.elements.label.value);
  const type = path.endsWith(".csv") ? "text/csv" : "application/yaml";
  const done = await call("PUT", `admin/config/files/${path}?${params}`, f.elements.content.value, type);
  f.elements.comment.value = "";
  f.elements.label.value = "";
  await refreshAfter(path, `已保存并生效，第 ${done.version} 版 / saved and applied, version ${done.version}`);
});
