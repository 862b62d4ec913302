-- openpush embedded state: organizations, keys, sources, fields, the operation queue,
-- item state and the indexing log. Applied idempotently at start-up.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS organizations (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    created_at   REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key_hash     TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    privileges   TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   REAL NOT NULL,
    -- added after the first release; SqliteCatalog adds them to older files at start-up
    description  TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    disabled_at  REAL
);

CREATE TABLE IF NOT EXISTS sources (
    org_id        TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    source_type   TEXT NOT NULL,
    visibility    TEXT NOT NULL,
    push_enabled  INTEGER NOT NULL,
    stream_enabled INTEGER NOT NULL,
    providers     TEXT NOT NULL DEFAULT '[]',
    low_water_key TEXT NOT NULL DEFAULT '',
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS sources_name ON sources(org_id, name);

CREATE TABLE IF NOT EXISTS source_activities (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    activity   TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at   REAL
);
CREATE INDEX IF NOT EXISTS source_activities_source ON source_activities(org_id, source_id, id);

CREATE TABLE IF NOT EXISTS fields (
    org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE IF NOT EXISTS operations (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    document_id  TEXT,
    ordering_key TEXT NOT NULL,
    payload      BLOB NOT NULL,
    request_id   TEXT NOT NULL,
    enqueued_at  REAL NOT NULL,
    available_at REAL NOT NULL,
    claimed      INTEGER NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS operations_ready ON operations(claimed, available_at, seq);
CREATE INDEX IF NOT EXISTS operations_document ON operations(org_id, source_id, document_id);

CREATE TABLE IF NOT EXISTS items (
    org_id       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    state        TEXT NOT NULL,
    record       BLOB,
    last_result  TEXT NOT NULL,
    last_reason  TEXT NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (org_id, source_id, document_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_ordering ON items(org_id, source_id, ordering_key);

CREATE TABLE IF NOT EXISTS acl_shapes (
    org_id TEXT NOT NULL,
    shape  TEXT NOT NULL,
    PRIMARY KEY (org_id, shape)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS logs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    guid         TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    operation    TEXT NOT NULL,
    result       TEXT NOT NULL,
    task         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    meta         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS logs_time ON logs(org_id, created_at);
CREATE INDEX IF NOT EXISTS logs_document ON logs(org_id, source_id, document_id, id);
CREATE INDEX IF NOT EXISTS logs_request ON logs(org_id, request_id, id);

-- File containers: upload slots; their bytes live in the blob store.
CREATE TABLE IF NOT EXISTS containers (
    org_id     TEXT NOT NULL,
    file_id    TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    state      TEXT NOT NULL,
    holder     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (org_id, file_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS containers_expiry ON containers(state, expires_at);

-- Batches: accepted container-backed requests, their progress and outcome counts.
CREATE TABLE IF NOT EXISTS batches (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    file_ids    TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    state       TEXT NOT NULL,
    total       INTEGER NOT NULL DEFAULT 0,
    processed   INTEGER NOT NULL DEFAULT 0,
    file_index  INTEGER NOT NULL DEFAULT 0,
    entry_index INTEGER NOT NULL DEFAULT 0,
    counts      TEXT NOT NULL DEFAULT '{}',
    error       TEXT NOT NULL DEFAULT '',
    stream_id   TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS batches_source ON batches(org_id, source_id, created_at);

-- Streams: open load operations collecting chunk containers.
CREATE TABLE IF NOT EXISTS streams (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    file_ids     TEXT NOT NULL DEFAULT '[]',
    state        TEXT NOT NULL,
    created_at   REAL NOT NULL,
    closed_at    REAL
);

-- Security providers (the Email Security Provider is implicit) and pushed identities.
CREATE TABLE IF NOT EXISTS providers (
    org_id     TEXT NOT NULL,
    id         TEXT NOT NULL,
    key        TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS identities (
    org_id       TEXT NOT NULL,
    provider     TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    ref          TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    ordering_key TEXT NOT NULL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (org_id, provider, name_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identities_ordering ON identities(org_id, provider, ordering_key);

-- Relationships, each owned by the identity whose push declared it (replaced by its next push).
CREATE TABLE IF NOT EXISTS identity_edges (
    org_id          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    owner_provider  TEXT NOT NULL,
    owner_name      TEXT NOT NULL,
    parent_provider TEXT NOT NULL,
    parent_name     TEXT NOT NULL,
    child_provider  TEXT NOT NULL,
    child_name      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identity_edges_owner
    ON identity_edges(org_id, owner_provider, owner_name, kind);
CREATE INDEX IF NOT EXISTS identity_edges_child
    ON identity_edges(org_id, child_provider, child_name, kind);
CREATE INDEX IF NOT EXISTS identity_edges_parent
    ON identity_edges(org_id, parent_provider, parent_name, kind);

CREATE TABLE IF NOT EXISTS identity_versions (
    org_id  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);

-- Items hidden because a denied identity was unknown to its provider, by that identity: when
-- the identity becomes known they are applied again.
CREATE TABLE IF NOT EXISTS waiting_items (
    org_id      TEXT NOT NULL,
    provider    TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    document_id TEXT NOT NULL,
    PRIMARY KEY (org_id, provider, name_key, source_id, document_id)
) WITHOUT ROWID;
