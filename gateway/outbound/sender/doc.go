// Package sender drains the outbound queue into the WhatsApp Cloud API.
//
// Guarantees: a job is acknowledged only after its outcome is persisted
// (the message's status: sent with its wamid, or failed with Meta's code). A
// redelivered job whose message is no longer queued is acknowledged without a
// second send. Each call to the Cloud API is claimed first, on the message
// itself (Store.ClaimSend: one conditional write, owner and a lease of
// claimLease, that also answers what reading the message would: absent,
// dead-lettered; no longer queued, acknowledged); the outcome's status
// write ends the claim, and an answered error that is retried releases
// it (Store.ReleaseSend). So a send costs the store two writes and no read
// (a send naming our medium reads its message first, before touching the
// medium). A job whose message another send holds under a live lease is
// held for the lease; a redelivered job whose claim was left by a process
// that died during the call (its lease ran out, or a SQLite engine settled
// it at start-up) is not sent again: its message is failed ("send outcome
// unknown", it may have reached the customer) and the job dead-lettered,
// so a message reaches Meta at most once even across a crash (an
// operator's re-drive queues it again, claim cleared, and sends it). A job
// is claimed only once its shaper slot came, just before its call, so only
// sends under way at a crash are of unknown outcome; a redelivery of a
// text already sent takes a slot before its claim finds it sent. Sends
// are shaped per business number
// (WHATSAPP_MPS) and serialised per recipient at Meta's pair rate. Errors are
// classified by Meta's code through the engine's one table
// (actors.WhatsAppErrorRule, the same the conversations apply to failed
// status webhooks): retried with exponential backoff and jitter, failed for
// good (the message's error carries the code, the failure kind and a reason
// an agent can act on), or pausing the number (0/190, 368/131031/131042: an
// error log, engine_sender_paused_total{scope="number"} and an operator
// alert to every admin and supervisor) or the recipient on that number
// (131048/131049: scope="recipient"); a throughput limit (130429) holds
// every send of the number for Meta's delay and a pair limit (131056)
// every send to that recipient, so retries do not come back as a storm. Pauses applies the pauses and alerts;
// one Pauses is shared with the conversations, so a failure Meta reports
// late pauses the same shaper. A job whose number or
// recipient is paused is put back untried until the pause ends
// (engine_sends_total{outcome="held"}) without using an attempt, so a long
// outage delays messages but fails none. A job that exhausts its attempts
// by failures is dead-lettered and its message marked failed; one that
// fails for good (a permanent error such as 100, 131026 or 131047) is
// marked failed at once and dead-lettered with Meta's reason ("failed for
// good: <code> <reason>"), so the dead-letter list shows every send that
// did not go out. A job whose handling panics is a failed attempt: the
// panic is logged with its stack (engine_sends_total{outcome="panicked"}),
// the job retried with backoff and dead-lettered with "handler panicked:
// ..." once its attempts are spent; the sender keeps going. (Builds with
// the faults tag add a job kind, JobFaultsPanic, that panics on purpose.)
//
// Our media travel on the same queue. An upload job (actors.JobMediaUpload)
// streams the medium's bytes from the byte store to the business number's
// media endpoint and records WhatsApp's id (stored → uploading → uploaded,
// or failed with the reason), classified and retried as sends are, its
// attempts counted on the job and the medium. A send naming our medium
// (OutboundJob.MediaID) goes out only with WhatsApp's id of it, fresh for
// its number (uploaded there less than actors.MediaWaLife ago), put into
// the body in place of ours: until then it is held untried (no attempt
// used), so it never races its upload; a medium that waited UploadStall
// for its upload to start (longer while one retries) gets a new upload job,
// so a lost job does not strand the send; a medium whose upload failed, or
// that was deleted, fails the message (kind media, with the reason). A
// dead-lettered upload, re-driven, sends its message again once it
// succeeds.
// MediaPrep readies a medium for a send (the conversations' MediaSends):
// it links it to the message and decides whether an upload is needed.
package sender
