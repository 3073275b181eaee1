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
// already have an actor). A panic answers the failing message's caller at
// once with actors.ErrUnavailable (it does not wait for a timeout) and
// restarts only that conversation, up to 10 times a minute. A conversation
// that exhausts this budget is parked for ParkFor: an ERROR log and
// Host.Parked (engine_conversations_parked_total) are the alert, its
// requests are refused at once with actors.ErrUnavailable (the inbox keeps
// its webhook bodies and retries them, the API answers 503), its
// fire-and-forget commands are held, and the first message after the park
// activates a fresh actor, which gets the held commands first. Each conversation actor
// is named by its key (conversation.Key.Name) and reads the key back from
// its name, so one Props serves a whole shard and a restarted actor keeps
// its key; keys that cannot round-trip through a name are refused. The
// mailboxes of a Host's shards and conversations run on its workers: each
// batch goes to a worker goroutine waiting for one (it keeps the stack it
// grew), or else to a fresh goroutine, so a batch never waits for a worker;
// the workers stop after 50 ms without work, so a Host at rest keeps no
// goroutine. Host.StopAll retires and stops every conversation actor (the
// commands already in their mailboxes are refused as stale, or handed to
// the successors, never applied with the old state) and keeps the shards:
// a cluster node that lost its membership calls it, and the next command
// for a key activates a fresh actor that reloads from the store.
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
