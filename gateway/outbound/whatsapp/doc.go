// Package whatsapp is the engine's client of the WhatsApp Cloud API and the
// rules for sending through it: Client posts one message (and lists a
// business account's templates, uploads and downloads media), Classify turns a
// failure into retry, fail or pause, Backoff spaces the retries, and Shaper
// keeps every business number under Meta's throughput and pair-rate limits.
// It holds no queue and no actor logic; the sender that drains the outbound
// queue wires these pieces together:
//
//	if err := shaper.Wait(ctx, job.PhoneNumberID, job.To); err != nil {
//		d := whatsapp.Classify(err) // paused or budget down: Retry
//		delivery.Retry(whatsapp.Backoff(job.Attempt, d.Delay), d.Reason)
//		return
//	}
//	wamid, err := client.Send(ctx, job.PhoneNumberID, job.Body)
//	switch d := whatsapp.Classify(err); d.Action {
//	case whatsapp.Retry: // requeue after Backoff(job.Attempt, d.Delay)
//	case whatsapp.Fail: // record failed with d.Code; d.WindowClosed: expire the conversation
//	case whatsapp.PauseNumber: // shaper.PauseNumber(.., now+d.Delay), error log, metric, requeue
//	case whatsapp.PauseRecipient: // shaper.PauseRecipient(.., now+d.Delay), requeue
//	}
//
// # Client guarantees
//
//   - One Send is one POST to {BaseURL}/{Version}/{phoneNumberID}/messages
//     with "Authorization: Bearer <token>" and the body byte for byte. Send
//     never retries; net/http replays the request only when nothing of it
//     was written.
//   - 2xx: the wamid of messages[0].id, or an error wrapping ErrNoMessageID.
//     Other statuses: an *APIError decoded from Meta's error object (Code is
//     NoCode when the body has none). No answer (connect, TLS, reset, the
//     HTTP client's 15 s default timeout, the caller's deadline): an error
//     wrapping ErrTransport, which keeps the cause for errors.Is.
//   - Nothing is logged. Error texts name the phone_number_id and carry
//     Meta's error text, never the request body or a recipient's number.
//     At most 1 MiB of any answer is read.
//
// # Template listing
//
// MessageTemplates lists a business account's templates (the template
// registry's sync): GET {BaseURL}/{Version}/{wabaID}/message_templates,
// TemplatePageSize at a time, following paging.cursors.after while the
// answer has paging.next, with the same token and at most MaxTemplatePages
// pages. It returns the whole list or an error (an *APIError, ErrTransport,
// ErrTooManyPages), never part of it; at most 16 MiB of a page is read.
//
// # Media
//
// UploadMedia POSTs one file to {BaseURL}/{Version}/{phoneNumberID}/media as
// Meta's endpoint takes it (multipart: messaging_product, type, file with
// its filename and type), streaming exactly size bytes from the caller's
// reader under an exact Content-Length, and returns Meta's media id (an
// answer without one wraps ErrNoMediaID, which Classify retries).
// MediaURL is GET {BaseURL}/{Version}/{mediaID} (no phone_number_id: Meta
// refuses it for a customer's medium) and returns the short-lived download
// URL with the type, hex SHA-256 and size. Download GETs that URL with the
// token and returns a stream that is bounded (ErrMediaTooLarge past
// Expect.MaxBytes, at once for a larger Content-Length) and, at its end,
// checked (ErrMediaDigest for another length or digest), so a caller that
// stores what it reads keeps nothing of bad bytes. The token goes only to
// BaseURL's host and the media hosts (DefaultMediaHosts: Meta's), over
// https unless BaseURL is http (the sandbox); another URL is
// ErrMediaURLHost. Uploads and downloads get 10 minutes
// (DefaultMediaTimeout) with the default HTTP client, not a message's 15 s.
// Errors otherwise are those of Send: *APIError (404 from
// Download: the URL expired, ask MediaURL again; code 100 subcode 33 from
// MediaURL: the id is unknown or expired) and ErrTransport; none retries.
//
// # Classification guarantees
//
// Classify is a pure function of the error, safe for concurrent use and
// free of allocations except the reason text of an unknown code. It keys on
// Meta's error code through the engine's one table of codes
// (actors.WhatsAppErrorRule), which the conversations also apply to the
// errors[] of a failed status webhook, and never on the HTTP status: a code
// outside the table fails as "unknown code N" under any status. The status
// decides only for answers that carry no Meta code at all (a proxy's 5xx or
// 429 retry, anything else fails as "http N"). See Classify, and Decision
// for what each field asks of the caller.
//
// # Shaper guarantees
//
//   - Number budget: per business number and Shaper, Wait grants at most one
//     send per 1s/MPS, measured at the moment of the grant, so any half-open
//     one-second window holds at most MPS grants (a closed window can hold
//     MPS+1: one at each end). There is no burst. Timer lateness only ever
//     spaces grants further apart, so the sustained rate is at most MPS.
//     Numbers never wait for one another.
//   - Shared budget: with ShaperOptions.Limiter set, each grant also takes
//     one unit of the Budget under "mps:<phoneNumberID>" with perMinute =
//     MPS*60, so all nodes together stay within MPS on average. The local
//     pacing still applies per node. Note that a Budget like rediskv's
//     (redis_rate.PerMinute) allows a burst of perMinute on a fresh or idle
//     key, so across N nodes an idle number may briefly send up to N×MPS in
//     one second; each node alone never exceeds MPS.
//   - Pair rate: for one (number, recipient) pair, Waits are served one at a
//     time; PairBurst of them may be granted back to back, then one per
//     PairInterval (GCRA). A recipient waiting out its interval does not
//     hold up other recipients of the number.
//   - Pauses: while a number or a (number, recipient) pair is paused, Wait
//     returns a *PausedError (errors.Is ErrPaused) at once with the time
//     remaining, so the caller requeues instead of holding a worker; a
//     pause set while Waits are blocked wakes them to return it. Pauses only
//     extend; ResumeNumber and ResumeRecipient lift them.
//   - Cancellation: Wait returns ctx.Err() as soon as ctx ends, wherever it
//     is blocked, and a Wait that returns an error grants nothing.
//   - Memory: per-recipient state is dropped once nobody waits on it and it
//     has been idle for PairInterval×PairBurst (checked at most once per
//     PairInterval), and expired recipient pauses with it; a dropped entry
//     behaves exactly like a fresh one. Per-number state lives as long as the
//     Shaper (there are few numbers).
//   - Concurrency: every method is safe for concurrent use. No goroutines
//     are started; a blocked Wait holds one timer.
package whatsapp
