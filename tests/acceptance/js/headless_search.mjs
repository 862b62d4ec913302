// Coveo Headless (@coveo/headless), unmodified, searching openpush the way a search page does:
// a search box submits a query, a result list and a facet on `author` read the response.
//
// Usage: node headless_search.mjs <openpush base URL> <org> <search token> <query> [<facet text>]
// Prints one JSON document: the search error (null), the total, the result URIs, the facet
// values with their counts, and what the facet's search box finds for <facet text>.
import { buildFacet, buildResultList, buildSearchBox, buildSearchEngine } from '@coveo/headless';

const [, , BASE, ORG, TOKEN, QUERY, FACET_TEXT = ''] = process.argv;

const engine = buildSearchEngine({
  configuration: {
    organizationId: ORG,
    accessToken: TOKEN,
    search: { proxyBaseUrl: `${BASE}/rest/search/v2` },
    analytics: { enabled: false },
  },
  loggerOptions: { level: 'error' },
});
const results = buildResultList(engine, { options: { fieldsToInclude: ['author'] } });
const facet = buildFacet(engine, { options: { field: 'author' } });
const box = buildSearchBox(engine);

const settled = new Promise((resolve) => {
  const stop = engine.subscribe(() => {
    const { search } = engine.state;
    if (!search.isLoading && (search.response.searchUid || search.error)) {
      stop();
      resolve();
    }
  });
});
box.updateText(QUERY);
box.submit();
await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 20000))]);

// the facet's search box, as a user typing into it: its values among this user's items
facet.facetSearch.updateText(FACET_TEXT);
facet.facetSearch.search();
await new Promise((resolve) => {
  const started = Date.now();
  const poll = setInterval(() => {
    // search() marks the facet search as loading at once; it is done when that clears
    if (!facet.state.facetSearch.isLoading || Date.now() - started > 20000) {
      clearInterval(poll);
      resolve();
    }
  }, 20);
});

const { search } = engine.state;
process.stdout.write(
  JSON.stringify({
    error: search.error,
    total: search.response.totalCountFiltered,
    uris: results.state.results.map((r) => r.uri),
    authors: results.state.results.map((r) => r.raw.author),
    facet: facet.state.values.map((v) => [v.value, v.numberOfResults]),
    facetSearch: facet.state.facetSearch.values.map((v) => [v.rawValue, v.count]),
  }) + '\n',
);
process.exit(0);
