-- 0010_calls: calls placed through Exotel (actors.Call) and the status
-- callbacks Exotel posts about them (actors.CallEvent).

-- Optional times (deadline_at, next_lookup_at, connect_started_at,
-- last_event_at, answered_at, ended_at) are NULL while zero. exotel_sid is
-- '' until Exotel accepted the call.
CREATE TABLE calls (
    id                 TEXT    NOT NULL PRIMARY KEY,
    customer_id        TEXT    NOT NULL,
    agent_id           TEXT    NOT NULL,
    conversation_id    TEXT    NOT NULL,
    from_phone         TEXT    NOT NULL,
    to_phone           TEXT    NOT NULL,
    caller_id          TEXT    NOT NULL,
    record             INTEGER NOT NULL,
    state              TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    exotel_sid         TEXT    NOT NULL,
    duration_sec       INTEGER NOT NULL,
    recording_url      TEXT    NOT NULL,
    reason             TEXT    NOT NULL,
    time_limit         INTEGER NOT NULL,
    time_out           INTEGER NOT NULL,
    deadline_at        INTEGER,
    next_lookup_at     INTEGER,
    lookup_attempts    INTEGER NOT NULL,
    connect_started_at INTEGER,
    last_event_at      INTEGER,
    answered_at        INTEGER,
    ended_at           INTEGER,
    started_at         INTEGER NOT NULL,
    version            INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) WITHOUT ROWID;

-- CallStatistics: every call of a time range, or one agent's. Both carry
-- what the statistics read (agent, status, talk time), so counting a range
-- reads the index alone, never the table.
CREATE INDEX calls_started ON calls (started_at, agent_id, status, duration_sec);
CREATE INDEX calls_agent_started ON calls (agent_id, started_at, status, duration_sec);
-- CallsOfCustomer: newest first, keyset paged.
CREATE INDEX calls_customer_started ON calls (customer_id, started_at, id);
-- CallByExotelSid; a CallSid names one call.
CREATE UNIQUE INDEX calls_exotel_sid ON calls (exotel_sid) WHERE exotel_sid != '';
-- One agent has at most one live call; LiveCallOfAgent.
CREATE UNIQUE INDEX calls_live_agent ON calls (agent_id) WHERE state != 'closed';
-- LiveCalls, oldest first.
CREATE INDEX calls_live_started ON calls (started_at, id) WHERE state != 'closed';

-- applied_at is NULL until the call's actor applied (or ignored) the
-- callback. body is the callback as received, byte for byte.
CREATE TABLE call_events (
    id            TEXT    NOT NULL PRIMARY KEY,
    call_id       TEXT    NOT NULL,
    call_sid      TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    duration_sec  INTEGER NOT NULL,
    recording_url TEXT    NOT NULL,
    date_updated  INTEGER,
    body          BLOB    NOT NULL,
    received_at   INTEGER NOT NULL,
    applied_at    INTEGER
) WITHOUT ROWID;

-- UnappliedCallEvents, oldest first: only callbacks not applied yet.
CREATE INDEX call_events_unapplied ON call_events (received_at, id) WHERE applied_at IS NULL;
