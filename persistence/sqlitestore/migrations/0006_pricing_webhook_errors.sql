-- 0006_pricing_webhook_errors: what Meta charges per outbound message (the
-- pricing object of its status webhooks) and the value-level errors[] of
-- webhooks, kept for operators.
--
-- pricing_billable is NULL until a status carried pricing: it marks the
-- priced messages. pricing_phone_number_id is the business number that sent
-- the message, so the per-category count of one number reads messages alone.
ALTER TABLE messages ADD COLUMN pricing_billable INTEGER;
ALTER TABLE messages ADD COLUMN pricing_model TEXT;
ALTER TABLE messages ADD COLUMN pricing_category TEXT;
ALTER TABLE messages ADD COLUMN pricing_type TEXT;
ALTER TABLE messages ADD COLUMN pricing_phone_number_id TEXT;
-- CountPricing: the priced messages of a time range.
CREATE INDEX messages_priced ON messages (created_at) WHERE pricing_billable IS NOT NULL;

-- error is the WhatsApp error as JSON; ids are derived from the inbox entry,
-- so applying a body twice stores each error once.
CREATE TABLE webhook_errors (
    id              TEXT    NOT NULL PRIMARY KEY,
    phone_number_id TEXT    NOT NULL,
    error           TEXT    NOT NULL,
    received_at     INTEGER NOT NULL
);
-- ListWebhookErrors: newest first, of every number or of one.
CREATE INDEX webhook_errors_received ON webhook_errors (received_at, id);
CREATE INDEX webhook_errors_number ON webhook_errors (phone_number_id, received_at, id);
