-- 0003_outbound: recovery of queued sends and Idempotency-Key answers.

-- QueuedOutbound: outbound messages still queued, oldest first.
CREATE INDEX messages_queued_outbound ON messages (created_at, id)
    WHERE status = 'queued' AND direction = 'outbound';

-- One row per Idempotency-Key (already scoped by user and route by the
-- caller). status 0 while the first request runs; body is its answer.
CREATE TABLE idempotency_keys (
    key          TEXT    NOT NULL PRIMARY KEY,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
-- DeleteExpiredIdempotency.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
