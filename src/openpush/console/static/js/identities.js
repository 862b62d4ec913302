// Identities: a provider's identities (security cache), and an identity's members,
// parents and aliases, direct or transitive.

import { $, badge, fill, fmtTime, h, table } from "./dom.js";

const PER_PAGE = 50;
const RELATIONS = [
  ["children", "Members"],
  ["parents", "Parents (groups it belongs to, identities granted to it)"],
  ["aliases", "Aliases"],
];

export function createIdentitiesPanel(ctx) {
  let page = 0;

  async function loadProviders() {
    let providers = [];
    try {
      providers = await ctx.api.providers();
    } catch (error) {
      ctx.error(`Cannot list the security providers: ${error.message}`);
      return;
    }
    const select = $("identities-provider");
    const keep = select.value;
    fill(select, providers.map((p) => h("option", { value: p.id }, `${p.id} (${p.type})`)));
    if (providers.some((p) => p.id === keep)) select.value = keep;
  }

  async function list() {
    const provider = $("identities-provider").value;
    if (!provider) {
      fill($("identities-rows"), h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No security providers.")));
      return;
    }
    let answer;
    try {
      answer = await ctx.api.entities(provider, page, PER_PAGE);
    } catch (error) {
      ctx.error(`Cannot list the identities: ${error.message}`);
      return;
    }
    ctx.error("");
    const rows = answer.items.map((identity) => {
      const tr = h(
        "tr",
        { class: "clickable", data: { testid: "identity-row", name: identity.name } },
        h("td", {}, identity.name),
        h("td", {}, identity.type),
        h("td", {}, badge(identity.state)),
        h("td", { class: "mono" }, identity.orderingID ?? ""),
        h("td", {}, fmtTime(identity.lastUpdateDate)),
      );
      tr.addEventListener("click", () => detail(provider, identity));
      return tr;
    });
    fill($("identities-rows"), rows.length ? rows : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No identities.")));
    $("identities-page").textContent = `page ${page + 1} of ${answer.totalPages} (${answer.totalEntries} identities)`;
    $("identities-prev").disabled = page === 0;
    $("identities-next").disabled = page + 1 >= answer.totalPages;
  }

  async function relation(provider, identity, direction, recursive) {
    const body = { name: identity.name, provider: identity.provider, type: identity.type };
    try {
      const answer = await ctx.api.related(provider, body, direction, { recursive, perPage: 1000 });
      if (!answer.items.length) return h("p", { class: "muted", data: { testid: `identity-${direction}` } }, "none");
      const rows = answer.items.map((other) => {
        const name = h("button", { type: "button", class: "link", onclick: () => detail(other.provider, other) }, other.name);
        return h("tr", {}, h("td", {}, name), h("td", {}, other.provider), h("td", {}, other.type), h("td", {}, badge(other.state)));
      });
      const shown = table(["Name", "Provider", "Type", "State"], rows, `identity-${direction}`);
      return answer.totalEntries > answer.items.length ? [shown, h("p", { class: "muted" }, `${answer.items.length} of ${answer.totalEntries} shown`)] : shown;
    } catch (error) {
      return h("p", { class: "error" }, error.message);
    }
  }

  async function detail(provider, identity) {
    const box = $("identity-detail");
    box.hidden = false;
    const recursive = h("input", { type: "checkbox", data: { testid: "identity-recursive" } });
    const sections = h("div", {});
    const render = async () => {
      fill(sections, h("p", { class: "muted" }, "Loading…"));
      const parts = await Promise.all(RELATIONS.map(([direction]) => relation(provider, identity, direction, recursive.checked)));
      fill(sections, RELATIONS.map(([, title], i) => [h("h3", {}, title), parts[i]]));
    };
    recursive.addEventListener("change", render);
    fill(
      box,
      h("h2", {}, identity.name, " ", h("span", { class: "muted" }, `${identity.type} in ${identity.provider || provider}`)),
      h("label", {}, recursive, " include indirect relationships (recursive)"),
      sections,
    );
    await render();
  }

  $("identities-provider").addEventListener("change", () => {
    page = 0;
    $("identity-detail").hidden = true;
    list();
  });
  $("identities-prev").addEventListener("click", () => {
    page = Math.max(page - 1, 0);
    list();
  });
  $("identities-next").addEventListener("click", () => {
    page += 1;
    list();
  });

  return {
    async show() {
      await loadProviders();
      await list();
    },
    hide() {},
  };
}
