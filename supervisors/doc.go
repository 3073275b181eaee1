// Package supervisors owns the spawn tree of conversation actors on one
// node: shards of a host actor that activate conversations by key, supervise
// them (a panic restarts only that conversation, which reloads its state from
// the store), and passivate idle ones.
//
// Guarantees: messages for one key are delivered in the order they were sent
// (a key always maps to the same shard, and while an idle actor is stopping,
// messages for its key wait and go to its successor, so two local
// activations of one key never run at once). A conversation that exhausts
// its restart budget is stopped; the next message activates a fresh one.
package supervisors
