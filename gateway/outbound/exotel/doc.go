// Package exotel is the engine's client of Exotel's Voice v1 API: Connect
// places an agent-to-customer call ("connect two numbers"), Details and
// FindPlaced look calls up (the call actor's call.Lookup), and Classify
// turns a failed connect into retry, fail or unknown. It holds no queue and
// no actor logic; package callsender drains the exotel.outbound queue
// through it:
//
//	placed, err := client.Connect(ctx, exotel.ConnectRequest{CallID: c.ID, From: c.From, To: c.To, ...})
//	switch d := exotel.Classify(err); d.Action {
//	case exotel.Retry:   // nothing placed: requeue after a backoff of at least d.Delay
//	case exotel.Fail:    // refused for good: close the call failed; d.Auth: pause calling
//	case exotel.Unknown: // the call may be placed: look it up before placing it again
//	}
//
// # Requests
//
//   - Connect is one POST to {BaseURL}/v1/Accounts/{sid}/Calls/connect.json,
//     form-encoded: From, To, CallerId, CallType=trans, TimeLimit and
//     TimeOut (when set), Record=true|false, CustomField=<call id>, and with
//     Options.StatusCallback: StatusCallback, StatusCallbackEvents[0]=terminal,
//     StatusCallbackEvents[1]=answered, StatusCallbackContentType=
//     application/json. A request Exotel would refuse (no call id, one
//     longer than 128 characters, TimeLimit above 14400 s) is refused
//     before sending (ErrInvalid).
//   - Details is GET .../Calls/{CallSid}.json?details=true; FindPlaced is
//     GET .../Calls.json filtered by From, To and DateCreated.
//   - Every request carries HTTP basic auth APIKey:APIToken. BaseURL is
//     regional (https://api.exotel.com, https://api.in.exotel.com) by
//     configuration. Exotel's timestamps are read in Options.Location
//     (India Standard Time by default).
//
// # Guarantees
//
//   - A request is made once: the client never retries; net/http replays a
//     request only when nothing of it was written.
//   - A failure says whether the request left: ErrNotSent (Exotel placed
//     nothing) or ErrNoAnswer (it may have). Classify is conservative: a
//     failure that might follow a placed call (a timeout or a reset after
//     sending, 500, 502, 504, a 2xx without a sid) is Unknown, never Retry,
//     so the caller never places a call twice by a guess.
//   - Non-2xx answers are *APIError, decoded from Exotel's
//     {"RestException":{"Status","Message","Code"}}; 401 and 403 are Fail
//     with Auth, 429 and 503 Retry, other 4xx Fail.
//   - Nothing is logged. Error texts name the call id or sid and never
//     carry the request's phone numbers, the credentials or the callback
//     URL (it holds our webhook's secret); an *APIError keeps Exotel's
//     Message, which may repeat a number it refused, so log it at Debug or
//     mask it. Decision.Reason never holds either. At most 4 MiB of an
//     answer is read.
//   - A Client is safe for concurrent use.
package exotel
