-- The PostgreSQL search index (index/postgres): one row per indexed item, for every
-- organization, written by any worker and searched by any API process.
--
-- uid          org_id \x1f source_id \x1f document_id: the key, and the last sort key ("C": byte
--              order, as the embedded index orders it)
-- words        title, body and STRING field values, analysed as the embedded index does, each
--              lexeme prefixed with where it comes from ('t:', 'b:', 'f:<field>:')
-- acl          the item's permission tokens (security/acl.py), u64 stored as signed bigint
-- fields       typed field values {"name": [values]}: numbers, dates (epoch ms) and strings
-- lowered      the string values of ``fields`` lower-cased: exact, case-insensitive matches
-- raw          the result fields, as orjson bytes
CREATE TABLE index_documents (
    uid         text COLLATE "C" PRIMARY KEY,
    org_id      text NOT NULL,
    source_id   text NOT NULL,
    document_id text NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL,
    date_ms     bigint NOT NULL,
    acl         bigint[] NOT NULL,
    fields      jsonb NOT NULL,
    lowered     jsonb NOT NULL,
    words       tsvector NOT NULL,
    raw         bytea NOT NULL
);
CREATE INDEX index_documents_source ON index_documents (org_id, source_id);
CREATE INDEX index_documents_date ON index_documents (org_id, date_ms);
CREATE INDEX index_documents_words ON index_documents USING gin (words);
CREATE INDEX index_documents_acl ON index_documents USING gin (acl);
CREATE INDEX index_documents_fields ON index_documents USING gin (fields);
CREATE INDEX index_documents_lowered ON index_documents USING gin (lowered jsonb_path_ops);
