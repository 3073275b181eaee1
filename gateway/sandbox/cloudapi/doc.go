// Package cloudapi is a fake of Meta's WhatsApp Cloud API, so the engine, its
// tests and its load tests run without a Meta account. It serves the
// send-message and media endpoints with Meta's validation, answers and error
// objects; signed status webhooks posted back to the engine; simulated
// inbound customer messages; and failure injection chosen by the recipient's
// number.
//
// Point the engine's Graph API base URL (https://graph.facebook.com) at the
// sandbox's address, its webhook URL option at the engine's
// POST /api/whatsapp/webhook, and give both the same app secret.
//
// # Endpoints
//
//	POST   /{version}/{phone_number_id}/messages   send (or mark as read); bearer token
//	POST   /{version}/{phone_number_id}/media      upload (multipart: file, type, messaging_product)
//	GET    /{version}/{media_id}                   media URL, mime_type, sha256, file_size
//	DELETE /{version}/{media_id}                   {"success":true}
//	GET    /media/{media_id}                       the bytes; bearer token
//	POST   /sandbox/whatsapp/inbound               {"from","text","phoneNumberId","name"} -> signed inbound webhook
//	GET    /sandbox/whatsapp/sent[?to=][&after=]   {"items":[{"to","type","body","wamid","at","phoneNumberId","seq"}]}
//	DELETE /sandbox/whatsapp/sent                  Reset
//
// {version} is any Graph version such as v21.0. Each provider owns a
// prefix; another one (Exotel's connect-call API) mounts beside these under
// /exotel/... and /sandbox/exotel/....
//
// # Tokens
//
// Any bearer token is accepted except "expired", which is answered like an
// expired session: HTTP 401, code 190, error_subcode 463. A missing token is
// HTTP 401, code 190.
//
// # Validation
//
// The send endpoint validates like the Cloud API: messaging_product is
// "whatsapp"; to is 7 to 15 digits with an optional '+'; recipient_type,
// when present, is "individual"; type (default "text") is one of text,
// image, audio, video, document, sticker, location, contacts, interactive,
// template, reaction, and exactly its object is present and valid (text.body
// 1 to 4096 characters; media exactly one of id or link; template name and
// language.code; interactive type button or list with body and action;
// reaction message_id and emoji, "" removing a reaction). Unknown fields are
// refused. Every refusal is HTTP 400, code 100, message "(#100) Invalid
// parameter", and error_data.details naming the parameter in Meta's style
// (text['body']). Every error answer has Meta's shape:
//
//	{"error":{"message":"(#CODE) Title","type":"OAuthException","code":CODE,
//	  "error_subcode":N,"error_data":{"messaging_product":"whatsapp","details":"..."},
//	  "fbtrace_id":"..."}}
//
// # Failure injection
//
// A valid message is treated by the last four digits of its recipient. The
// "then accept" cases count per recipient wa_id (Reset clears the counts).
//
//	suffix  behaviour
//	0001    always HTTP 400, code 131026 Message undeliverable
//	0002    HTTP 429, code 130429 Rate limit hit, twice; then accepted
//	0003    the first request is held for Options.TimeoutHold (default 30s; less if the
//	        client gives up or Run stops) and the connection is dropped without an
//	        answer; nothing is sent. Then accepted
//	0004    accepted; the delivered callback is posted before sent (then read)
//	0005    HTTP 400, code 131047 Re-engagement message, for every message but a
//	        template (a template is how a business re-engages)
//	0006    HTTP 400, code 131056 pair rate limit hit, once; then accepted
//	0007    HTTP 500, code 1 (API Unknown) then code 2 (API Service); then accepted
//	0008    accepted; sent, then a failed callback with errors[] code 131051
//	        (Unsupported message type) instead of delivered and read
//	other   accepted; sent, delivered, read
//
// # Callbacks
//
// For every accepted message the sandbox posts status webhooks to
// Options.WebhookURL in the Cloud API shape (object / entry / changes /
// value / metadata{display_phone_number, phone_number_id} / statuses[] with
// id, status, timestamp, recipient_id, biz_opaque_callback_data when the
// send had one, conversation{id, origin{type}} and pricing{billable,
// pricing_model, category}), each Options.StatusDelay (plus up to a fifth of
// jitter) after the previous one was answered. Bodies are signed with
// Options.AppSecret in X-Hub-Signature-256 (webhook.Sign) and parse with
// webhook.Parse.
//
// Guarantees:
//   - One message's callbacks arrive in their order: the next is scheduled
//     only after the engine answered the previous one 200 or it was given
//     up. Different messages' callbacks are independent.
//   - A callback not answered 200 is retried with doubling backoff
//     (Options.RetryBackoff, capped at a minute), at most
//     Options.CallbackAttempts posts, the same body each time; then it is
//     logged and the message's next status follows.
//   - Callbacks are posted only while Run runs, by Options.Workers
//     goroutines. At most Options.MaxPendingCallbacks messages have
//     callbacks outstanding; beyond that sends are refused with HTTP 503,
//     code 2, so an engine whose webhook does not keep up sees backpressure
//     instead of the sandbox growing without bound.
//   - Inbound simulation uses the same workers, retries and signature.
//
// # Measuring
//
// Sent lists the accepted messages (bounded by Options.MaxSent, oldest
// dropped) and Rate(phoneNumberID, window) the largest number accepted in
// any window of that length, so a load test can assert the engine never
// exceeded its messages-per-second limit. Every method and handler is safe
// for concurrent use.
package cloudapi
