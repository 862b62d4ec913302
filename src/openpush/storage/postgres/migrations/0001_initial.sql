-- openpush state on PostgreSQL: organizations, keys, sources, fields, the operation queue,
-- item state, the indexing log, transfers and identities. The same tables as the embedded
-- SQLite schema (storage/sqlite/sql/schema.sql), with PostgreSQL types: orderingIds are
-- NUMERIC(40) (up to 40 digits), times are epoch seconds, JSON documents are text written
-- by orjson, item records and operation payloads are bytea. Columns that are ordered or
-- range-scanned use the "C" collation so that order is byte order, as in SQLite.

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE organizations (
    id           text PRIMARY KEY,
    display_name text NOT NULL,
    created_at   double precision NOT NULL
);

CREATE TABLE api_keys (
    id           text COLLATE "C" PRIMARY KEY,
    org_id       text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key_hash     text NOT NULL UNIQUE,
    display_name text NOT NULL,
    privileges   text NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    created_at   double precision NOT NULL,
    description  text NOT NULL DEFAULT '',
    created_by   text NOT NULL DEFAULT '',
    disabled_at  double precision
);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at, id);

CREATE TABLE sources (
    org_id         text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    id             text NOT NULL,
    name           text NOT NULL,
    source_type    text NOT NULL,
    visibility     text NOT NULL,
    push_enabled   boolean NOT NULL,
    stream_enabled boolean NOT NULL,
    providers      text NOT NULL DEFAULT '[]',
    low_water      numeric(40, 0) NOT NULL DEFAULT 0,
    created_at     double precision NOT NULL,
    updated_at     double precision NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX sources_name ON sources (org_id, name);

CREATE TABLE source_activities (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     text NOT NULL,
    source_id  text NOT NULL,
    activity   text NOT NULL,
    started_at double precision NOT NULL,
    ended_at   double precision
);
CREATE INDEX source_activities_source ON source_activities (org_id, source_id, id);

CREATE TABLE fields (
    org_id     text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name       text COLLATE "C" NOT NULL,
    definition text NOT NULL,
    PRIMARY KEY (org_id, name)
);

-- The operation queue. ``scope`` says which other operations one must not overtake or run
-- beside: 'item' (one documentId of one source), 'source' (a whole source: delete older
-- than, batch files) or 'org' (identity operations, which items' permissions read). A
-- worker owns its claims through ``claimed_by`` while ``lease_until`` lies ahead; it
-- renews the lease while it works, and a dead worker's claims lapse and are claimed again.
CREATE TABLE operations (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id       text NOT NULL,
    source_id    text NOT NULL,
    kind         text NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('item', 'source', 'org')),
    document_id  text,
    ordering_id  numeric(40, 0) NOT NULL,
    payload      bytea NOT NULL,
    request_id   text NOT NULL,
    enqueued_at  double precision NOT NULL,
    available_at double precision NOT NULL,
    claimed_by   text,
    lease_until  double precision,
    attempts     integer NOT NULL DEFAULT 0
);
CREATE INDEX operations_claimed ON operations (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX operations_document ON operations (org_id, source_id, document_id);

CREATE TABLE items (
    org_id      text NOT NULL,
    source_id   text NOT NULL,
    document_id text COLLATE "C" NOT NULL,
    ordering_id numeric(40, 0) NOT NULL,
    state       text NOT NULL,
    record      bytea,
    last_result text NOT NULL,
    last_reason text NOT NULL,
    updated_at  double precision NOT NULL,
    PRIMARY KEY (org_id, source_id, document_id)
);
CREATE INDEX items_ordering ON items (org_id, source_id, ordering_id);

CREATE TABLE acl_shapes (
    org_id text NOT NULL,
    shape  text COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, shape)
);

CREATE TABLE logs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guid        text NOT NULL,
    org_id      text NOT NULL,
    source_id   text NOT NULL,
    document_id text NOT NULL,
    operation   text NOT NULL,
    result      text NOT NULL,
    task        text NOT NULL,
    reason      text NOT NULL,
    ordering_id numeric(40, 0) NOT NULL,
    request_id  text NOT NULL,
    created_at  double precision NOT NULL,
    meta        text NOT NULL DEFAULT '{}'
);
CREATE INDEX logs_time ON logs (org_id, created_at);
CREATE INDEX logs_document ON logs (org_id, source_id, document_id, id);
CREATE INDEX logs_request ON logs (org_id, request_id, id);

