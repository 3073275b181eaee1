// Package outbound is the room of the engine's clients of outside services
// and of the senders that drain the outbound queue into them:
//
//   - whatsapp: the WhatsApp Cloud API client, Meta's error classification,
//     retry backoff and the per-number and per-recipient shaper;
//   - sender: the outbound queue's consumer, which sends each job through
//     the client and persists its outcome before acknowledging it, and
//     uploads our media to the Cloud API before the sends that carry them;
//   - mediafetch: the fetcher that brings the media of inbound messages
//     from the Cloud API into the engine's byte store;
//   - exotel: the Exotel Voice v1 client (connect two numbers, call
//     details) and its conservative error classification;
//   - callsender: the exotel.outbound queue's consumer, which places each
//     call once through the client and tells the call's actor the outcome
//     before acknowledging the job.
//
// Each client is a plain library (no queue, no actor); the senders reach
// the conversations and calls only through actors/conversation's and
// actors/call's Directory, the fetcher only through the store and the
// event bus.
package outbound
