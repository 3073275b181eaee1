// Package gateway is the engine's HTTP edge: the chi router, the contract's
// JSON envelope, authentication and permission middleware, rate limits, CORS
// and security headers, the auth, user, customer and audit endpoints, health,
// readiness, metrics and the OpenAPI document.
//
// Guarantees: every non-2xx answer uses the contract's error envelope,
// including unknown routes, wrong methods and recovered panics (500 with the
// request id, never internals). Request bodies are bounded and decoded
// strictly into typed structs. Permission checks are declared beside each
// route in the route table (routes.go) and applied as middleware; handlers
// never check roles themselves. Every data-changing or security-relevant
// action is handed to the audit log, which never blocks a request; refused
// authentications (a bad, expired or revoked token on the API or the agent
// socket, a bad or missing webhook signature) are audited through
// audit.Refusals, aggregated per client address, place and reason, so a
// flood of them stays a bounded number of records.
//
// The use cases the gateway shares with the agent sessions (creating users
// and checking their addresses, starting a login session, verifying tokens,
// which conversations a user may see, marking one read) live in gateway/app;
// cmd/engine builds one App and hands it to both.
//
// The gateway reaches storage and shared state only through the small
// interfaces declared in deps.go; cmd/engine hands in the concrete types.
package gateway
