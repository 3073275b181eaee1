package call

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Errors of a call actor's answers (matched with errors.Is).
var (
	// ErrAgentBusy means the agent already has a live call (the contract's
	// 409 CONFLICT). It is an actors.ErrConflict.
	ErrAgentBusy = fmt.Errorf("agent already has a live call: %w", actors.ErrConflict)
	// ErrClosed means the call is closed and takes no such command.
	ErrClosed = errors.New("call is closed")
	// ErrNoAnswer means the Directory brought no answer back in time; the
	// command may or may not have been applied. It is an
	// actors.ErrUnavailable.
	ErrNoAnswer = fmt.Errorf("call did not answer: %w", actors.ErrUnavailable)
	// ErrStale means another activation changed the call since this one
	// read it: the answering actor stops and the next command reads the
	// store again. The command was not applied; it may be retried. It is
	// an actors.ErrUnavailable.
	ErrStale = fmt.Errorf("call changed by another activation: %w", actors.ErrUnavailable)
)

// Command is a message a call actor handles.
type Command interface{ command() }

// Start creates the call (Call.State new, Status queued), stores it (the
// store refuses a second live call of the agent: ErrAgentBusy), then puts
// its JobCallConnect on the exotel.outbound queue and announces it. It must
// be the first command of a call id; a repeat of a stored call answers the
// stored call.
type Start struct{ Call actors.Call }

// Connect is what BeginConnect tells the sender to do.
type Connect int

const (
	// ConnectGo: the call is marked connecting (persisted); place it now.
	ConnectGo Connect = iota
	// ConnectSkip: the call is closed or Exotel already has it; ack the job.
	ConnectSkip
	// ConnectResolve: an earlier connect's outcome is unknown (a timeout, a
	// crash mid-request); look the call up at Exotel (Lookup.FindPlaced
	// since Result.Call.ConnectStartedAt) and answer Connected, or
	// ConnectFailed{StartedAt: Result.Call.ConnectStartedAt} (not Final)
	// when it was not placed, before placing it again.
	ConnectResolve
	// ConnectWait: another delivery of the job is connecting right now;
	// hold the job and try later.
	ConnectWait
)

// BeginConnect asks whether the sender may place the call now.
type BeginConnect struct{}

// Connected records Exotel's acceptance: the CallSid and its status; the
// call becomes active and its deadline is armed.
type Connected struct {
	Sid    string
	Status string
}

// ConnectFailed records a connect that did not place the call. Final closes
// the call as failed with Reason (a refused request, auth, a dead letter);
// otherwise the call stays new, not connecting, for the job's retry.
//
// StartedAt, when set, is the ConnectStartedAt the failed connect (or
// resolve) was answered with by BeginConnect: a non-final failure whose
// StartedAt is not the call's ConnectStartedAt any more is stale (another
// delivery of the job began connecting since) and changes nothing, so two
// deliveries of one job never both get ConnectGo. Zero clears whatever
// connect is marked.
type ConnectFailed struct {
	Reason    string
	Final     bool
	StartedAt time.Time
}

// Callback applies one stored Exotel callback: monotonic (a status ranked
// at or below the stored one changes nothing) and idempotent, then marks
// the event applied.
type Callback struct{ Event actors.CallEvent }

// Requeue re-opens a call that failed before Exotel accepted it (its
// connect job dead-lettered), for a re-drive: it becomes new and queued
// again, if its agent has no other live call (ErrAgentBusy).
//
// It publishes no job (the re-drive moves the dead-lettered one back), and
// its StartedAt becomes the re-drive's time, so that QueueTTL counts from
// it. A live call answers unchanged (its job is on its way or Exotel has
// it); any other closed call answers ErrClosed.
type Requeue struct{}

// Activate brings the call into memory and answers it (actors.ErrNotFound
// for an unknown id): its timers run, and a new call whose connect job may
// be missing (the engine stopped between storing it and queueing its job,
// or the in-process queue lost it) has the job published again. Duplicate
// jobs are harmless: BeginConnect lets one delivery connect at a time, and
// skips a call Exotel has. supervisors.Calls.Rehydrate sends it to every
// live call at engine start.
type Activate struct{}

// Idle is what a call actor tells its parent when it has nothing to keep in
// memory (its call is closed or unknown): the parent stops it and holds the
// commands that arrive meanwhile for its successor. ID is the actor's
// process id, so a late Idle from an earlier activation of the same call is
// ignored. Respawn asks for a successor even without commands waiting: the
// actor's state is stale (another activation changed the call) or its call
// became live again after it went idle, and a live call needs an actor for
// its timers. It is not a Command.
type Idle struct {
	CallID  string
	ID      string
	Respawn bool
}

