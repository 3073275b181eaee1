// Package persistence groups the adapters that keep the engine's state: the
// SQLite store (embedded default), the MongoDB store, the in-process and Redis
// key-value stores (revocations, rate limits, caches), and the contract suites
// every implementation of one interface must pass.
//
// The adapters satisfy interfaces declared by their callers (actors, gateway);
// they return the sentinel errors of package actors wrapped with context.
package persistence
