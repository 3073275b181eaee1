-- 0007_templates: the message templates of each WhatsApp Business Account
-- (WABA), synced from Meta, and the record of each account's last sync.

-- One row per (account, name, language). components is the definition's
-- JSON array (Meta's format). failed_code is the Cloud API error of a send
-- that marked the template unusable (0: none).
CREATE TABLE templates (
    waba_id          TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    language         TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    category         TEXT    NOT NULL,
    quality          TEXT    NOT NULL,
    parameter_format TEXT    NOT NULL,
    components       TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    failed_code      INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (waba_id, name, language)
) WITHOUT ROWID;

-- TemplateSync: when each account was last synced, and how many it stored.
CREATE TABLE template_syncs (
    waba_id   TEXT    NOT NULL PRIMARY KEY,
    synced_at INTEGER NOT NULL,
    count     INTEGER NOT NULL
) WITHOUT ROWID;
