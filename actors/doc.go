// Package actors holds the engine's value types and the small interfaces its
// actors and edges need from the outside world: users, refresh-token
// families, customers and audit records, and the stores that keep them.
//
// Everything here is plain data. Records are copied by value and never shared
// mutably between goroutines; stores that implement these interfaces live in
// persistence and must be safe for concurrent use. Conditions callers branch on
// are the sentinel errors in errors.go, matched with errors.Is.
//
// Bus is the engine's event fan-out: conversation actors publish the Events of
// what they persisted to it, and agent sockets (SocketEvents) and the assigner
// (EventAgentRequested and the conversation events) subscribe to the types
// they want. It exists before any of them, so each is complete when built;
// Publish takes no lock and allocates nothing.
//
// WhatsAppErrorRule is the one table of Meta's error codes (what the engine
// does about each and what it tells agents), shared by the sender for errors
// answered to a send and by the conversations for errors reported in failed
// status webhooks.
//
// The conversation, agent-session and routing actors live in sub-packages and
// import nothing from HTTP, Mongo, Redis or AMQP.
package actors
