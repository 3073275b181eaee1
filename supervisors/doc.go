// Package supervisors owns the spawn tree of conversation and call actors on one
// node: shards of a host actor that activate conversations by key, supervise
// them (a panic restarts only that conversation, which reloads its state from
// the store), and passivate idle ones. After a restart, Host.Rehydrate brings
// back the conversations that were in memory before (open and updated within
// the idle timeout), each spawned with the state it read in pages, so their
// first message costs no store read and their timers run.
//
// Guarantees: messages for one key are delivered in the order they were sent
// (a key always maps to the same shard, and while an idle actor is stopping,
// messages for its key wait and go to its successor, so two local
// activations of one key never run at once; rehydration skips keys that
// already have an actor). A conversation that exhausts its restart budget is
// stopped; the next message activates a fresh one. Each conversation actor
// is named by its key (conversation.Key.Name) and reads the key back from
// its name, so one Props serves a whole shard and a restarted actor keeps
// its key; keys that cannot round-trip through a name are refused.
//
// Calls is the call.Directory: one supervising actor over the call actors
// (actors/call), with the conversations' restart budget (a panic restarts
// only that call's actor, which reloads its call; one that exhausts the
// budget is activated again after its window, so a live call's timers are
// not lost). It activates a call's actor on demand by call id (a command for
// an unknown id answers actors.ErrNotFound, except Start), delivers commands
// to one call in order (holding them while a closed call's actor stops, for
// its successor), and keeps live calls in memory. Calls.Rehydrate activates
// every live call at engine start, so that its timers run and a new call
// whose job was lost has it published again.
package supervisors
