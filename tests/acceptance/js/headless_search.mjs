// Coveo Headless (@coveo/headless), unmodified, searching openpush the way a search page does:
// a search box submits a query, a result list and a facet on `author` read the response.
//
// Usage: node headless_search.mjs <openpush base URL> <org> <search token> <query>
// Prints one JSON document: the search error (null), the total, the result URIs and the
// facet values with their counts.
import { buildFacet, buildResultList, buildSearchBox, buildSearchEngine } from '@coveo/headless';

const [, , BASE, ORG, TOKEN, QUERY] = process.argv;

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

const { search } = engine.state;
process.stdout.write(
  JSON.stringify({
    error: search.error,
    total: search.response.totalCountFiltered,
    uris: results.state.results.map((r) => r.uri),
    authors: results.state.results.map((r) => r.raw.author),
    facet: facet.state.values.map((v) => [v.value, v.numberOfResults]),
  }) + '\n',
);
process.exit(0);
