// The public APIs the console calls, with the session's API key as Bearer credential.

export const EMAIL_PROVIDER = "Email Security Provider";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const enc = encodeURIComponent;

export class Api {
  constructor(key, org, { onUnauthorized } = {}) {
    this.key = key;
    this.org = org;
    this.onUnauthorized = onUnauthorized;
  }

  async call(method, path, { query, body, credential } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Authorization: `Bearer ${credential || this.key}` };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let payload = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const code = payload?.errorCode || response.statusText;
      const message = payload?.message || text.slice(0, 300) || response.statusText;
      if (response.status === 401 && !credential && this.onUnauthorized) this.onUnauthorized(message);
      throw new ApiError(response.status, code, `${response.status} ${code}: ${message}`);
    }
    return payload;
  }

  checkToken() {
    return this.call("POST", "/oauth/check_token");
  }

  // -- sources and items --------------------------------------------------------------
  orgPath(suffix) {
    return `/rest/organizations/${enc(this.org)}${suffix}`;
  }

  sources() {
    return this.call("GET", this.orgPath("/sources"));
  }

  itemStatus(sourceId, documentId) {
    return this.call("GET", `/push/v1/organizations/${enc(this.org)}/sources/${enc(sourceId)}/documents/status`, {
      query: { documentId },
    });
  }

  item(sourceId, documentId) {
    return this.call("GET", this.orgPath(`/sources/${enc(sourceId)}/documents/item`), { query: { documentId } });
  }

  access(sourceId, documentId, user, provider) {
    return this.call("GET", this.orgPath(`/sources/${enc(sourceId)}/documents/access`), {
      query: { documentId, user, provider: user ? provider : undefined },
    });
  }

  // -- logs ---------------------------------------------------------------------------
  logs({ from, to, page, perPage, documentId, documentIdMatching }, body) {
    return this.call("POST", `/logs/v1/organizations/${enc(this.org)}`, {
      query: { from, to, page, perPage, documentId, documentIdMatching: documentId ? documentIdMatching : undefined },
      body: body || {},
    });
  }

  // -- search -------------------------------------------------------------------------
  async searchToken(name, provider) {
    const answer = await this.call("POST", "/rest/search/v2/token", {
      body: { userIds: [{ name, provider: provider || EMAIL_PROVIDER, type: "User" }] },
    });
    return answer.token;
  }

  search(body, { viewAll = false, token } = {}) {
    return this.call("POST", "/rest/search/v2", {
      query: { organizationId: this.org, viewAllContent: viewAll ? "true" : undefined },
      body,
      credential: token,
    });
  }

  // -- identities ---------------------------------------------------------------------
  providers() {
    return this.call("GET", this.orgPath("/securityproviders"));
  }

  entities(providerId, page, perPage) {
    return this.call("GET", this.orgPath(`/securitycache/entities/${enc(providerId)}`), { query: { page, perPage } });
  }

  related(providerId, identity, direction, { recursive = false, page = 0, perPage = 100 } = {}) {
    return this.call("POST", this.orgPath(`/securitycache/entities/${enc(providerId)}/members/${direction}`), {
      query: { recursive: recursive ? "true" : "false", page, perPage },
      body: identity,
    });
  }
}

// Does a key holding `privileges` pass a check for owner/domain/type? (openpush's rules:
// ORGANIZATION/EDIT is the administrator; EDIT implies VIEW and CREATE.) Only used to shape
// the UI: the server decides.
export function holds(privileges, owner, domain, type) {
  return (privileges || []).some((p) => {
    if (p.owner === "PLATFORM" && p.targetDomain === "ORGANIZATION" && p.type === "EDIT") return true;
    if (p.owner !== owner || p.targetDomain !== domain) return false;
    return p.type === type || (p.type === "EDIT" && (type === "VIEW" || type === "CREATE"));
  });
}
