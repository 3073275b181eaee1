// Package call is the call actor: one protoactor-go actor per Exotel call,
// the only writer of its actors.Call, owning the call's state machine
// (new → active → expired → closed) and its timers. Callers reach it through
// a Directory (supervisors.Calls) with the commands of api.go.
package call
