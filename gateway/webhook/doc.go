// Package webhook turns a WhatsApp Cloud API webhook POST into the engine's
// typed values: it checks the X-Hub-Signature-256 header (VerifySignature,
// Sign) and decodes Meta's payload into an actors.WebhookBatch (Parse).
//
// It is the "fast and dumb" first step of the webhook handler: no I/O, no
// logging, no state. The HTTP handler verifies, parses, drops duplicates and
// hands the batch to the actors.
//
// # Signature guarantees
//
//   - VerifySignature computes HMAC-SHA256 of the raw body with the app
//     secret and compares it to the header in constant time (hmac.Equal).
//   - It answers false, never panics, for an empty secret, a missing header,
//     a header without the "sha256=" prefix, or a digest that is not 64 hex
//     digits.
//
// # Parse guarantees
//
//   - Parse returns an error only when the body is not a single JSON value,
//     or is not an object whose "object" is "whatsapp_business_account". That
//     error wraps ErrMalformed. Everything else is tolerated: unknown message
//     types, unknown fields, fields of an unexpected JSON type (left at their
//     zero value) and non-object entries in messages[] or statuses[] (skipped).
//   - Order: Messages and Statuses keep body order (entry by entry, change by
//     change, element by element); Errors and Other likewise.
//   - Nothing is dropped: every messages[] and statuses[] object of a change
//     whose field is "messages" becomes one InboundMessage or StatusUpdate with
//     the whole object in Raw; every change with another field (or none, or
//     that is not even an object) is kept as its raw JSON in Other;
//     value-level errors[] become Errors tagged with the business number's
//     phone_number_id.
//   - Message fields: Type is Meta's type as sent (unknown values included);
//     Content is the raw value under the key named by Type (nil when absent
//     or null); Text is a short rendering of at most MaxTextBytes bytes, cut on
//     a UTF-8 boundary (see render.go for the per-type rules); Timestamp is
//     the unix-seconds string (or number) in UTC, zero when absent, not an
//     integer, not positive or after year 9999.
//   - Customer identity: WaID is messages[].from when it is all digits. When
//     from is absent or not digits (Meta's documentation samples use
//     placeholders, and users with usernames may have no phone number), WaID
//     comes from the matching contacts[] entry's wa_id. A contact matches by
//     wa_id, else by user_id equal to from_user_id (or to from), else it is
//     the only contact of the change provided it contradicts neither the
//     sender's wa_id nor from_user_id. ProfileName, UserID and ParentUserID
//     come from that contact; from_user_id/from_parent_user_id on the message
//     win over the contact's user_id/parent_user_id. When Meta sends only a
//     business-scoped user id (BSUID), WaID is empty and UserID is set:
//     callers must key such customers by UserID.
//   - Status fields: Pricing is the status's pricing object (billable,
//     pricing_model, category and, under per-message pricing "PMP", type);
//     old conversation-based ("CBP") bodies parse the same way without a
//     type. It is nil when the status carries none.
//   - Template webhooks (message_template_status_update,
//     message_template_quality_update, message_template_components_update,
//     template_category_update) stay in Other and are also decoded into
//     Templates, in body order, with the entry's id as BusinessAccountID,
//     the entry's time, the event and quality upper-cased, the reason
//     (other_info.title when the reason is NONE or absent), the category
//     (new_category on a category change), and the language written with
//     an underscore (Meta's en-US is en_US). A change
//     whose value is not an object or names no template is only in Other.
//   - Results never alias body: the caller may reuse the buffer after Parse
//     returns. Parse is safe for concurrent use and never panics (fuzzed).
package webhook
