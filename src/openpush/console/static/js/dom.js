// Small DOM helpers. API data only ever becomes text nodes (never HTML): see h().

export const $ = (id) => document.getElementById(id);

// h("td", {class: "num", onclick: fn, data: {testid: "x"}}, "text", node, [more], null)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "data") for (const [k, v] of Object.entries(value)) el.dataset[k] = v;
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind ?? text ?? ""}` }, text ?? "");
}

// A definition list of [label, value] pairs; values may be nodes.
export function kv(pairs, testid) {
  const list = h("dl", { class: "kv", data: testid ? { testid } : undefined });
  for (const [label, value] of pairs) {
    list.appendChild(h("dt", {}, label));
    list.appendChild(h("dd", {}, value === null || value === undefined || value === "" ? "—" : value));
  }
  return list;
}

// "2024-01-31 10:00:00" (UTC) from an ISO string or epoch milliseconds.
export function fmtTime(value) {
  if (value === null || value === undefined || value === "") return "";
  const date = typeof value === "number" ? new Date(value) : new Date(String(value));
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "").replace("Z", "");
}

// A datetime-local input's value (local time) as an ISO string in UTC, or "".
export function localInputToIso(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export function table(headers, rows, testid) {
  return h(
    "table",
    { class: "grid", data: testid ? { testid } : undefined },
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", {}, name)))),
    h("tbody", {}, rows),
  );
}