func (Start) command()         {}
func (BeginConnect) command()  {}
func (Connected) command()     {}
func (ConnectFailed) command() {}
func (Callback) command()      {}
func (Requeue) command()       {}
func (Activate) command()      {}

// Result is a call actor's answer.
type Result struct {
	// Call is the call after the command.
	Call actors.Call
	// Connect answers BeginConnect.
	Connect Connect
	// Applied reports whether a Callback changed the call.
	Applied bool
	// Err is why the command failed; nil when it succeeded.
	Err error
}

// Reply is a pending answer of a call actor.
type Reply interface {
	Result() (any, error)
}

// Directory delivers commands to call actors by call id, activating them on
// demand (from the store). Commands to one id are delivered in order.
type Directory interface {
	Send(callID string, cmd Command)
	Request(callID string, cmd Command, timeout time.Duration) Reply
}

// Ask delivers cmd to the call and waits at most timeout for its Result;
// the error is Result.Err or ErrNoAnswer.
func Ask(dir Directory, callID string, cmd Command, timeout time.Duration) (Result, error) {
	return Await(callID, dir.Request(callID, cmd, timeout))
}

// Await reads a Reply of the call callID as Ask does: for callers that put
// several requests in flight before reading their answers.
func Await(callID string, r Reply) (Result, error) {
	v, err := r.Result()
	if err != nil {
		return Result{}, fmt.Errorf("ask call %s: %w: %w", callID, ErrNoAnswer, err)
	}
	res, ok := v.(Result)
	if !ok {
		return Result{}, fmt.Errorf("ask call %s: answer is %T, not a call.Result", callID, v)
	}
	return res, res.Err
}

// Details is what Exotel's call-details endpoint says of a call.
type Details struct {
	Sid string
	// Status is mapped to ours (actors.Call*).
	Status       string
	DurationSec  int
	RecordingURL string
	EndedAt      time.Time
}

// Lookup asks Exotel about calls (gateway/outbound/exotel).
type Lookup interface {
	// Details returns the call sid; actors.ErrNotFound when Exotel does not
	// know it, actors.ErrUnavailable (wrapped) when Exotel did not answer.
	Details(ctx context.Context, sid string) (Details, error)
	// FindPlaced finds the call placed From from To to created at or
	// after since (Exotel's bulk call details); found is false when there
	// is none.
	FindPlaced(ctx context.Context, from, to string, since time.Time) (d Details, found bool, err error)
}

// Store is what a call actor reads and writes.
type Store interface {
	CreateCall(ctx context.Context, c actors.Call) error
	Call(ctx context.Context, id string) (actors.Call, error)
	SaveCall(ctx context.Context, c actors.Call) error
	MarkCallEventApplied(ctx context.Context, id string, at time.Time) error
}

// Auditor records audit records without blocking (gateway/audit.Log).
type Auditor interface {
	Record(rec actors.AuditRecord)
}

// Config are the timings of calls.
type Config struct {
	// Grace is added to TimeOut+TimeLimit before an active call without a
	// terminal callback expires and is looked up.
	Grace time.Duration
	// LookupBackoff is the first wait between lookups of an expired call;
	// it doubles up to LookupMaxBackoff.
	LookupBackoff    time.Duration
	LookupMaxBackoff time.Duration
	// QueueTTL cancels a call that Exotel has not accepted that long after
	// it was requested (a customer must not be rung hours late).
	QueueTTL time.Duration
	// ConnectTimeout is the sender's connect timeout: a connect in flight
	// longer than that is unknown and resolved by lookup (ConnectResolve),
	// shorter is ConnectWait.
	ConnectTimeout time.Duration
	// IOTimeout bounds each store call.
	IOTimeout time.Duration
}

// Deps are shared by every call actor of a process; complete before the
// first actor is spawned and never changed after.
type Deps struct {
	Store Store
	// Publisher gets EventCallUpdated after each stored transition.
	Publisher actors.Publisher
	// Outbox is the exotel.outbound queue.
	Outbox actors.OutboundPublisher
	Lookup Lookup
	Audit  Auditor
	Config Config
	Log    *zap.Logger
	// Now is the time; time.Now when nil.
	Now func() time.Time
}
