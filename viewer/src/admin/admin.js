// The administration page (系统运维): signs in (POST /auth/login, a session
// cookie), then shows the sections whose administration function the user
// holds (accounts, config, audit, logs, backup — config/gateway.yaml).
import * as accounts from "./accounts.js";
import { $, call, onSubmit, say, setCsrf } from "./common.js";
import * as configuration from "./configuration.js";
import { parts } from "./operations.js";

const sections = { accounts: accounts.start, config: configuration.start, ...parts };

async function start() {
  const me = await call("GET", "auth/me");
  setCsrf(me.csrf);
  const signedIn = !me.anonymous;
  const mine = signedIn ? Object.keys(sections).filter((f) => me.administers.includes(f)) : [];
  $("#login").hidden = signedIn;
  $("#admin").hidden = mine.length === 0;
  for (const section of document.querySelectorAll("section[data-function]")) {
    section.hidden = !mine.includes(section.dataset.function);
  }
  if (!signedIn) { document.body.dataset.state = "signed-out"; return; }
  if (mine.length === 0) {
    say(`当前用户（${me.name}）无系统管理权限 / ${me.name} may not administer anything`);
    document.body.dataset.state = "forbidden";
    return;
  }
  $("#me").textContent = `${me.name}（${me.roles.join(", ")}）`;
  await Promise.all(mine.map((f) => sections[f]()));
  document.body.dataset.state = "ready";
}

onSubmit("#login", async (form) => {
  await call("POST", "auth/login", { name: form.elements.name.value, password: form.elements.password.value });
  form.reset();
  say("");
  await start();
});
$("#logout").addEventListener("click", async () => {
  await call("POST", "auth/logout").catch((e) => say(e.message));
  setCsrf(null);
  location.reload();
});
start().catch((e) => { say(e.message); document.body.dataset.state = "error"; });
