-- 0001_init: users, refresh-token families, customers (with tags and a
-- trigram full-text index for search) and the audit log.
--
-- Times are INTEGER milliseconds since the Unix epoch, UTC. A NULL
-- revoked_at means the family is live.

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
-- ListUsers: all users, or one role, ordered by created_at, id.
CREATE INDEX users_created ON users (created_at, id);
CREATE INDEX users_role_created ON users (role, created_at, id);

CREATE TABLE refresh_families (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    token_hash TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
-- RevokeUserFamilies.
CREATE INDEX refresh_families_user ON refresh_families (user_id);
-- DeleteExpiredFamilies.
CREATE INDEX refresh_families_expires ON refresh_families (expires_at);

-- seq is the stable integer rowid the full-text index points at (an
-- INTEGER PRIMARY KEY survives VACUUM, an implicit rowid may not).
-- tags is the JSON array as given (order kept); attributes a JSON object.
CREATE TABLE customers (
    seq        INTEGER NOT NULL PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    phone      TEXT    NOT NULL UNIQUE,
    wa_id      TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '[]',
    attributes TEXT    NOT NULL DEFAULT '{}',
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- ListCustomers without a tag: newest first.
CREATE INDEX customers_created ON customers (created_at, id);

-- One row per distinct tag of a customer. created_at is the customer's
-- (it never changes), so a tag's customers are walked newest first straight
-- from customer_tags_tag without a sort.
CREATE TABLE customer_tags (
    customer_id TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag         TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (customer_id, tag)
) WITHOUT ROWID;
CREATE INDEX customer_tags_tag ON customer_tags (tag, created_at, customer_id);

-- Substring search on name, phone and email for strings of three or more
-- characters. External content: the text lives in customers only; the
-- triggers below keep the index in step with every insert, update and delete.
CREATE VIRTUAL TABLE customers_fts USING fts5 (
    name, phone, email,
    content = 'customers',
    content_rowid = 'seq',
    tokenize = 'trigram'
);

CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customers_fts (rowid, name, phone, email)
    VALUES (new.seq, new.name, new.phone, new.email);
END;

CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, name, phone, email)
    VALUES ('delete', old.seq, old.name, old.phone, old.email);
END;

CREATE TRIGGER customers_fts_update AFTER UPDATE OF name, phone, email ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, name, phone, email)
    VALUES ('delete', old.seq, old.name, old.phone, old.email);
    INSERT INTO customers_fts (rowid, name, phone, email)
    VALUES (new.seq, new.name, new.phone, new.email);
END;

CREATE TABLE audit (
    id         TEXT    NOT NULL PRIMARY KEY,
    actor_id   TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    resource   TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    ip         TEXT    NOT NULL,
    user_agent TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    at         INTEGER NOT NULL
);
-- ListAudit: unfiltered / by actor / by action, newest first within [from, to).
CREATE INDEX audit_at ON audit (at, id);
CREATE INDEX audit_actor_at ON audit (actor_id, at, id);
CREATE INDEX audit_action_at ON audit (action, at, id);
