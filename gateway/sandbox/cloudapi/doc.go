// Package cloudapi is a fake of Meta's WhatsApp Cloud API, so the engine, its
// tests and its load tests run without a Meta account. It is as strict and as
// late as the real service: it validates requests as Meta does, answers with
// Meta's bodies and HTTP statuses, reports what Meta reports by webhook only
// by webhook (after accepting the send), keeps the customer service window
// and a message template registry, and posts webhook bodies escaped and
// signed exactly as Meta does. conformance_test.go lists every such behaviour
// with the page of Meta's documentation it follows.
//
// Point the engine's Graph API base URL (https://graph.facebook.com) at the
// sandbox's address, its webhook URL option at the engine's
// POST /api/whatsapp/webhook, and give both the same app secret.
//
// # Endpoints
//
//	POST   /{version}/{phone_number_id}/messages     send (or mark as read); bearer token
//	POST   /{version}/{phone_number_id}/media        upload (multipart: file, type, messaging_product; the
//	                                                 last two may be in the query string)
//	GET    /{version}/{media_id}                     media URL, mime_type, sha256 (hex), file_size
//	DELETE /{version}/{media_id}                     {"success":true}
//	GET    /media/{media_id}?ext=&hash=              the bytes: the URL GET /{media_id} handed out, with the
//	                                                 same bearer token, before it expires (see Media)
//	GET    /{version}/{waba_id}/message_templates    templates: fields, name/status/category/language
//	                                                 filters, limit, after/before cursors, paging
//	POST   /{version}/{waba_id}/message_templates    create: {id, status: PENDING, category}
//	DELETE /{version}/{waba_id}/message_templates    ?name= (every language) [&hsm_id= (that one)]
//	POST   /sandbox/whatsapp/inbound                 simulate customer messages (InboundRequest) -> signed webhook
//	POST   /sandbox/whatsapp/media/{id}/faults       {"fault","count"}: fail the next count downloads (see Media)
//	GET    /sandbox/whatsapp/media/{id}              a stored medium's MediaState (downloads, armed fault)
//	POST   /sandbox/whatsapp/uploads/faults          {"phoneNumberId","fault","count"}: fail the next uploads
//	POST   /sandbox/whatsapp/sends/faults           {"to","fault","count","delayMs"?}: fail the next sends to a wa_id
//	GET    /sandbox/whatsapp/sends/faults?to=       SendAttempts: when each send to that wa_id arrived, the armed fault
//	POST   /sandbox/whatsapp/templates/update        {"id" | "name"+"language", "status"?, "quality"?, "reason"?}
//	GET    /sandbox/whatsapp/sent[?to=][&after=]     {"items":[{"to","type","body","wamid","at","phoneNumberId","seq"}]}
//	DELETE /sandbox/whatsapp/sent                    Reset
//
// {version} is any Graph version such as v21.0; {waba_id} is
// Options.BusinessAccountID (another id is Graph's "does not exist", code
// 100, subcode 33). Graph answers are escaped as Meta escapes (see
// Webhooks); the /sandbox/ controls answer in the engine's envelope
// ({"status":"success","data":...} or VALIDATION_ERROR). Each provider owns a
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
// "whatsapp"; to is 7 to 15 digits after an optional '+', which spaces,
// hyphens and parentheses may separate; recipient_type, when present, is
// "individual"; type (default "text") is one of text, image, audio, video,
// document, sticker, location, contacts, interactive, template, reaction,
// and exactly its object is present and valid (text.body 1 to 4096
// characters; media exactly one of id or link, audio.voice allowed;
// interactive button, list, cta_url, location_request_message or flow with
// their actions; template name, language.code and well-formed components,
// carousel cards[] included; reaction message_id and emoji, "" removing a
// reaction). An object parameter may also be a string holding its JSON
// ("contacts":"[...]"). Unknown top-level keys are ignored, as Graph ignores
// them; an unknown key inside a typed object is refused ("Unexpected key").
// Every refusal is HTTP 400, code 100, message "(#100) Invalid parameter",
// and error_data.details naming the parameter in Meta's style
// (text['body']). Every error answer has Meta's shape:
//
//	{"error":{"message":"(#CODE) Title","type":"OAuthException","code":CODE,
//	  "error_subcode":N,"error_data":{"messaging_product":"whatsapp","details":"..."},
//	  "fbtrace_id":"..."}}
//
// # Templates
//
// The WhatsApp Business Account starts with SeedTemplates (Options.Templates
// replaces them): APPROVED templates with no parameters, positional and named
// body parameters, an IMAGE header, a URL button with a suffix, an OTP
// copy-code authentication template and a carousel, one PAUSED and one
// DISABLED. A created template is PENDING for Options.TemplateReviewDelay,
// then APPROVED, or REJECTED (INVALID_FORMAT) when its name starts with
// "reject_", announced by a message_template_status_update webhook. A
// deleted name cannot be created again for 30 days (subcode 2388023), a
// name and language twice not at all (2388024). The update control (or
// Sandbox.UpdateTemplate) sets a status or quality score and posts
// message_template_status_update and message_template_quality_update in
// Meta's shape. A template send is checked against the registry:
//
//	code    HTTP  when
//	132001  404   no such name in that language, or not APPROVED (PENDING, REJECTED)
//	132015  400   the template is PAUSED
//	132016  400   the template is DISABLED
//	132000  400   a component carries more or fewer parameters than its placeholders,
//	              media header, buttons or carousel cards need
//	132012  400   a parameter of the wrong format (text for an IMAGE header, a positional
//	              parameter for a named template, a button of the wrong sub_type)
//
// # Customer service window
//
// A simulated inbound message opens its customer's window with that business
// number for Options.ServiceWindow (24h). A free-form message (any type but
// template) to a customer outside it, or who never wrote, is accepted with a
// wamid and then fails with a "failed" status carrying 131047, as Meta
// reports it. Options.AssumeWindowOpen treats customers the sandbox never saw
// write as inside the window, for tests and load runs that post inbound
// webhooks to the engine directly; those who wrote through the sandbox are
// still measured. Reset keeps the windows.
//
// # Media
//
// Uploads (POST /{phone_number_id}/media) and the files of simulated
// inbound media messages are kept in memory (Options.MaxMediaBytes each,
// Options.MediaStoreBytes in all, the oldest evicted). As Meta's, a media id
// lives 30 days from its upload (Options.UploadedMediaLife) or 7 days from
// the webhook that carried a customer's (Options.InboundMediaLife); after
// that, and after a DELETE, GET /{media_id} is code 100 subcode 33.
// phone_number_id on GET or DELETE /{media_id} must name the number the
// medium was uploaded on; a customer's medium was uploaded on none, so the
// parameter is refused for it.
//
// GET /{media_id} hands out a download URL valid for Options.MediaURLLife
// (Meta's five minutes) and bound to the access token that asked for it:
// without a token, with another one or with an altered URL the download is
// HTTP 401, code 190; once expired, or its medium gone, HTTP 404. A new
// lookup gives a fresh URL.
//
// A send naming a media id (not a link) is accepted whatever the id, as
// Meta does, and fails with a 131053 status (Media upload error) when the
// id is unknown, expired, uploaded on another business number, or of a
// type the message type does not take (image: jpeg or png; sticker: webp;
// audio and video: their families; document: any supported type).
//
// Download faults are armed per medium for its next N downloads (1 to
// 1000) by POST /sandbox/whatsapp/media/{id}/faults, Sandbox.FailDownloads,
// or "fail":{"fault","count"} in a simulated medium (armed before its
// webhook is posted):
//
//	fault         answer
//	server_error  HTTP 503, code 2 (API Service)
//	not_found     HTTP 404, as an expired URL
//	timeout       held for Options.TimeoutHold (less if the client gives up or Run stops),
//	              then the connection is dropped unanswered
//	corrupt       HTTP 200 with the last byte altered (the digest no longer matches)
//
// A faulted download counts as a download (MediaState.Downloads); a URL or
// token refused before reaching the medium does not.
//
// Upload faults are armed per business number for its next N uploads by
// POST /sandbox/whatsapp/uploads/faults {"phoneNumberId","fault","count"}
// or Sandbox.FailUploads: server_error (HTTP 503, code 2), timeout (held,
// then dropped; nothing stored) or rejected (HTTP 400, code 131053, Media
// upload error).
//
// Send faults are armed per recipient wa_id for its next N sends by
// POST /sandbox/whatsapp/sends/faults {"to","fault","count"} or
// Sandbox.FailSends, answered in Meta's error format before anything is
// accepted: server_error (HTTP 500, code 131000), unavailable (HTTP 503,
// code 2), rejected (HTTP 400, code 100, permanent), rate_limit (HTTP 400,
// code 130429), pair_rate_limit (HTTP 400, code 131056), timeout (held,
// then dropped; nothing sent), or slow with "delayMs" (accepted and
// recorded at once, answered after the delay: a client that dies meanwhile
// sent it without knowing). From the first arming on, every valid send to
// that wa_id is timed (GET /sandbox/whatsapp/sends/faults?to=), so a test
// counts attempts per second. They apply before the suffix table below.
//
// # Failure injection
//
// A valid message is treated by the last four digits of its recipient. The
// "then accept" cases count per recipient wa_id (Reset clears the counts).
// Faults Meta answers synchronously are answered; faults Meta reports by
// webhook are accepted (HTTP 200, a wamid) and arrive as a failed status.
//
//	suffix  when   behaviour
//	0001    async  accepted; then failed with errors[] 131026 Message undeliverable (no sent)
//	0002    sync   HTTP 400, code 130429 Rate limit hit, twice; then accepted
//	0003    sync   the first request is held for Options.TimeoutHold (default 30s; less if the
//	               client gives up or Run stops) and the connection is dropped without an
//	               answer; nothing is sent. Then accepted
//	0004    async  accepted; the delivered callback is posted before sent (then read)
//	0005    async  accepted; then failed with 131047 Re-engagement message, for every message
//	               but a template, whatever the window
//	0006    sync   HTTP 400, code 131056 pair rate limit hit, once; then accepted
//	0007    sync   HTTP 400, code 1 (API Unknown), then HTTP 503, code 2 (API Service); then accepted
//	0008    async  accepted; sent, then failed with 131051 (Unsupported message type)
//	other          accepted; sent, delivered, read (failed 131047 outside the window)
//
// # Webhooks
//
// Status webhooks follow every accepted message in the Cloud API shape
// (object / entry / changes / value / metadata{display_phone_number,
// phone_number_id} / statuses[] with id, status, timestamp, recipient_id,
// biz_opaque_callback_data when the send had one, and on sent and delivered
// conversation{id, origin{type}} and pricing; a read status carries neither,
// a failed one errors[]). Pricing is per-message by default (PricingPMP:
// pricing_model PMP, type free_customer_service for replies and utility
// templates inside the window, regular otherwise, billable accordingly,
// category service or the template's) or conversation-based (PricingCBP).
// Statuses are posted Options.StatusDelay (plus up to a fifth of jitter)
// after the previous one was answered.
//
// Bodies are what Meta sends: ASCII-only JSON with every non-ASCII character
// as a lowercase \uXXXX escape (a surrogate pair beyond the Basic
// Multilingual Plane) and "/" as "\/", signed over exactly those bytes with
// Options.AppSecret in X-Hub-Signature-256 (webhook.Sign) and in the older
// X-Hub-Signature (sha1=...). Updates due at the same moment share one body,
// up to Options.MaxBatch: the statuses and messages of a business number in
// one value, each business number (and each template event) its own entry.
// Bodies parse with webhook.Parse.
//
// POST /sandbox/whatsapp/inbound simulates what a customer sends: the
// original {"from","text","phoneNumberId","name"?} still sends a text; "type"
// and the object it names send an image, audio (voice), video, document or
// sticker (the sandbox stores the file, Data or a generated sample of its
// mime_type, served by the media endpoints; a voice note is audio with
// "voice":true and audio/ogg; codecs=opus, as Meta sends it), a
// location, contacts, an interactive button_reply, list_reply or nfm_reply, a
// template quick-reply button, a reaction (or its removal), an order, a
// system message (number or identity change) or an unsupported message;
// "context" makes it a reply or forward and "referral" a click-to-WhatsApp
// entry; {"messages":[...]} posts several in one body.
//
// Guarantees:
//   - One message's callbacks arrive in their order: the next is scheduled
//     only after the engine answered the previous one 200 or it was given
//     up. Different messages' callbacks are independent.
//   - A callback not answered 200 is retried with doubling backoff
//     (Options.RetryBackoff, capped at a minute), at most
//     Options.CallbackAttempts posts, each time with the same content; a
//     batch that was refused is retried update by update, each on its own
//     schedule. Then it is logged and the message's next status follows.
//   - Callbacks are posted only while Run runs, by Options.Workers
//     goroutines. At most Options.MaxPendingCallbacks messages have
//     callbacks outstanding; beyond that sends are refused with HTTP 503,
//     code 2, so an engine whose webhook does not keep up sees backpressure
//     instead of the sandbox growing without bound. A template's review
//     happens on time even when nothing is posted.
//   - Inbound simulation and template events use the same workers,
//     retries and signatures.
//
// # Measuring
//
// Sent lists the accepted messages (bounded by Options.MaxSent, oldest
// dropped) and Rate(phoneNumberID, window) the largest number accepted in
// any window of that length, so a load test can assert the engine never
// exceeded its messages-per-second limit. Every method and handler is safe
// for concurrent use.
package cloudapi
