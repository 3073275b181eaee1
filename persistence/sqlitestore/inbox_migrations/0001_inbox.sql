-- The durable webhook inbox, in its own database file (engine-inbox.db
-- beside engine.db) so that accepting a webhook never waits behind the
-- conversation engine's writes: SQLite has one writer per file.
--
-- Ids sort by arrival; a rowid table because bodies are kilobytes (WITHOUT
-- ROWID suits small rows only). Times are INTEGER milliseconds since the Unix
-- epoch, UTC.
CREATE TABLE inbox (
    id          TEXT    NOT NULL PRIMARY KEY,
    body        BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0
);
