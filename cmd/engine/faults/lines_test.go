//go:build faults

package faults

// line is one line of the reliability list (RELIABILITY.md in the brief, kept here
// so the repository is complete on its own): its number, what it attacks, and
// why it does not apply yet when it does not.
type line struct {
	n     int
	title string
	na    string
}

// lines are the 60 lines, by number.
var lines = []line{
	{1, "Truncated JSON, trailing garbage, or two concatenated objects", ""},
	{2, "Body over the limit (API 1 MiB; webhook 3 MB plus margin)", ""},
	{3, "200k nested [ within the size limit", ""},
	{4, "Mass assignment with role, tenant_id, _id, created_by or password_hash in a customer or user body", ""},
	{5, "Wrong types (string for a number, null for a required field, int64 overflow)", ""},
	{6, "Invalid UTF-8 or NUL", ""},
	{7, "{\"phone\":{\"$ne\":\"\"}}, {\"email\":{\"$gt\":\"\"}}, ?q[$regex]=.*, attribute keys $set or a.b", ""},
	{8, "Regex DoS: a search of (a+)+$ or a 10k-character query", ""},
	{9, "E.164: +14155552671 is accepted. 16 digits, letters, 00 prefixes, or numbers with no region", ""},
	{10, "limit=1000000, a negative offset, or sorting by an unknown field", ""},
	{11, "More than 1 MB of headers", ""},
	{12, "An upload declared image/png whose body is HTML, SVG or an EXE", ""},
	{13, "A JPEG+ZIP polyglot, or a JPEG with a script appended", ""},
	{14, "Filenames ../../etc/passwd, a%00.jpg, 1000 characters, or containing an RTL override", ""},
	{15, "A pixel-flood PNG (50000×50000 in a small file) or a zip bomb", ""},
	{16, "No token, or a malformed Bearer header", ""},
	{17, "Expired beyond the leeway, no exp, or nbf/iat in the future", ""},
	{18, "Tampered payload (role changed to admin, signature kept)", ""},
	{19, "alg of none, None or NONE, with or without a signature segment", ""},
	{20, "HS256 token whose HMAC key is our RSA or EC public key", ""},
	{21, "Unknown kid, a kid containing path traversal or SQL, or jku/x5u headers", ""},
	{22, "Wrong iss or aud, or a refresh token presented as an access token (wrong typ)", ""},
	{23, "Refresh R1→R2, then present R1 again", ""},
	{24, "Two parallel refreshes with the same R1", ""},
	{25, "Logout or a revoked jti", ""},
	{26, "Password change, role change or account disabled", ""},
	{27, "Credential stuffing", ""},
	{28, "A password over 72 bytes with bcrypt, or an empty password", ""},
	{29, "An agent calling admin functions (create user, assign role, read audit log, set webhook config, bulk send)", ""},
	{30, "BOLA: agent A reads, patches or deletes B's (or another tenant's) conversation, customer or media via a…", ""},
	{31, "Missing X-Hub-Signature-256, a sha1= prefix, bad hex, or the signature of a different body", ""},
	{32, "A signed payload containing non-ASCII text as \\u escapes", ""},
	{33, "GET verification with the wrong hub.verify_token", ""},
	{34, "The same delivery 10 times, sequentially and concurrently", ""},
	{35, "A valid signed payload replayed 6 days later", ""},
	{36, "Statuses for one wamid arriving read, then delivered, then sent", ""},
	{37, "A batched entry×changes×messages payload with one malformed item", ""},
	{38, "Mongo or RabbitMQ down while a webhook arrives", ""},
	{39, "RabbitMQ restarted during a 1000-message outbound burst", ""},
	{40, "Publishing to a deleted queue or binding with mandatory=true", ""},
	{41, "Consumer killed after calling the WhatsApp API but before acking", ""},
	{42, "WhatsApp mock returns 500 or 503, or times out", ""},
	{43, "WhatsApp 429, 130429 or 131056", ""},
	{44, "A poison message (unparseable, or one that makes the handler panic)", ""},
	{45, "Redis down", ""},
	{46, "Mongo unavailable, or a primary stepdown in a replica set", "MongoDB replica sets and primary stepdown: no MongoDB server here, only FerretDB (no replica set); the unavailable half is line 47's"},
	{47, "Mongo slowed past the deadline", ""},
	{48, "SIGKILL in the middle of a conversation", ""},
	{49, "SIGTERM", ""},
	{50, "An actor panics", ""},
	{51, "An Exotel API timeout followed by a retry", ""},
	{52, "Client clock ±5 min off", ""},
	{53, "Two engine instances receive events for one conversation (once multi-instance is supported)", "multi-node: applies when the cluster lands (issue 15)"},
	{54, "500 concurrent signed webhooks, 30 % of them duplicates", ""},
	{55, "2000 WebSocket clients with fan-out", ""},
	{56, "WebSocket without a token", ""},
	{57, "A burst above the rate limit", ""},
	{58, "100 concurrent uploads near the size limit", ""},
	{59, "CORS preflight from evil.example", ""},
	{60, "Security headers are present on 200, 4xx, 5xx and 404 responses, and on the media download route (nosniff,…", ""},
}
