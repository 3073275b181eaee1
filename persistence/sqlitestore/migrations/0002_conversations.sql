-- 0002_conversations: conversations, their messages, delivery statuses that
-- arrived before their message, the durable webhook inbox and user
-- notifications.
--
-- Times are INTEGER milliseconds since the Unix epoch, UTC; an optional time
-- that is zero in Go is NULL here. Every index names the query it serves.

CREATE TABLE conversations (
    id               TEXT    NOT NULL PRIMARY KEY,
    customer_id      TEXT    NOT NULL,
    phone_number_id  TEXT    NOT NULL,
    wa_id            TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    -- '' when unassigned, so "unassigned" is an index equality.
    assignee_id      TEXT    NOT NULL DEFAULT '',
    last_inbound_at  INTEGER,
    last_outbound_at INTEGER,
    expires_at       INTEGER,
    next_timer_at    INTEGER,
    warned_at        INTEGER,
    unread           INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    closed_at        INTEGER
);
-- At most one conversation per (business number, customer) is not closed;
-- OpenConversation reads through it.
CREATE UNIQUE INDEX conversations_open_pair ON conversations (phone_number_id, wa_id)
    WHERE state != 'closed';
-- DueConversations and NextTimer: only open conversations with a pending
-- timer are in it, earliest first.
CREATE INDEX conversations_next_timer ON conversations (next_timer_at, id)
    WHERE next_timer_at IS NOT NULL AND state != 'closed';
-- ListConversations without a filter.
CREATE INDEX conversations_updated ON conversations (updated_at, id);
-- ListConversations by states only; CountOpenByAssignee reads the open
-- states' entries, covered thanks to the trailing assignee_id.
CREATE INDEX conversations_state ON conversations (state, updated_at, id, assignee_id);
-- ListConversations by assignee (or unassigned: ''), with or without
-- states.
CREATE INDEX conversations_assignee ON conversations (assignee_id, state, updated_at, id);
-- ListConversations of one customer (other filters checked per row).
CREATE INDEX conversations_customer ON conversations (customer_id, updated_at, id);

-- content and raw are the JSON bytes as given; error is a JSON object or
-- NULL. wa_message_id is '' until WhatsApp accepted an outbound message.
CREATE TABLE messages (
    id              TEXT    NOT NULL PRIMARY KEY,
    conversation_id TEXT    NOT NULL,
    direction       TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    content         BLOB,
    status          TEXT    NOT NULL,
    wa_message_id   TEXT    NOT NULL DEFAULT '',
    seq             INTEGER NOT NULL,
    error           TEXT,
    raw             BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- ListMessages: a conversation's messages newest first, keyset paged.
CREATE INDEX messages_conversation ON messages (conversation_id, created_at, id);
-- MessageByWaID, and webhook redelivery rejected as a duplicate.
CREATE UNIQUE INDEX messages_wamid ON messages (wa_message_id) WHERE wa_message_id != '';

-- One row per (wamid, status); the implicit rowid is the order rows were
-- added in and breaks ties of ts. errors is a JSON array or NULL.
CREATE TABLE pending_statuses (
    wa_message_id   TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    phone_number_id TEXT    NOT NULL,
    recipient_id    TEXT    NOT NULL,
    ts              INTEGER NOT NULL,
    errors          TEXT,
    biz_opaque      TEXT    NOT NULL,
    raw             BLOB,
    PRIMARY KEY (wa_message_id, status)
);
-- TakePendingStatuses: a wamid's statuses oldest first (the index entries
-- end with the rowid, so (ts, rowid) order needs no sort).
CREATE INDEX pending_statuses_order ON pending_statuses (wa_message_id, ts);

-- The durable webhook inbox. Ids sort by arrival; a rowid table because
-- bodies are kilobytes (WITHOUT ROWID suits small rows only).
CREATE TABLE inbox (
    id          TEXT    NOT NULL PRIMARY KEY,
    body        BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE notifications (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    read_at         INTEGER
);
-- ListNotifications of a user, newest first.
CREATE INDEX notifications_user ON notifications (user_id, created_at, id);
-- Unread only: listing, counting and marking all read touch just the
-- unread entries of that user.
CREATE INDEX notifications_unread ON notifications (user_id, created_at, id)
    WHERE read_at IS NULL;
