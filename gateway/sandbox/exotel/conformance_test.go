package exotel

import (
	"testing"
)

// Exotel's documentation pages the sandbox follows (the conformance table
// names them per behaviour).
const (
	docConnect       = "developer.exotel.com/docs/voice-v1/api-reference/connect-two-numbers (POST /v1/Accounts/<sid>/Calls/connect; From, To, CallerId required; CallType trans; TimeLimit max 14400; CustomField max 128 chars); developer.exotel.com/api/make-a-call-api (form-data body; .json for a JSON answer)"
	docAuth          = "developer.exotel.com/api/ (HTTP Basic authentication: API key as user, API token as password)"
	docErrors        = "developer.exotel.com/docs/sms-support/sms-api-errors ({\"RestException\":{\"Status\",\"Message\",\"Code\"}}, UNAUTHORIZED, INVALID_ACCOUNT_SID); developer.exotel.com/docs/references/error-codes (400, 401, 403, 429, 500, 502, 503)"
	docRateLimit     = "developer.exotel.com/api/ (Rate Limits: Voice APIs 200 calls a minute, then HTTP 429)"
	docStatusCB      = "developer.exotel.com/docs/voice-v1/api-reference/status-callback (default fields CallSid, DateUpdated, Status, RecordingUrl; with StatusCallbackEvents terminal/answered also EventType, DateCreated, To, From, PhoneNumberSid, StartTime, EndTime, ConversationDuration, Direction, CustomField, Legs)"
	docWebhooks      = "developer.exotel.com/docs/references/webhooks (answer 200 within 15 s; a non-2xx is retried up to 2 times; fall back to the Details API; Exotel does not sign callbacks)"
	docCallDetails   = "developer.exotel.com/docs/voice-v1/api-reference/call-details (GET /v1/Accounts/<sid>/Calls/<CallSid>.json, ?details=true with ConversationDuration, Leg1Status, Leg2Status, Legs[].Leg{Id,OnCallDuration}; bulk GET .../Calls with Sid, To, From, Status, PageSize ≤ 100 and no CustomField filter)"
	docCallStatuses  = "developer.exotel.com/docs/references/error-codes (Call Status Values: queued, ringing, in-progress, completed, failed, busy, no-answer, canceled)"
	docTimeFormat    = "developer.exotel.com/api/statuscallback (times as YYYY-MM-DD HH:mm:ss)"
	sandboxOwnChoice = "the sandbox's own rule (not documented by Exotel)"
)

// conformance is one row per behaviour the sandbox shares with Exotel,
// with the page it follows. A row's test is the evidence.
var conformance = []struct {
	behaviour string
	source    string
	test      func(t *testing.T)
}{
	{"connect answers 200 {\"Call\":{Sid, ParentCallSid, DateCreated, ..., Status \"in-progress\", Uri, RecordingUrl}} with nulls for what is not known yet",
		docConnect + "; " + docCallDetails, testConnectAnswersExotelsCallObject},
	{"basic auth with the API key and token; another account's sid refused; 401 RestException", docAuth + "; " + docErrors, testAuthRefusals},
	{"connect takes form data; From, To, CallerId required; CallType trans; TimeLimit ≤ 14400; CustomField ≤ 128; events terminal/answered only; 400 RestException; a CallerId that is not one of the account's ExoPhones is 403 (the sandbox's choice: Exotel names the 403 case, not the field)",
		docConnect + "; " + docErrors, testFieldChecks},
	{"busy, no-answer, failed and completed calls end with those statuses; answered then terminal callbacks in JSON with Exotel's field names, ConversationDuration a number, times YYYY-MM-DD HH:mm:ss",
		docStatusCB + "; " + docCallStatuses + "; " + docTimeFormat, testOutcomesBySuffix},
	{"multipart/form-data callbacks (the default), Legs as Legs[i][Field]", docStatusCB + "; " + sandboxOwnChoice + " (the form encoding of Legs)", testFormCallbacks},
	{"without StatusCallbackEvents only the terminal callback, with the four default fields", docStatusCB, testDefaultCallbackWithoutEvents},
	{"a callback not answered 2xx is retried up to 2 times", docWebhooks, testCallbackRetriedTwice},
	{"a lost terminal callback is settled by the details endpoint, which answers the final state", docWebhooks + "; " + docCallDetails, testTerminalCallbackNeverComesButDetailsSettle},
	{"details with legs once over, 404 for an unknown sid; bulk lookup by To/Sid/Status, no CustomField filter", docCallDetails, testDetailsLookups},
	{"a connect that times out may still have placed the call (a retry places another); found again by To in the bulk details", docCallDetails + "; " + sandboxOwnChoice, testConnectTimeoutStillPlacesTheCall},
	{"429 past the rate, 5xx on server trouble", docRateLimit + "; " + docErrors, testArmedFaults},
}

func TestConformance(t *testing.T) {
	for _, row := range conformance {
		t.Run(row.behaviour, func(t *testing.T) {
			if row.source == "" {
				t.Fatal("a conformance row must name its source")
			}
			t.Logf("source: %s", row.source)
			row.test(t)
		})
	}
}
