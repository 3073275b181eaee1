-- 0008_media: the media the engine keeps (uploads and inbound media; their
-- bytes are in the media blob store under sha256) and the medium each
-- message carries.

-- sha256 is empty while an inbound medium is pending. wa_uploaded_at is
-- NULL while zero. conversation_id and message_id are empty while the
-- medium is unlinked.
CREATE TABLE media (
    id                 TEXT    NOT NULL PRIMARY KEY,
    filename           TEXT    NOT NULL,
    mime_type          TEXT    NOT NULL,
    size               INTEGER NOT NULL,
    sha256             TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    error              TEXT    NOT NULL,
    wa_media_id        TEXT    NOT NULL,
    wa_phone_number_id TEXT    NOT NULL,
    wa_uploaded_at     INTEGER,
    uploader_id        TEXT    NOT NULL,
    conversation_id    TEXT    NOT NULL,
    message_id         TEXT    NOT NULL,
    attempts           INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) WITHOUT ROWID;

-- CountMediaBySHA256: are these bytes still referenced?
CREATE INDEX media_sha256 ON media (sha256);
-- MediaByStatus: oldest first within a status.
CREATE INDEX media_status_updated ON media (status, updated_at, id);

-- The actors.MessageMedia JSON of the message's medium; NULL for messages
-- without one.
ALTER TABLE messages ADD COLUMN media TEXT;
