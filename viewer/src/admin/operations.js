// The audit trail (审计日志), the recent log lines (运行日志) and backups (备份).
import { $, call, fillTable, onSubmit, query, say } from "./common.js";

async function showAudit() {
  const params = query($("#audit-form"));
  const found = await call("GET", `admin/audit?${params}`);
  fillTable("#audit", found.records, ["at", "actor", "role", "action", "target", "status", "request_id"], "id");
  $("#audit-count").textContent = `${found.numberReturned} / ${found.numberMatched}`;
  params.set("f", "csv");
  $("#audit-csv").href = new URL(`../admin/audit?${params}`, location.href);
}

async function showLogs() {
  const found = await call("GET", `admin/logs?${query($("#log-form"))}`);
  fillTable("#logs", found.lines, ["time", "level", "component", "request_id", "principal", "message"]);
}

async function showBackups() {
  const found = await call("GET", "admin/backups");
  fillTable("#backups", found.backups, ["name", "created", "tables", "rows", "files"], "name");
  $("#backup-dir").textContent = found.directory;
}

// each part only when the signed-in user administers its function
export const parts = { audit: showAudit, logs: showLogs, backup: showBackups };

onSubmit("#audit-form", showAudit);
onSubmit("#log-form", showLogs);
onSubmit("#backup-form", async () => {
  const made = await call("POST", "admin/backups");
  await showBackups();
  say(`已备份 ${made.name}：${made.tables} 张表 ${made.rows} 行 / backed up ${made.tables} tables, ${made.rows} rows`, true);
});
