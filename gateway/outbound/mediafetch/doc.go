// Package mediafetch brings the media of inbound WhatsApp messages (images,
// audio and voice notes, videos, documents, stickers) into the engine's
// store before Meta forgets them, and shows on each message where its
// medium is.
//
// The conversation actor calls Pending while it applies an inbound media
// message, before the message is stored: a Media record (status pending,
// WhatsApp's media id, linked to the message and its conversation) is
// created under an id derived from the WhatsApp message id
// (InboundMediaID), and the message is stored showing {id, status:
// "pending"}. Once it is stored, the actor calls Fetch. A worker then looks
// the medium up (GET /{media-id}: a download URL valid for minutes, the
// type, SHA-256 and size), downloads it with the access token, streaming it
// into the MediaBlobs under its SHA-256 while checking length and digest
// (the webhook's digest when the message carries one), records the medium
// stored (size, type, digest, display filename), sets the message's media
// summary (SetMessageMedia) and publishes message.updated with the message
// on the event bus, so the agents who may see the conversation see the
// attachment arrive.
//
// Guarantees:
//   - Nothing is silently lost. The record is written before the message,
//     so a stored message with a medium always has its record; a record
//     whose message was never stored (the process died in between) is
//     taken over by the message of the webhook's redelivery. Every attempt
//     is counted in the record before it is made. Pending records are read
//     back at start and every SweepEvery, and those due are fetched, so a
//     restart, a dropped request or a lost retry timer only delays a fetch.
//   - A redelivered webhook never duplicates a medium: same WhatsApp
//     message, same record.
//   - Failures are retried with backoff (RetryBase doubled per attempt up
//     to RetryMax, jittered), each attempt asking for a fresh URL, since
//     URLs expire: 5xx answers, time-outs, transport errors, a 404 or 401 on
//     the download (an expired URL), bytes that do not match the digest, a
//     blob store that failed. A medium fails for good, with the reason in
//     its record and on its message (media.status "failed", media.error),
//     when the lookup is refused in a way no retry mends (Classify's Fail:
//     the id is unknown or expired at WhatsApp, code 100 subcode 33), when
//     it is larger than MaxBytes, when its URL names an untrusted host, or
//     when MaxAttempts attempts failed. Either end publishes
//     message.updated.
//   - Bytes are never held whole in memory and never half-stored: the
//     download streams into MediaBlobs.Put, which keeps nothing of a stream
//     that ends short, long or with another digest.
//   - Bounded: Workers fetches run at once, Queue requests wait; Fetch
//     never blocks (a full queue drops the request, the sweep takes the
//     record). Each attempt is bounded by AttemptTimeout.
//   - Run returns once ctx ended and the attempts in flight returned;
//     an interrupted attempt leaves its record pending for the next run,
//     except that bytes already downloaded are kept (bounded by
//     AttemptTimeout) rather than cut off half-recorded.
//     Several engines sharing one store may fetch the same medium twice;
//     the result is the same record and the same bytes.
package mediafetch
