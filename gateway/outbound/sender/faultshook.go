package sender

import "github.com/wacc/engine/actors"

// faultsHook, when set, runs first on every job the sender handles. Only a
// build with the faults tag sets it (faultshook_faults.go), so the fault
// suite can hand the sender a job that makes it panic; it is nil in every
// other build.
var faultsHook func(actors.OutboundJob)
