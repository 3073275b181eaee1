-- 0004_idempotency_lease: an Idempotency-Key claim has an owner and a lease.
-- A claim left unanswered by a process that died is taken over by a repeat
-- once its lease has run out (or at once after SettleIdempotencyClaims).
-- Claims written before this migration have lease_until 0: already out.
ALTER TABLE idempotency_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
