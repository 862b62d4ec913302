// Log browser: filters, pages, and a live tail that polls the Logs API every second.

import { $, badge, clear, fill, fmtTime, h, localInputToIso } from "./dom.js";

const OPERATIONS = [
  "ADD", "ADD_BY_REFERENCE", "UPDATE", "DELETE", "DELETE_AND_CHILDREN", "DELETE_OLDER_THAN",
  "BATCH_FILE", "UPDATE_IDENTITY", "UPDATE_ALIAS", "DISABLE_IDENTITY", "DISABLE_IDENTITIES_OLDER_THAN",
];
const RESULTS = ["COMPLETED", "WARNING", "REJECTED", "SKIPPED", "ERROR"];
const PER_PAGE = 100;
const TAIL_MS = 1000;
const TAIL_OVERLAP_MS = 10000; // entries are stamped when decided, written when committed
const TAIL_KEEP = 1000;

function entryKey(entry) {
  return [entry.datetime, entry.sourceId, entry.id, entry.operation, entry.result, entry.requestId, entry.meta?.orderingId].join("\u001f");
}

export function createLogsPanel(ctx) {
  let page = 0;
  let sourceNames = {};
  let tailTimer = null;
  let tailSeen = new Set();
  let tailNewest = 0;
  let tailBusy = false;

  for (const op of OPERATIONS) $("logs-operation").appendChild(h("option", {}, op));
  for (const result of RESULTS) $("logs-result").appendChild(h("option", {}, result));

  async function loadSources(selectedId) {
    try {
      const sources = await ctx.api.sources();
      sourceNames = Object.fromEntries(sources.map((s) => [s.id, s.name]));
      const select = $("logs-source");
      const keep = selectedId ?? select.value;
      fill(select, h("option", { value: "" }, "all"), sources.map((s) => h("option", { value: s.id }, `${s.name} (${s.id})`)));
      select.value = keep && sourceNames[keep] ? keep : "";
    } catch (error) {
      ctx.error(`Cannot list the sources: ${error.message}`);
    }
  }

  function filters() {
    const body = {};
    if ($("logs-source").value) body.sourcesIds = [$("logs-source").value];
    if ($("logs-operation").value) body.operations = [$("logs-operation").value];
    if ($("logs-result").value) body.results = [$("logs-result").value];
    const query = {
      documentId: $("logs-document").value.trim(),
      documentIdMatching: $("logs-matching").value,
      from: localInputToIso($("logs-from").value),
      to: localInputToIso($("logs-to").value),
    };
    return { query, body };
  }

  function row(entry) {
    const documentCell = entry.id
      ? h("button", {
          type: "button",
          class: "link",
          data: { testid: "log-document" },
          title: "Open in the content browser",
          onclick: () => ctx.open("content", { sourceId: entry.sourceId, documentId: entry.id }),
        }, entry.id)
      : "";
    return h(
      "tr",
      { data: { testid: "log-entry", result: entry.result, documentId: entry.id || "" } },
      h("td", { class: "mono" }, fmtTime(entry.datetime)),
      h("td", {}, sourceNames[entry.sourceId] || entry.sourceId),
      h("td", { class: "wrap" }, documentCell),
      h("td", {}, entry.operation),
      h("td", {}, badge(entry.result)),
      h("td", { data: { testid: "log-reason" } }, entry.meta?.reason || ""),
      h("td", { class: "mono" }, entry.meta?.orderingId || ""),
    );
  }

  async function search() {
    stopTail();
    const { query, body } = filters();
    $("logs-status").textContent = "Loading…";
    let answer;
    try {
      answer = await ctx.api.logs({ ...query, page, perPage: PER_PAGE }, body);
    } catch (error) {
      $("logs-status").textContent = "";
      ctx.error(`Cannot query the logs: ${error.message}`);
      return;
    }
    ctx.error("");
    const entries = answer.documentLogEntries || [];
    fill($("logs-rows"), entries.length ? entries.map(row) : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No log entries match.")));
    $("logs-page").textContent = `page ${page + 1}`;
    $("logs-newer").disabled = page === 0;
    $("logs-older").disabled = !answer.hasNextPage;
    $("logs-status").textContent = `${entries.length} entries${answer.hasNextPage ? " (more on older pages)" : ""}`;
  }

  // -- live tail ------------------------------------------------------------------------
  async function tailOnce() {
    if (tailBusy) return;
    tailBusy = true;
    try {
      const { query, body } = filters();
      const since = tailNewest ? new Date(tailNewest - TAIL_OVERLAP_MS).toISOString() : query.from;
      const answer = await ctx.api.logs({ ...query, to: "", from: since, page: 0, perPage: 500 }, body);
      const fresh = (answer.documentLogEntries || []).filter((entry) => !tailSeen.has(entryKey(entry)));
      const rows = $("logs-rows");
      if (fresh.length && rows.firstElementChild?.dataset.testid !== "log-entry") clear(rows);
      for (const entry of fresh.slice().reverse()) {  // oldest first, each one on top
        tailSeen.add(entryKey(entry));
        tailNewest = Math.max(tailNewest, Date.parse(entry.datetime) || 0);
        rows.insertBefore(row(entry), rows.firstChild);
      }
      while (rows.children.length > TAIL_KEEP) rows.removeChild(rows.lastChild);
      $("logs-status").textContent = `live: polled ${fmtTime(Date.now())} UTC, ${rows.children.length} entries shown`;
      ctx.error("");
    } catch (error) {
      $("logs-status").textContent = `live: ${error.message}`;
    } finally {
      tailBusy = false;
    }
  }

  function startTail() {
    stopTail();
    $("logs-tail").checked = true;
    tailSeen = new Set();
    tailNewest = 0;
    clear($("logs-rows"));
    $("logs-newer").disabled = true;
    $("logs-older").disabled = true;
    $("logs-page").textContent = "";
    tailOnce();
    tailTimer = setInterval(tailOnce, TAIL_MS);
  }

  function stopTail() {
    if (tailTimer) clearInterval(tailTimer);
    tailTimer = null;
    $("logs-tail").checked = false;
  }

  $("logs-form").addEventListener("submit", (event) => {
    event.preventDefault();
    page = 0;
    if ($("logs-tail").checked) startTail();
    else search();
  });
  $("logs-tail").addEventListener("change", () => ($("logs-tail").checked ? startTail() : search()));
  $("logs-newer").addEventListener("click", () => {
    page = Math.max(page - 1, 0);
    search();
  });
  $("logs-older").addEventListener("click", () => {
    page += 1;
    search();
  });

  return {
    async show(args) {
      await loadSources(args?.sourceId);
      if (args?.documentId !== undefined) $("logs-document").value = args.documentId;
      page = 0;
      if ($("logs-tail").checked) startTail();
      else search();
    },
    hide() {
      stopTail();
    },
  };
}
