// Package assignment is the assigner actor: it gives new conversations to
// the online agent with the fewest open conversations (ties go round-robin),
// never beyond AGENT_MAX_OPEN, and keeps conversations nobody can take
// waiting until an agent frees up or comes online.
//
// The assigner learns everything from events: it subscribes, when it is
// started, to the engine's event bus for conversation.updated,
// conversation.assigned and agent.requested (which an open, unassigned
// conversation publishes to ask for an agent, with its key). Who is online
// comes from the agent sessions' presence callbacks (AgentOnline,
// AgentOffline). A conversation is assigned by telling its conversation
// actor (Assign{Auto: true} through the Directory), which accepts an
// automatic assignment only while the conversation is still open and
// unassigned.
//
// Guarantees:
//   - One assigner per node serialises every decision through its mailbox.
//   - Its view of who holds what is rebuilt from the store whenever the
//     actor starts: the producer builds a fresh actor, which reads the open
//     conversations in Started; presence survives a restart in the handle.
//     A panic therefore restarts it from persisted state, never from the
//     half-changed state of the failed one.
//   - A failed load is a value, not a crash: the actor retries with
//     exponential backoff (Options.RetryDelay doubling up to a minute) and
//     keeps every request and event that arrives meanwhile, applying them
//     in order once loaded. Loads answers actors.ErrUnavailable until then.
//   - It heals from any missed decision on the next event of the
//     conversation.
package assignment
