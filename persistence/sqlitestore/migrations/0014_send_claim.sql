-- 0014_send_claim: a send claims its message while its call to the Cloud
-- API is in flight (OutboundStore.ClaimSend), in place of an idempotency
-- record "whatsapp.send:<message id>" beside it: one conditional write on
-- the message instead of a read, a claim and a release. send_owner is NULL
-- while no send holds the message; send_claimed_at is when the claim was
-- first made (a take-over keeps it), send_lease_until when it may be taken
-- over (0 once settled at start-up). The outcome's status write clears all
-- three, as does a re-drive (RequeueFailed).
ALTER TABLE messages ADD COLUMN send_owner TEXT;
ALTER TABLE messages ADD COLUMN send_claimed_at INTEGER;
ALTER TABLE messages ADD COLUMN send_lease_until INTEGER;

-- Claims a process of an earlier version left in idempotency_keys move to
-- their messages, so a send that was in flight when it stopped is still
-- not made twice. Driven by the few claim rows, each message found by id.
UPDATE messages
SET send_owner = CASE WHEN k.owner = '' THEN 'migrated' ELSE k.owner END,
    send_claimed_at = k.created_at,
    send_lease_until = k.lease_until
FROM (SELECT substr(key, 15) AS message_id, owner, created_at, lease_until
      FROM idempotency_keys
      WHERE key >= 'whatsapp.send:' AND key < 'whatsapp.send;' AND status = 0) AS k
WHERE messages.id = k.message_id AND messages.status = 'queued';
DELETE FROM idempotency_keys WHERE key >= 'whatsapp.send:' AND key < 'whatsapp.send;';
