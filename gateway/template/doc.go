// Package template keeps the engine's copy of a WhatsApp Business Account's
// message templates and checks template sends against it before anything is
// queued, so a send Meta would refuse for its template (132000, 132001,
// 132005, 132007, 132012, 132015, 132016) is refused by the engine instead.
//
// Registry holds the templates of one business account (every business
// number of the engine sends from it) in a Store:
//
//   - Run syncs at start, every Interval, and on request (template webhooks,
//     no sooner than MinGap after the last sync); Sync (an admin's) lists
//     Meta's message_templates through the Lister and replaces the
//     account's templates in one step: readers see the old set or the new
//     one, and a failed sync leaves the old one. Syncs never overlap. A sync
//     is Meta's word on every template: it clears what webhooks and failed
//     sends marked since the listing began.
//   - ApplyTemplateEvent applies message_template_status_update (APPROVED
//     and REINSTATED make a template usable again, PAUSED, DISABLED,
//     REJECTED, PENDING, ... make it unusable) and
//     message_template_quality_update at once, then asks for a sync.
//   - TemplateFailed records a send Meta refused for its template: 132015
//     pauses it, 132016 disables it, 132001 removes it, any other code flags
//     it; later sends are refused until a sync or a status webhook says it
//     is usable.
//   - Resolve answers a send: the template, or the languages it exists in,
//     or that the account was never synced (then the send goes unchecked:
//     the registry cannot tell, and Meta's answer is handled as before).
//
// Check compares a send's components (Meta's format) with a template's
// definition and lists every mismatch as a Problem naming the request
// field: header parameters and media kind, body parameters (count,
// positional {{1}} or named {{first_name}} with parameter_name, types
// text/currency/date_time, Meta's rules on parameter text, the rendered
// length of header and body), buttons by index (quick_reply payload, URL
// suffix of a dynamic URL, copy_code coupon_code, the code of an OTP
// button, no component for phone-number and static-URL buttons), carousel
// cards (as many as the template's, each checked like a template) and the
// expiration of a limited-time offer. Check is a pure function, safe for
// concurrent use, and never fails: components it cannot decode are
// problems too. Button and header kinds newer than this package are left
// to Meta.
//
// Every method of Registry is safe for concurrent use; errors wrap the
// store's (actors.ErrUnavailable when it is down).
package template
