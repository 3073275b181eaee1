// Package callsender drains the exotel.outbound queue (DefaultQueue) into
// Exotel's connect API: each actors.JobCallConnect job places its call
// once, through the call's actor (actors/call), which owns the call's
// state.
//
// For each delivery the sender asks the call (call.BeginConnect), which
// stores that a connect began before it answers:
//
//   - ConnectSkip (closed, or Exotel has it): the job is acknowledged.
//   - ConnectWait (another delivery is connecting): the job is held.
//   - ConnectGo: the connect is sent. Accepted: call.Connected{Sid,
//     Status}. Refused for good (400, 404, 401/403...): ConnectFailed
//     {Final: true}; 401/403 also pause every call for AuthPause with an
//     error log (engine_call_sender_paused_total), and jobs are held, not
//     failed, while paused. Not taken (429, 503, a refused connection):
//     ConnectFailed{Final: false}, then a retry with backoff; the job's
//     last attempt dead-letters it and closes the call (ConnectFailed
//     {Final: true, Reason: "dead-lettered: ..."}). Unknown (a timeout or
//     reset after sending, 500/502/504): the call is told nothing, so it
//     stays marked connecting, and the job is held.
//   - ConnectResolve (a connect's outcome was lost: a timeout, a crash
//     mid-request): the call is looked up at Exotel (FindPlaced, from the
//     connect's start less LookupSkew). Found: Connected. Not found within
//     the settle window (SettleWindow, at least twice the call's TimeOut):
//     the job is held and looked up again; after it:
//     ConnectFailed{Final: false} and a short retry places it again. A
//     lookup that fails is retried with backoff (401/403 pause calling).
//   - No answer from the call (call.ErrNoAnswer): the job is retried (the
//     call may have marked a connect; the next delivery resolves it). An
//     answer ConnectWait with an error (the call's store is down): held.
//     A job of an unknown call, or of another kind: dead-lettered.
//
// Every ConnectFailed carries the ConnectStartedAt its delivery was
// answered with (StartedAt), so the failure of a stale delivery never
// clears the connect another delivery began since.
//
// Guarantees:
//
//   - A job is acknowledged only after the call's actor answered the
//     outcome (it stores it first). When that answer does not come, the
//     job is held or retried, never acknowledged, so no outcome is lost.
//   - A call is placed twice only if Exotel placed it yet neither answered,
//     listed it nor sent a callback for it within the settle window
//     (Exotel's bulk listing may leave a call out until it is over; its
//     callbacks, which name our call id, record it meanwhile). A lost
//     answer is never a reason to send the connect again: it is looked up
//     first.
//   - Held jobs use no attempt; retries do, and a job out of attempts is
//     dead-lettered (re-drivable) with its call closed failed.
//   - Run waits for the jobs in flight; a connect in flight finishes even
//     when Run's context ends, and is recorded.
//   - Logs name the call id and Exotel's sid, never the phone numbers or
//     the callback URL.
package callsender
