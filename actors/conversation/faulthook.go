package conversation

// injectFault is called with every message before the actor handles it.
// It does nothing, except in a binary built with the faults tag (the fault
// suite's, faulthook_faults.go), where it panics on a magic text so the
// suite can make an actor panic on demand.
var injectFault = func(any) {}
