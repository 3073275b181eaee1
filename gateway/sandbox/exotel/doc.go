// Package exotel is a sandbox of Exotel's Voice v1 API: the "connect two
// numbers" call, the call-details lookups and the status callbacks, as
// strict and as late as Exotel, so that the engine's calls can be driven
// end to end without an Exotel account.
//
// # The API
//
//	POST /v1/Accounts/{sid}/Calls/connect.json   From, To, CallerId, CallType, TimeLimit, TimeOut,
//	                                             Record, CustomField, StatusCallback,
//	                                             StatusCallbackEvents[0..1], StatusCallbackContentType
//	GET  /v1/Accounts/{sid}/Calls/{CallSid}.json call details (?details=true: legs)
//	GET  /v1/Accounts/{sid}/Calls.json           bulk details by Sid, To, From, Status
//
// Every request needs HTTP basic auth with Options.APIKey:APIToken and the
// account's sid (401 otherwise). Connect takes form data only and checks it
// as Exotel does: From, To and CallerId present and phone numbers, CallerId
// one of the account's ExoPhones (403 otherwise), CallType "trans",
// TimeLimit 1..14400, TimeOut, Record true/false, CustomField at most 128
// characters, StatusCallback an http(s) URL, StatusCallbackEvents only
// "terminal" and "answered", StatusCallbackContentType application/json or
// multipart/form-data (the default). A refused field is a 400 with
// Exotel's error body {"RestException":{"Status","Message","Code"}}. An
// accepted call answers 200 {"Call":{...,"Status":"in-progress"}}.
// Only the .json forms are served (Exotel answers XML without it).
//
// # A call's life and its callbacks
//
// After Options.RingDelay (plus jitter) the call is answered or fails;
// after Options.TalkDelay more an answered call completes, reporting
// Options.TalkSeconds of conversation. A call with a StatusCallback gets
// the terminal callback (the final Status) and, when StatusCallbackEvents
// names it, the answered one first (Status "in-progress"). With
// StatusCallbackEvents they carry the extended fields (EventType,
// DateCreated, To, From, PhoneNumberSid, StartTime, EndTime,
// ConversationDuration, Direction, CustomField, Legs); without, only
// CallSid, DateUpdated, Status and RecordingUrl.
// JSON or multipart form (Legs as Legs[i][Field]) as the call asked. A
// callback not answered 2xx is retried twice (Options.CallbackAttempts),
// as Exotel does. Exotel does not sign callbacks: a receiver must
// authenticate them by a secret in the StatusCallback URL.
//
// # Outcomes by the customer number
//
// The last four digits of To choose the outcome, so every path can be
// driven from a test or by hand:
//
//	0005  busy        the customer's leg is busy; terminal Status busy
//	0006  no-answer   the customer does not pick up; terminal Status no-answer
//	0007  failed      the customer's leg fails; terminal Status failed
//	0008  lost        completed, the answered callback comes but the terminal one never
//	                  does; the details endpoint answers "completed" once the call is over
//	0009  timeout     the call is placed (and completes, with its callbacks), but the
//	                  connect request is held past the client's timeout and dropped:
//	                  a client that retries places a second call
//	else  completed   answered, then completed with a talk duration
//
// # Faults and test controls
//
// ArmFault (or POST /sandbox/exotel/faults) makes the next N connect
// requests that pass auth and the field checks fail before any call is
// placed: 500, 503, 429 (Exotel's answer past 200 requests a minute) or a
// held and dropped connection. Calls, CallsTo and Callbacks (or GET
// /sandbox/exotel/calls and /callbacks) record what was placed and posted,
// so a test can count calls placed twice.
//
// # Guarantees
//
// A Sandbox is safe for concurrent use. Each placed call has one goroutine,
// at most Options.MaxLiveCalls at once (connect answers 429 beyond);
// Run's end (or Stop) cancels them, their callback posts and every held
// request, and waits for them. The logs are bounded by Options.MaxRecords.
package exotel
