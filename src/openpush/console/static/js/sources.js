// Sources: status, item counts, current activity, last operation and recent log history.

import { $, badge, clear, fill, fmtTime, h, kv, table } from "./dom.js";

const REFRESH_MS = 5000;

export function createSourcesPanel(ctx) {
  let timer = null;
  let selected = null;
  let sources = [];

  async function load() {
    try {
      sources = await ctx.api.sources();
    } catch (error) {
      ctx.error(`Cannot list the sources: ${error.message}`);
      return;
    }
    const rows = sources.map((source) => row(source));
    fill($("sources-rows"), rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No sources.")));
    $("sources-updated").textContent = `updated ${fmtTime(Date.now())} UTC`;
    if (selected) {
      const still = sources.find((s) => s.id === selected);
      if (still) await detail(still, { quiet: true });
    }
  }

  function row(source) {
    const info = source.information || {};
    const status = info.sourceStatus || {};
    const activity = info.currentOperation?.operationType || status.refreshType || "";
    const last = info.lastOperation;
    const tr = h(
      "tr",
      { class: `clickable${source.id === selected ? " selected" : ""}`, data: { sourceId: source.id } },
      h("td", {}, source.name),
      h("td", { class: "mono" }, source.id),
      h("td", {}, source.sourceVisibility),
      h("td", {}, badge(status.type)),
      h("td", {}, activity),
      h("td", { class: "num", data: { testid: "source-items" } }, String(info.numberOfDocuments ?? 0)),
      h("td", {}, last ? `${last.operationType} ${last.result || ""} ${fmtTime(last.timestamp)}` : ""),
      h("td", {}, fmtTime(source.createdDate)),
    );
    tr.addEventListener("click", () => {
      selected = source.id;
      for (const other of $("sources-rows").children) other.classList.toggle("selected", other === tr);
      detail(source);
    });
    return tr;
  }

  async function detail(source, { quiet = false } = {}) {
    const box = $("source-detail");
    const info = source.information || {};
    const status = info.sourceStatus || {};
    const last = info.lastOperation;
    const header = [
      h("h2", {}, `${source.name} `, h("span", { class: "muted mono" }, source.id)),
      kv([
        ["Status", badge(status.type)],
        ["Current activity", info.currentOperation?.operationType || "none"],
        ["Items indexed", String(info.numberOfDocuments ?? 0)],
        ["Visibility", source.sourceVisibility],
        ["Security providers", (source.securityProviderReferences || []).join(", ")],
        ["Last operation", last ? `${last.operationType}, ${last.result}, started ${fmtTime(last.startedDate)}, ended ${fmtTime(last.timestamp)}` : "none"],
        ["Status changed", fmtTime(status.timestamp)],
      ]),
      h(
        "p",
        {},
        h("button", { type: "button", class: "link", onclick: () => ctx.open("logs", { sourceId: source.id }) }, "Open this source in the log browser"),
      ),
    ];
    if (!quiet) fill(box, header, h("p", { class: "muted" }, "Loading the recent history…"));
    box.hidden = false;
    let entries = [];
    try {
      const answer = await ctx.api.logs({ perPage: 20 }, { sourcesIds: [source.id] });
      entries = answer.documentLogEntries || [];
    } catch (error) {
      fill(box, header, h("p", { class: "error" }, `Cannot read the history: ${error.message}`));
      return;
    }
    const rows = entries.map((entry) =>
      h(
        "tr",
        {},
        h("td", {}, fmtTime(entry.datetime)),
        h("td", { class: "wrap" }, entry.id),
        h("td", {}, entry.operation),
        h("td", {}, badge(entry.result)),
        h("td", {}, entry.meta?.reason || ""),
      ),
    );
    fill(
      box,
      header,
      h("h3", {}, "Recent history (latest 20 log entries)"),
      rows.length ? table(["Time (UTC)", "Document", "Operation", "Result", "Reason"], rows) : h("p", { class: "muted" }, "No log entries in the last 7 days."),
    );
  }

  function schedule() {
    stop();
    if ($("sources-auto").checked) timer = setInterval(load, REFRESH_MS);
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
  }

  $("sources-refresh").addEventListener("click", load);
  $("sources-auto").addEventListener("change", schedule);

  return {
    show() {
      load();
      schedule();
    },
    hide() {
      stop();
    },
    clear() {
      clear($("sources-rows"));
    },
  };
}
