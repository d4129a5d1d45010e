// Users, roles and tokens (用户与权限管理): /admin/users, /admin/roles,
// /admin/permissions, /admin/tokens.
import { $, button, buttons, call, cell, onSubmit, say, split } from "./common.js";

let vocabulary = null;

async function showUsers() {
  const body = $("#users tbody");
  body.replaceChildren();
  for (const user of await call("GET", "admin/users")) {
    const row = body.insertRow();
    row.dataset.name = user.name;
    cell(row, user.name + (user.system ? "（系统 system）" : ""));
    cell(row, user.display_name);
    cell(row, user.department);
    cell(row, user.roles.join(", "));
    cell(row, user.active ? (user.locked_until ? "锁定 locked" : "启用 active") : "停用 inactive");
    cell(row, buttons(
      button("改角色 Roles", async () => {
        const roles = prompt("角色（逗号分隔）/ roles (comma-separated)", user.roles.join(","));
        if (roles === null) return;
        await call("PATCH", `admin/users/${encodeURIComponent(user.name)}`, { roles: split(roles) });
        await refresh("已保存 / saved");
      }),
      button("重设密码 Reset password", async () => {
        const password = prompt("新密码 / new password");
        if (!password) return;
        await call("POST", `admin/users/${encodeURIComponent(user.name)}/password`, { password });
        await refresh("已重设密码 / password reset");
      }),
      user.active
        ? button("停用 Deactivate", async () => {
          await call("POST", `admin/users/${encodeURIComponent(user.name)}/deactivate`);
          await refresh("已停用 / deactivated");
        })
        : button("启用 Activate", async () => {
          await call("PATCH", `admin/users/${encodeURIComponent(user.name)}`, { active: true });
          await refresh("已启用 / activated");
        }),
    ));
  }
}

async function showRoles() {
  const body = $("#roles tbody");
  body.replaceChildren();
  for (const role of await call("GET", "admin/roles")) {
    const row = body.insertRow();
    row.dataset.name = role.name;
    cell(row, role.name + (role.builtin ? "（配置 config）" : ""));
    cell(row, `${role.zh} / ${role.en}`);
    for (const key of ["reads", "layers", "runs"]) cell(row, role[key].join(", "));
    cell(row, role.jobs);
    cell(row, role.administers.join(", "));
    cell(row, role.participation.join(", "));
    cell(row, role.builtin ? "" : buttons(
      button("编辑 Edit", async () => fillRoleForm(role)),
      button("删除 Delete", async () => {
        if (!confirm(`删除角色 ${role.name}？/ Delete the role ${role.name}?`)) return;
        await call("DELETE", `admin/roles/${encodeURIComponent(role.name)}`);
        await refresh("已删除 / deleted");
      }),
    ));
  }
}

function roleChoices() {
  const box = $("#role-choices");
  box.replaceChildren();
  const groups = [["reads", "可读密级 Reads", vocabulary.sensitivities, "checkbox"],
    ["layers", "另可读图层 Layers", vocabulary.layers, "checkbox"],
    ["runs", "可运行处理 Runs", vocabulary.processes, "checkbox"],
    ["jobs", "任务 Jobs", vocabulary.jobs, "radio"],
    ["administers", "管理功能 Administers", vocabulary.administers, "checkbox"],
    ["participation", "公众参与 Participation", vocabulary.participation, "checkbox"]];
  for (const [key, title, values, type] of groups) {
    const set = document.createElement("fieldset");
    set.dataset.key = key;
    set.append(Object.assign(document.createElement("legend"), { textContent: title }));
    for (const choice of values) {
      // a value, or {id, zh, en} where the API says what the value allows
      const value = choice.id ?? choice;
      const label = document.createElement("label");
      const input = Object.assign(document.createElement("input"), { type, name: key, value });
      if (key === "jobs" && value === "own") input.checked = true;
      label.append(input, choice.id ? ` ${choice.zh} ${choice.en} (${value})` : ` ${value}`);
      set.append(label);
    }
    box.append(set);
  }
}

function fillRoleForm(role) {
  const form = $("#role-form");
  for (const key of ["name", "zh", "en"]) form.elements[key].value = role[key];
  for (const input of form.querySelectorAll("#role-choices input")) {
    input.checked = input.name === "jobs" ? role.jobs === input.value : role[input.name].includes(input.value);
  }
}

function roleFromForm(form) {
  const role = { name: form.elements.name.value, zh: form.elements.zh.value, en: form.elements.en.value };
  for (const key of ["reads", "layers", "runs", "administers", "participation"]) {
    role[key] = [...form.querySelectorAll(`input[name=${key}]:checked`)].map((i) => i.value);
  }
  role.jobs = form.querySelector("input[name=jobs]:checked")?.value || "own";
  return role;
}

async function showTokens() {
  const body = $("#tokens tbody");
  body.replaceChildren();
  for (const token of await call("GET", "admin/tokens")) {
    const row = body.insertRow();
    row.dataset.id = token.id;
    cell(row, token.id);
    cell(row, token.name);
    cell(row, token.account);
    cell(row, token.expires_at);
    cell(row, token.valid ? "有效 valid" : (token.revoked_at ? "已吊销 revoked" : "无效 invalid"));
    cell(row, token.revoked_at ? "" : button("吊销 Revoke", async () => {
      await call("POST", `admin/tokens/${token.id}/revoke`);
      await refresh("已吊销 / revoked");
    }));
  }
}

async function refresh(message) {
  await Promise.all([showUsers(), showRoles(), showTokens()]);
  if (message) say(message, true);
}

export async function start() {
  vocabulary = await call("GET", "admin/permissions");
  roleChoices();
  await refresh();
}

onSubmit("#user-form", async (form) => {
  const data = Object.fromEntries(new FormData(form));
  data.roles = split(data.roles || "");
  await call("POST", "admin/users", data);
  form.reset();
  await refresh("已创建用户 / user created");
});
onSubmit("#role-form", async (form, submitter) => {
  const role = roleFromForm(form);
  if (submitter?.name === "replace") {
    await call("PUT", `admin/roles/${encodeURIComponent(role.name)}`, role);
  } else {
    await call("POST", "admin/roles", role);
  }
  await refresh("已保存角色 / role saved");
});
onSubmit("#token-form", async (form) => {
  const data = Object.fromEntries(new FormData(form));
  data.days = Number(data.days);
  const created = await call("POST", "admin/tokens", data);
  $("#new-token code").textContent = created.token;
  $("#new-token").hidden = false;
  await refresh("已创建令牌 / token created");
});
