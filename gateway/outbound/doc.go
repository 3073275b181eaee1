// Package outbound is the room of the engine's clients of outside services
// and of the senders that drain the outbound queue into them:
//
//   - whatsapp: the WhatsApp Cloud API client, Meta's error classification,
//     retry backoff and the per-number and per-recipient shaper;
//   - sender: the outbound queue's consumer, which sends each job through
//     the client and persists its outcome before acknowledging it.
//
// Each client is a plain library (no queue, no actor); each sender reaches
// the conversations only through actors/conversation's Directory.
package outbound
