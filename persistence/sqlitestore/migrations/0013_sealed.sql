-- 0013_sealed: encryption at rest (persistence/sealed). With
-- DATA_ENCRYPTION_KEYS set, customers.name, email and attributes and
-- messages.text, content and raw hold sealed values (a string starting with
-- the ASCII record separator, char(30), or bytes starting with it).
--
-- email_hash is the keyed lookup hash (HMAC-SHA256 under DATA_HASH_KEY) of
-- the normalised e-mail, '' when encryption is off or the e-mail is empty;
-- customer search finds an exact e-mail through it.
ALTER TABLE customers ADD COLUMN email_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX customers_email_hash ON customers (email_hash) WHERE email_hash != '';

-- The search index keeps only plaintext: a sealed name or e-mail is indexed
-- as '' (trigrams of ciphertext would match random searches and are of no
-- use). Insert and delete compute the same values, as an external-content
-- FTS5 table requires; rows indexed before this migration were plaintext,
-- which the expressions leave as they are.
DROP TRIGGER customers_fts_insert;
DROP TRIGGER customers_fts_delete;
DROP TRIGGER customers_fts_update;

CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customers_fts (rowid, name, phone, email)
    VALUES (new.seq,
            CASE WHEN substr(new.name, 1, 1) = char(30) THEN '' ELSE new.name END,
            new.phone,
            CASE WHEN substr(new.email, 1, 1) = char(30) THEN '' ELSE new.email END);
END;

CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, name, phone, email)
    VALUES ('delete', old.seq,
            CASE WHEN substr(old.name, 1, 1) = char(30) THEN '' ELSE old.name END,
            old.phone,
            CASE WHEN substr(old.email, 1, 1) = char(30) THEN '' ELSE old.email END);
END;

CREATE TRIGGER customers_fts_update AFTER UPDATE OF name, phone, email ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, name, phone, email)
    VALUES ('delete', old.seq,
            CASE WHEN substr(old.name, 1, 1) = char(30) THEN '' ELSE old.name END,
            old.phone,
            CASE WHEN substr(old.email, 1, 1) = char(30) THEN '' ELSE old.email END);
    INSERT INTO customers_fts (rowid, name, phone, email)
    VALUES (new.seq,
            CASE WHEN substr(new.name, 1, 1) = char(30) THEN '' ELSE new.name END,
            new.phone,
            CASE WHEN substr(new.email, 1, 1) = char(30) THEN '' ELSE new.email END);
END;
