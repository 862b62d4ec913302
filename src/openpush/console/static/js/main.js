// Boot: login with an API key (kept in sessionStorage), then the four panels.

import { Api, holds } from "./api.js";
import { $, fill } from "./dom.js";
import { createContentPanel } from "./content.js";
import { createIdentitiesPanel } from "./identities.js";
import { createLogsPanel } from "./logs.js";
import { createSourcesPanel } from "./sources.js";

const SESSION = "openpush.console.session";
const NOTICE = "openpush.console.notice";

// What each tab needs (any of), for disabling the tabs a key cannot use.
const NEEDS = {
  sources: [["PLATFORM", "SOURCE", "VIEW"]],
  logs: [["PLATFORM", "LOGS", "VIEW"], ["PLATFORM", "SOURCE", "VIEW"]],
  content: [
    ["SEARCH_API", "VIEW_ALL_CONTENT", "ENABLE"],
    ["SEARCH_API", "IMPERSONATE_SEARCH_API", "ENABLE"],
    ["SEARCH_API", "EXECUTE_QUERY", "ENABLE"],
  ],
  identities: [["PLATFORM", "SECURITY_PROVIDER", "VIEW"]],
};

function readSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION) || "null");
  } catch {
    return null;
  }
}

function showLogin(message) {
  sessionStorage.removeItem(SESSION);
  $("app-view").hidden = true;
  $("whoami").hidden = true;
  $("logout").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  $("api-key").focus();
}

// Leaving a session reloads the page: nothing the previous key could see stays in the DOM,
// no timer keeps polling with it.
function endSession(message) {
  sessionStorage.removeItem(SESSION);
  sessionStorage.setItem(NOTICE, message);
  window.location.reload();
}

async function login(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  $("login-error").textContent = "";
  try {
    const info = await new Api(key, "").checkToken();
    if (info.tokenType !== "API_KEY") throw new Error("enter an API key, not a search token");
    sessionStorage.setItem(SESSION, JSON.stringify({ key }));
    $("api-key").value = "";
    start(key, info);
  } catch (error) {
    $("login-error").textContent = `Login failed: ${error.message}`;
  }
}

let panels = null;

function start(key, info) {
  if (panels) return; // once per page load: a new session reloads the page
  const privileges = info.privileges || [];
  const api = new Api(key, info.organizationId, {
    onUnauthorized: (message) => endSession(`Your session ended: ${message}`),
  });
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  fill($("whoami"), `${info.displayName || info.apiKeyId} · organization ${info.organizationId}`);
  $("whoami").hidden = false;
  $("logout").hidden = false;

  const context = {
    api,
    privileges,
    error(message) {
      $("app-error").textContent = message || "";
    },
    open(tab, args) {
      select(tab, args);
    },
  };
  panels = {
    sources: createSourcesPanel(context),
    logs: createLogsPanel(context),
    content: createContentPanel(context),
    identities: createIdentitiesPanel(context),
  };
  for (const button of document.querySelectorAll("[data-tab]")) {
    const needs = NEEDS[button.dataset.tab];
    const allowed = needs.some(([owner, domain, type]) => holds(privileges, owner, domain, type));
    button.disabled = !allowed;
    button.title = allowed ? "" : `This key lacks ${needs.map((n) => n.join("/")).join(" or ")}`;
    button.onclick = () => select(button.dataset.tab);
  }
  const first = [...document.querySelectorAll("[data-tab]")].find((b) => !b.disabled);
  const wanted = window.location.hash.slice(1);
  const tab = panels[wanted] && !document.querySelector(`[data-tab="${wanted}"]`).disabled ? wanted : first?.dataset.tab;
  if (tab) select(tab);
}

let current = null;

function select(tab, args) {
  if (!panels) return;
  $("app-error").textContent = "";
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  for (const name of Object.keys(panels)) {
    const visible = name === tab;
    $(`panel-${name}`).hidden = !visible;
    if (!visible && name === current) panels[name].hide();
  }
  current = tab;
  history.replaceState(null, "", `#${tab}`);
  panels[tab].show(args);
}

async function boot() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => endSession("Logged out."));
  const notice = sessionStorage.getItem(NOTICE) || "";
  sessionStorage.removeItem(NOTICE);
  const session = readSession();
  if (!session?.key) {
    showLogin(notice);
    return;
  }
  try {
    start(session.key, await new Api(session.key, "").checkToken());
  } catch (error) {
    showLogin(`Your session ended: ${error.message}`);
  }
}

boot();
