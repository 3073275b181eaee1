// Package supervisors owns the spawn tree of conversation actors on one
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
package supervisors
