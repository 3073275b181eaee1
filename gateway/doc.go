// Package gateway is the engine's HTTP edge: the chi router, the contract's
// JSON envelope, authentication and permission middleware, rate limits, CORS
// and security headers, the auth, user, customer, media, call and audit
// endpoints, health, readiness, metrics and the OpenAPI document.
//
// The gateway is configured by its own Options (options.go), which
// cmd/engine maps from the engine's configuration; it does not import
// configs.
//
// GET and HEAD of every path outside /api, /ws, /healthz, /readyz,
// /metrics and /sandbox are the agent console's (gateway/console, embedded
// in the binary, with its own Content-Security-Policy); the API's routes and
// answers are unchanged by it.
//
// Guarantees: every non-2xx answer of the API uses the contract's error
// envelope, including unknown routes, wrong methods and recovered panics
// (500 with the request id, never internals). Each route reads at most its own body limit
// (the JSON API's MaxBodyBytes, the signed webhook's WebhookMaxBytes, the
// uploads' files of at most the intake's MaxBytes each), never another's; a
// larger body is 413 PAYLOAD_TOO_LARGE, and reading stops at the limit.
// Request bodies are decoded strictly into typed structs; uploads are
// streamed through gateway/media's intake (multipart part by part into spool
// files, never buffered: those two routes apply Idempotency-Key themselves
// once the body is read, identifying the request by its files' digests)
// and kept through actors/mediabytes, and a refused or broken upload leaves
// nothing. Media are served as sandboxed attachments to
// whoever app.MediaVisible lets see them (404 for anyone else).
// /readyz pings every Check it was given (store, Redis, RabbitMQ) and
// answers 503 naming each one that fails; on the API port that is all it
// says, and /metrics needs users:manage. OpsHandler serves the operations
// listener (the engine's METRICS_ADDR, loopback by default): /metrics
// without a token, /readyz with each dependency's state, ping time and
// error, and /healthz. A webhook waits at most 5 s for its inbox write,
// then is answered 503 (Meta retries). Each body is parsed once, after its
// signature is checked over the raw bytes and before it is written; the raw
// bytes are what the inbox stores. Once written, the batch of bodies is
// handed to the inbox dispatcher in memory (Engine.Accepted) with their
// parsed batches, so it need neither read them back nor parse them again.
//
// An Idempotency-Key is claimed for its request with a lease a little
// longer than WriteTimeout (the longest a request may run: its context ends
// there). A repeat while the lease runs is 409 with Retry-After; a repeat
// after it (the claimant's process died) takes the claim over and runs the
// request again. A send's message id is derived from its claim, so such a
// repeat finds the message the dead process stored, if it did, and never
// queues a second. Permission checks are declared beside each
// route in the route table (routes.go) and applied as middleware; handlers
// never check roles themselves. Every data-changing or security-relevant
// action is handed to the audit log, which never blocks a request; refused
// authentications (a bad, expired or revoked token on the API or the agent
// socket, a bad or missing webhook signature) are audited through
// audit.Refusals, aggregated per client address, place and reason, so a
// flood of them stays a bounded number of records.
//
// Sessions end at once, on every node, when a user's token version moves
// (a password change, a role change, the account disabled): every token
// carries the version it was issued under, the stored user's is compared on
// every request (app.Current, through the read cache, which each change
// invalidates on the node that made it before the change is answered), the revocation list holds the previous version's key so
// the refusal holds before a cached user is refreshed (fail closed while
// Redis is down), refresh families of an older version are refused, and the
// user's sockets close with 1008. Passwords on the embedded list of common
// and breached passwords (auth.Breached) are refused at register and
// password change.
//
// The use cases the gateway shares with the agent sessions (creating users
// and checking their addresses, starting a login session, verifying tokens,
// which conversations a user may see, marking one read) live in gateway/app;
// cmd/engine builds one App and hands it to both.
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
// A free-form send naming one of our media ({mediaId}) is checked before
// anything is stored or queued: the medium must be one the caller may see
// (app.MediaVisible; 404 otherwise, as for conversations), have bytes (422
// MEDIA_NOT_READY) and be of a type the message type takes (422
// MEDIA_TYPE_MISMATCH); the send then carries its id to the conversation
// actor, which links the medium and queues its upload before the send.
//
// A template send is first checked against the template registry
// (Engine.Templates, gateway/template) before the recipient is resolved or
// anything is stored: 422 TEMPLATE_NOT_FOUND when the business account has
// no such template in that language, TEMPLATE_NOT_APPROVED when it is not
// approved or a send of it failed since, TEMPLATE_PARAMETERS (one field
// error per problem) when the components do not fit its definition. A
// registry that was never synced, or none at all, leaves sends unchecked.
//
// Calls (Deps.Calls, calls.go, callstats.go, callwebhook.go): an initiate
// is checked (the customer visible to the caller: agents see the customers
// of conversations assigned to them; both phones known) before the call
// actor is asked to start it (actors/call, through call.Directory; 409
// CONFLICT when the agent has a live call). Exotel's status callbacks are
// authenticated by the secret query parameter of their URL (Exotel does
// not sign them; compared in constant time, a refusal audited through
// audit.Refusals and stored nowhere), parsed by gateway/exotelhook, stored
// before the 200 and then applied by the call's actor; statistics are
// computed by the store. Re-driving a dead-lettered call job re-opens its
// call first (call.Requeue). A conversation's calls (GET
// /api/whatsapp/conversations/{id}/calls, a route of calls.go) are shown to
// whoever may see the conversation, checked by the same visible as the
// conversation routes (404 otherwise).
//
// What an authenticated request reads is answered from memory once warm:
// the token's claims (auth), the user and customers decoded once in the
// read cache (over the embedded in-process KV the decoded values are the
// cache; over Redis each read still asks Redis, so another node's
// invalidation holds at once, and only new bytes are decoded), a send's
// customer by phone through a phone index checked against the cached
// customer, and no revocation lookup at all while the in-process list is
// empty (over Redis: one EXISTS per request, as before).
//
// The gateway reaches storage and shared state only through the small
// interfaces declared in deps.go; cmd/engine hands in the concrete types.
package gateway
