// Content browser: search as the key (view all content) or as a user (through a search
// token minted for them); an item's status, metadata, permission model, fields and text;
// the explain-access verdict for a chosen user.

import { EMAIL_PROVIDER } from "./api.js";
import { $, badge, fill, fmtTime, h, kv, table } from "./dom.js";

const PER_PAGE = 20;
const MAX_TEXT = 100000;

function quoted(value) {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

function sourceOf(result) {
  const unique = result.uniqueId || "";
  const cut = unique.indexOf("$");
  return cut > 0 ? unique.slice(0, cut) : "";
}

function json(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function identityLabel(p) {
  return `${p.identity} (${p.identityType}${p.securityProvider ? `, ${p.securityProvider}` : ""})`;
}

function permissionTree(levels) {
  if (!levels || !levels.length) return h("p", { class: "muted" }, "No permission model.");
  return h(
    "ul",
    { class: "tree", data: { testid: "permission-model" } },
    levels.map((level, i) =>
      h(
        "li",
        {},
        `Level ${i}${level.name ? ` “${level.name}”` : ""}`,
        h(
          "ul",
          { class: "tree" },
          level.permissionSets.length ? null : h("li", { class: "muted" }, "no sets: allows everyone who reaches it"),
          level.permissionSets.map((set, j) =>
            h(
              "li",
              {},
              `Set ${j}${set.name ? ` “${set.name}”` : ""}${set.allowAnonymous ? " — allows anonymous" : ""}`,
              h(
                "ul",
                { class: "tree" },
                set.allowedPermissions.map((p) => h("li", {}, "allowed: ", identityLabel(p))),
                set.deniedPermissions.map((p) => h("li", {}, "denied: ", identityLabel(p))),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function pathText(entry) {
  const via = entry.via || [];
  if (!via.length) return entry.name === "*@*" ? "(everybody)" : "(held directly)";
  return [via[0].from.name, ...via.map((step) => `-${step.kind}-> ${step.to.name}`)].join(" ");
}

function verdictBlock(answer) {
  const visible = Boolean(answer.visible);
  const deciding = answer.decidingLevel === null || answer.decidingLevel === undefined
    ? "" : `level ${answer.decidingLevel}${answer.decidingSet === null ? "" : `, set ${answer.decidingSet}`}`;
  const matched = (answer.matchedIdentities || []).map((m) =>
    h("tr", {}, h("td", {}, m.anonymous ? "allowAnonymous" : m.name), h("td", {}, m.provider || ""), h("td", {}, m.allowed ? "allowed" : "denied")),
  );
  const held = (answer.identities || []).map((entry) =>
    h("tr", {}, h("td", {}, entry.name), h("td", {}, entry.provider), h("td", {}, pathText(entry))),
  );
  return h(
    "div",
    { data: { testid: "explain-verdict", visible: String(visible) } },
    h("p", { class: `verdict ${visible ? "visible" : "hidden"}` }, visible ? "VISIBLE" : "NOT VISIBLE",
      h("span", { class: "muted" }, ` to ${answer.user ? `${answer.user.name} (${answer.user.provider})` : "anonymous"}`)),
    kv([["Reason", answer.reason], ["Decided by", deciding], ["Source visibility", answer.sourceVisibility]]),
    matched.length ? [h("h3", {}, "Matched permission identities"), table(["Identity", "Provider", "Effect"], matched)] : null,
    h("h3", {}, `Identities the user holds (${held.length})`),
    table(["Identity", "Provider", "Held through"], held),
  );
}

export function createContentPanel(ctx) {
  let first = 0;
  let lastSearch = null;
  let providers = [EMAIL_PROVIDER];

  async function loadProviders() {
    try {
      const listed = await ctx.api.providers();
      providers = [EMAIL_PROVIDER, ...listed.map((p) => p.id).filter((id) => id !== EMAIL_PROVIDER)];
    } catch {
      providers = [EMAIL_PROVIDER]; // a key without SECURITY_PROVIDER/VIEW: email identities only
    }
    const keep = $("content-provider").value;
    fill($("content-provider"), providers.map((p) => h("option", { value: p }, p)));
    if (providers.includes(keep)) $("content-provider").value = keep;
  }

  function providerSelect(selected) {
    const select = h("select", { data: { testid: "explain-provider" } }, providers.map((p) => h("option", { value: p }, p)));
    select.value = providers.includes(selected) ? selected : EMAIL_PROVIDER;
    return select;
  }

  async function search() {
    const asUser = document.querySelector("input[name=content-as]:checked").value === "user";
    const user = $("content-user").value.trim();
    const provider = $("content-provider").value || EMAIL_PROVIDER;
    if (asUser && !user) {
      ctx.error("Enter the user to search as.");
      return;
    }
    const body = { q: $("content-q").value, firstResult: first, numberOfResults: PER_PAGE };
    let answer;
    try {
      if (asUser) {
        const token = await ctx.api.searchToken(user, provider);
        answer = await ctx.api.search(body, { token });
      } else {
        answer = await ctx.api.search(body, { viewAll: true });
      }
    } catch (error) {
      ctx.error(`Search failed: ${error.message}`);
      return;
    }
    ctx.error("");
    lastSearch = asUser ? { user, provider } : null;
    const who = asUser ? ` visible to ${user}` : " (all content)";
    $("content-total").textContent = `${answer.totalCount} results${who}`;
    $("content-total").dataset.total = String(answer.totalCount);
    const rows = answer.results.map((result) => {
      const sourceId = sourceOf(result);
      const tr = h(
        "tr",
        { class: "clickable", data: { testid: "content-result", documentId: result.uri } },
        h("td", {}, result.title),
        h("td", { class: "wrap" }, result.uri),
        h("td", {}, result.raw?.source || sourceId),
        h("td", {}, result.excerpt || ""),
      );
      tr.addEventListener("click", () => openItem(sourceId, result.uri));
      return tr;
    });
    fill($("content-rows"), rows.length ? rows : h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No results.")));
    $("content-prev").disabled = first === 0;
    $("content-next").disabled = first + PER_PAGE >= answer.totalCount;
  }

  async function indexed(documentId, sourceId, textLength) {
    const answer = await ctx.api.search(
      { aq: `@uri==${quoted(documentId)}`, numberOfResults: 50, excerptLength: Math.min(Math.max(textLength || 0, 200), MAX_TEXT) },
      { viewAll: true },
    );
    return answer.results.find((r) => sourceOf(r) === sourceId) || null;
  }

  async function openItem(sourceId, documentId) {
    const box = $("item-detail");
    box.hidden = false;
    fill(box, h("h2", {}, documentId), h("p", { class: "muted" }, "Loading…"));
    const [status, item] = await Promise.allSettled([ctx.api.itemStatus(sourceId, documentId), ctx.api.item(sourceId, documentId)]);
    const model = item.status === "fulfilled" ? item.value : null;
    const hit = await indexed(documentId, sourceId, model?.textLength).catch(() => null);
    const state = status.status === "fulfilled" ? status.value : null;
    const explainUser = h("input", { size: 26, placeholder: "alice@example.com", data: { testid: "explain-user" }, value: lastSearch?.user || "" });
    const explainProvider = providerSelect(lastSearch?.provider);
    const verdict = h("div", {});
    const explain = async (event) => {
      event.preventDefault();
      try {
        fill(verdict, verdictBlock(await ctx.api.access(sourceId, documentId, explainUser.value.trim(), explainProvider.value)));
      } catch (error) {
        fill(verdict, h("p", { class: "error" }, `Cannot explain: ${error.message}`));
      }
    };
    fill(
      box,
      h("h2", { data: { testid: "item-title" } }, model?.title || hit?.title || documentId),
      kv([
        ["documentId", documentId],
        ["Source", sourceId],
        ["State", state ? badge(state.state) : status.reason?.message],
        ["orderingId", state?.orderingId],
        ["Last outcome", state?.lastResult ? `${state.lastResult}: ${state.lastReason}` : ""],
        ["Updated", fmtTime(state?.updatedAt)],
        ["Content", model ? `${model.content.carrier || "none"}${model.content.bytes !== undefined ? `, ${model.content.bytes} bytes` : ""}${model.fileExtension ? `, ${model.fileExtension}` : ""}` : ""],
        ["Parent", model?.parentId],
      ], "item-summary"),
      lastSearch ? h("p", { class: "muted" }, `Found by a search as ${lastSearch.user}.`) : null,
      h("div", { class: "columns" },
        h("div", {}, h("h3", {}, "Metadata"), model
          ? table(["Key", "Value"], Object.entries(model.metadata).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "wrap" }, json(v)))), "item-metadata")
          : h("p", { class: "muted" }, item.reason?.message || "")),
        h("div", {}, h("h3", {}, "Permission model"), model ? permissionTree(model.permissions) : h("p", { class: "muted" }, "unavailable"))),
      h("h3", {}, "Fields (as indexed)"),
      hit ? table(["Field", "Value"], Object.entries(hit.raw).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "wrap" }, json(v)))), "item-fields")
        : h("p", { class: "muted" }, "Not found by a view-all-content search (the key may lack SEARCH_API/VIEW_ALL_CONTENT)."),
      h("h3", {}, `Text${model?.textLength ? ` (${model.textLength} characters)` : ""}`),
      h("pre", { class: "text", data: { testid: "item-text" } }, hit ? hit.excerpt : ""),
      h("h3", {}, "Explain access"),
      h("form", { class: "filters", onsubmit: explain }, h("label", {}, "User ", explainUser), explainProvider,
        h("button", { type: "submit", data: { testid: "explain-run" } }, "Explain")),
      verdict,
    );
  }

  $("content-form").addEventListener("submit", (event) => {
    event.preventDefault();
    first = 0;
    search();
  });
  $("content-prev").addEventListener("click", () => {
    first = Math.max(first - PER_PAGE, 0);
    search();
  });
  $("content-next").addEventListener("click", () => {
    first += PER_PAGE;
    search();
  });
  $("content-user").addEventListener("focus", () => {
    document.querySelector("input[name=content-as][value=user]").checked = true;
  });

  return {
    async show(args) {
      await loadProviders();
      if (args?.documentId) {
        lastSearch = null;
        await openItem(args.sourceId, args.documentId);
      }
    },
    hide() {},
  };
}
