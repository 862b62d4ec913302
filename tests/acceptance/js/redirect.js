// Loaded with `node --require ./redirect.js`: sends the Coveo clients' calls to openpush.
//
// Coveo's JavaScript clients (and the CLI) build https://api…cloud.coveo.com and
// https://platform…cloud.coveo.com URLs themselves; this rewrites them to OPENPUSH_URL in the
// global fetch (docs/clients.md). Any other request that would leave the machine (the CLI's
// usage analytics) fails at once instead of reaching the network.
'use strict';

const http = require('node:http');
const https = require('node:https');

const BASE = process.env.OPENPUSH_URL;
if (!BASE) throw new Error('redirect.js needs OPENPUSH_URL');
const COVEO = /^https:\/\/(api|platform)[a-z0-9-]*\.cloud\.coveo\.com/;
const LOCAL = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/;

function refused(url) {
  return new Error(`openpush tests: no network beyond this machine (${url})`);
}

const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = input instanceof Request ? input.url : String(input);
  const local = url.replace(COVEO, BASE);
  if (!LOCAL.test(new URL(local).hostname)) return Promise.reject(refused(url));
  if (local === url) return realFetch(input, init);
  return realFetch(input instanceof Request ? new Request(local, input) : local, init);
};

for (const module of [http, https]) {
  for (const name of ['request', 'get']) {
    const real = module[name];
    module[name] = function guarded(...args) {
      const first = args[0];
      const host =
        typeof first === 'string' || first instanceof URL
          ? new URL(first).hostname
          : (first && (first.hostname || first.host)) || 'localhost';
      if (!LOCAL.test(String(host).replace(/:\d+$/, ''))) throw refused(host);
      return real.apply(this, args);
    };
  }
}

try {
  const analytics = require('@amplitude/analytics-node');
  const done = () => ({ promise: Promise.resolve() });
  analytics.setOptOut(true);
  for (const name of ['init', 'track', 'identify', 'logEvent', 'flush']) analytics[name] = done;
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND') throw err;
}
