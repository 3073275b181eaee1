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
// action is handed to the audit log, which never blocks a request.
//
// Sends and conversation commands go to the conversation actors through
// conversation.Ask, which answers the actor's decision (window, closed,
// queue) before anything reaches WhatsApp. An agent writes only to the open
// conversation assigned to them; an agent's template to a customer with no
// open conversation on that business number opens one assigned to the agent.
// A free-form send with no open conversation is refused per business number:
// CONVERSATION_CLOSED when the customer's last conversation on that number
// was closed, OUTSIDE_SERVICE_WINDOW otherwise.
//
// The gateway reaches storage and shared state only through the small
// interfaces declared in deps.go; cmd/engine hands in the concrete types.
package gateway