-- File containers: upload slots; their bytes live in the blob store.
CREATE TABLE containers (
    org_id     text NOT NULL,
    file_id    text NOT NULL,
    created_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    state      text NOT NULL,
    holder     text NOT NULL DEFAULT '',
    PRIMARY KEY (org_id, file_id)
);
CREATE INDEX containers_expiry ON containers (state, expires_at);
CREATE INDEX containers_holder ON containers (org_id, holder) WHERE holder <> '';

-- Batches: accepted container-backed requests, their progress and outcome counts.
CREATE TABLE batches (
    id          text PRIMARY KEY,
    org_id      text NOT NULL,
    source_id   text NOT NULL,
    kind        text NOT NULL,
    file_ids    text NOT NULL,
    ordering_id numeric(40, 0) NOT NULL,
    state       text NOT NULL,
    total       integer NOT NULL DEFAULT 0,
    processed   integer NOT NULL DEFAULT 0,
    file_index  integer NOT NULL DEFAULT 0,
    entry_index integer NOT NULL DEFAULT 0,
    counts      text NOT NULL DEFAULT '{}',
    error       text NOT NULL DEFAULT '',
    stream_id   text NOT NULL DEFAULT '',
    created_at  double precision NOT NULL,
    finished_at double precision
);
CREATE INDEX batches_source ON batches (org_id, source_id, created_at);

-- Streams: open load operations collecting chunk containers.
CREATE TABLE streams (
    id          text PRIMARY KEY,
    org_id      text NOT NULL,
    source_id   text NOT NULL,
    ordering_id numeric(40, 0) NOT NULL,
    file_ids    text NOT NULL DEFAULT '[]',
    state       text NOT NULL,
    created_at  double precision NOT NULL,
    closed_at   double precision
);
CREATE INDEX streams_open ON streams (state, created_at);

-- Security providers (the Email Security Provider is implicit) and pushed identities.
CREATE TABLE providers (
    org_id     text NOT NULL,
    id         text NOT NULL,
    key        text COLLATE "C" NOT NULL,
    definition text NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE TABLE identities (
    org_id      text NOT NULL,
    provider    text NOT NULL,
    name_key    text COLLATE "C" NOT NULL,
    ref         text NOT NULL,
    enabled     boolean NOT NULL,
    ordering_id numeric(40, 0) NOT NULL,
    updated_at  double precision NOT NULL,
    PRIMARY KEY (org_id, provider, name_key)
);
CREATE INDEX identities_ordering ON identities (org_id, provider, ordering_id);

-- Relationships, each owned by the identity whose push declared it (replaced by its next push).
CREATE TABLE identity_edges (
    org_id          text NOT NULL,
    kind            text NOT NULL,
    owner_provider  text NOT NULL,
    owner_name      text NOT NULL,
    parent_provider text NOT NULL,
    parent_name     text NOT NULL,
    child_provider  text NOT NULL,
    child_name      text NOT NULL
);
CREATE INDEX identity_edges_owner
    ON identity_edges (org_id, owner_provider, owner_name, kind);
CREATE INDEX identity_edges_child
    ON identity_edges (org_id, child_provider, child_name, kind);
CREATE INDEX identity_edges_parent
    ON identity_edges (org_id, parent_provider, parent_name, kind);

CREATE TABLE identity_versions (
    org_id  text PRIMARY KEY,
    version bigint NOT NULL
);

-- Items hidden because a denied identity was unknown to its provider, by that identity: when
-- the identity becomes known they are applied again.
CREATE TABLE waiting_items (
    org_id      text NOT NULL,
    provider    text NOT NULL,
    name_key    text NOT NULL,
    source_id   text NOT NULL,
    document_id text NOT NULL,
    PRIMARY KEY (org_id, provider, name_key, source_id, document_id)
);
