package actors

import "context"

// Store is everything the engine keeps durably. SQLite and MongoDB implement
// it and pass the same contract suite (persistence/storetest).
type Store interface {
	UserStore
	TokenStore
	CustomerStore
	AuditStore
	// Ping reports whether the backing database answers.
	Ping(ctx context.Context) error
	// Close releases the store; safe to call twice.
	Close() error
}
