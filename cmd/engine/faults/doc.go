// Package faults is the engine's fault and attack suite: one test per line
// of the reliability list (lines_test.go), named after its number
// (Test39_RabbitRestartMidBurst), each driving the built engine binary as
// its own process over loopback with real dependencies. Its files carry the
// build tag faults, so `make test` leaves them out and `make test-faults`
// runs them (`go test -tags faults ./cmd/engine/faults/`), after which the
// suite writes faults-report.md and faults-report.json here: one row per
// line with its result (pass, fail, not covered yet with the reason, or not
// applicable with the reason), the counts of delivery tests (lost,
// recovered, unexpected, duplicated) and their timings. A line without a
// test is listed as such, never left out. TestMain builds the engine with
// the faults tag, which adds only the hooks some tests fire: a conversation
// actor that panics on conversation.PanicText (line 50) and a job kind the
// sender panics on (the poison job of line 44). The binaries the engine
// ships are built without it.
package faults
