// Package call is the call actor: one protoactor-go actor per Exotel call,
// the only writer of its actors.Call, owning the call's state machine
// (new → active → expired → closed) and its timers. Callers reach it through
// a Directory (supervisors.Calls) with the commands of api.go.
//
// # Life of a call
//
// Start stores the call (new, queued; the store refuses a second live call
// of the agent: ErrAgentBusy), puts its JobCallConnect on the exotel.outbound
// queue and announces it; a queue that refuses the job closes it failed.
// The sender asks BeginConnect before placing the call: ConnectGo once the
// call is marked connecting (persisted first), ConnectWait while another
// delivery is connecting, ConnectResolve once that connect is older than
// Config.ConnectTimeout (outcome unknown: look it up before placing again),
// ConnectSkip for a closed call or one Exotel has. Connected makes it
// active with a deadline of TimeOut+TimeLimit+Grace. Callbacks apply
// monotonically (by actors.CallStatusRank; a terminal status is final) and
// idempotently, and are then marked applied. An active call without a
// terminal callback by its deadline expires and is looked up at Exotel (off
// the mailbox) until Exotel reports a terminal status or does not know the
// call, with a backoff from LookupBackoff doubling to LookupMaxBackoff. A new
// call Exotel has not accepted QueueTTL after it was requested is canceled.
// Requeue re-opens a call that failed before Exotel accepted it.
//
// # Guarantees
//
// Every change is saved, conditionally on the call's Version, before it is
// announced (actors.EventCallUpdated to the Publisher, to the agent's socket
// and the conversation's timeline) and audited as calls.status (by the agent
// for the call's creation, by the system after; the gateway audits the
// request itself as calls.initiate, with its address). A save that loses to another activation
// answers ErrStale and the actor asks its parent to replace it. Store and
// queue failures are answered as actors.ErrUnavailable errors, never
// panics; a timer whose work failed tries again after a pause.
//
// A call read from the store while new (after a restart or a crash between
// storing it and queueing its job) has its job published again unless the
// sender shows it holds the job (BeginConnect, Connected, ConnectFailed);
// duplicate jobs are harmless because BeginConnect lets one delivery
// connect at a time and ConnectFailed.StartedAt discards a stale failure.
//
// An actor is named Name(callID) by its parent and reads its id back from
// its name, so a restarted actor (a panic) keeps its id and reloads its call.
// A live call's actor stays in memory so its timers run; a closed or unknown
// call's actor asks its parent to stop it (Idle).
package call
