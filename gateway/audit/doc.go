// Package audit is the asynchronous path from request handlers to the
// audit store. Log.Record never blocks and never fails the caller; records
// are written in batches by one goroutine.
//
// Guarantees: no record is dropped silently. While the store is slow or down,
// records wait in a bounded in-memory buffer and the batch is retried with
// backoff (engine_audit_retries_total). Only when the buffer is full is a record
// dropped, and then it is counted (engine_audit_dropped_total) and logged at
// error level. Run flushes what it holds before it returns, bounded by the
// flush timeout. Appends are idempotent by record id, so a retried batch that
// partly landed is stored once.
//
// Refusals sits in front of a Log for refused authentications (bad, expired
// or revoked tokens on the API and the agent socket, bad webhook
// signatures): the first refusal of a (source, place, reason) is recorded at
// once, later ones are counted and written as at most one summary record per
// window, and the keys it tracks are capped, so a flood of refusals can fill
// neither the audit log nor memory. Every refusal is in exactly one record's
// count.
package audit
