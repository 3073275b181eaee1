package actors

import (
	"context"
	"time"
)

// Call statuses (the contract's call.status). queued, ringing and
// in-progress are live; the others are terminal and never change.
const (
	CallQueued     = "queued"
	CallRinging    = "ringing"
	CallInProgress = "in-progress"
	CallCompleted  = "completed"
	CallFailed     = "failed"
	CallBusy       = "busy"
	CallNoAnswer   = "no-answer"
	CallCanceled   = "canceled"
)

// CallStatuses lists every call status in a stable order.
var CallStatuses = []string{CallQueued, CallRinging, CallInProgress, CallCompleted, CallFailed, CallBusy, CallNoAnswer, CallCanceled}

// CallTerminal reports whether status ends a call.
func CallTerminal(status string) bool {
	switch status {
	case CallCompleted, CallFailed, CallBusy, CallNoAnswer, CallCanceled:
		return true
	}
	return false
}

// CallStatusRank orders statuses for monotonic updates: a status applies
// only when its rank is above the stored one's (queued 0, ringing 1,
// in-progress 2, every terminal status 3); -1 for an unknown status.
func CallStatusRank(status string) int {
	switch status {
	case CallQueued:
		return 0
	case CallRinging:
		return 1
	case CallInProgress:
		return 2
	}
	if CallTerminal(status) {
		return 3
	}
	return -1
}

// Call is one agent-to-customer call placed through Exotel. Its actor
// (actors/call) is the only writer; every save is conditional on Version.
//
// State maps the call's life onto the engine's four states: StateNew
// (accepted, queued for Exotel), StateActive (Exotel accepted it: ringing,
// answered, in progress), StateExpired (no terminal callback by DeadlineAt:
// settled by Exotel's call-details lookup), StateClosed (Status terminal).
type Call struct {
	ID         string
	CustomerID string
	AgentID    string
	// ConversationID is the conversation the call was started from, if any.
	ConversationID string
	// From is the agent's phone (Exotel's From leg, called first), To the
	// customer's; both E.164. CallerID is the ExoPhone shown to both.
	From     string
	To       string
	CallerID string
	Record   bool
	State    string
	Status   string
	// ExotelSid is Exotel's CallSid, empty until Exotel accepted the call.
	ExotelSid string
	// DurationSec is the talk time (Exotel's ConversationDuration).
	DurationSec  int
	RecordingURL string
	// Reason says why a call failed on our side or Exotel's (a refused
	// connect, a dead letter); empty otherwise.
	Reason string
	// TimeLimit and TimeOut are the connect request's (seconds).
	TimeLimit int
	TimeOut   int
	// DeadlineAt is when, without a terminal callback, the call expires and
	// is looked up at Exotel; NextLookupAt is the next lookup of an
	// expired call; LookupAttempts counts lookups made.
	DeadlineAt     time.Time
	NextLookupAt   time.Time
	LookupAttempts int
	// ConnectStartedAt is when the sender began a connect request whose
	// outcome is not recorded yet (zero otherwise): after a timeout or a
	// crash the call is looked up at Exotel before it is placed again.
	ConnectStartedAt time.Time
	// LastEventAt is the DateUpdated of the latest callback applied.
	LastEventAt time.Time
	AnsweredAt  time.Time
	EndedAt     time.Time
	// StartedAt is when the call was requested (statistics are by it).
	StartedAt time.Time
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Live reports whether the call is not closed.
func (c Call) Live() bool { return c.State != StateClosed }

// CallView is the contract's call object, extended with the call's engine
// state, conversation and failure reason.
type CallView struct {
	ID             string    `json:"id"`
	CustomerID     string    `json:"customerId"`
	AgentID        string    `json:"agentId"`
	ConversationID *string   `json:"conversationId"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	Status         string    `json:"status"`
	State          string    `json:"state"`
	ExotelSid      *string   `json:"exotelSid"`
	DurationSec    int       `json:"durationSec"`
	RecordingURL   *string   `json:"recordingUrl"`
	Record         bool      `json:"record"`
	Reason         string    `json:"reason,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// View renders c as the contract's call object.
func (c Call) View() CallView {
	v := CallView{ID: c.ID, CustomerID: c.CustomerID, AgentID: c.AgentID, From: c.From, To: c.To, Status: c.Status,
		State: c.State, DurationSec: c.DurationSec, Record: c.Record, Reason: c.Reason,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	v.ConversationID = strPtr(c.ConversationID)
	v.ExotelSid = strPtr(c.ExotelSid)
	v.RecordingURL = strPtr(c.RecordingURL)
	return v
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// EventCallUpdated carries a call (CallView) after each transition.
const EventCallUpdated = "call.updated"

// JobCallConnect asks the Exotel sender to place the call CallID (an
// OutboundJob on the exotel.outbound queue).
const JobCallConnect = "call.connect"

// CallEvent is one Exotel status callback, stored before it is answered
// 200 and applied by the call's actor. ID is derived from the callback's
// content (CallSid, EventType, Status, DateUpdated), so a repeated
// callback is stored once.
type CallEvent struct {
	ID string
	// CallID is our call (from CustomField, or found by CallSid).
	CallID    string
	CallSid   string
	EventType string
	// Status is the callback's status mapped to ours (actors.Call*).
	Status       string
	DurationSec  int
	RecordingURL string
	DateUpdated  time.Time
	// Body is the callback as received.
	Body       []byte
	ReceivedAt time.Time
	// AppliedAt is zero until the call's actor applied (or ignored) it.
	AppliedAt time.Time
}

// CallStatsQuery selects calls by StartedAt in [From, To) and optionally by
// agent, and groups them by agent or by day in Location.
type CallStatsQuery struct {
	From    time.Time
	To      time.Time
	AgentID string
	// GroupBy is "agent", "day" or "" (totals only).
	GroupBy string
	// Location decides where a day starts (UTC when nil).
	Location *time.Location
}

// CallStatsRow counts one group's calls (or all of them).
type CallStatsRow struct {
	// Key is the agent id or the day (YYYY-MM-DD in the query's
	// Location); empty for the totals.
	Key   string `json:"key,omitempty"`
	Total int    `json:"total"`
	// ByStatus counts every status, zeros included.
	ByStatus map[string]int `json:"byStatus"`
	// Answered counts calls that were answered (completed with talk time).
	Answered   int     `json:"answered"`
	AnswerRate float64 `json:"answerRate"`
	// TalkSec is the total talk time of answered calls; MeanTalkSec and
	// P90TalkSec are over answered calls (nearest rank), 0 when none.
	TalkSec     int64   `json:"talkSec"`
	MeanTalkSec float64 `json:"meanTalkSec"`
	P90TalkSec  int     `json:"p90TalkSec"`
}

// CallStats is the answer to a CallStatsQuery.
type CallStats struct {
	Totals CallStatsRow   `json:"totals"`
	Groups []CallStatsRow `json:"groups"`
}

// CallStore keeps calls and their callbacks.
type CallStore interface {
	// CreateCall inserts c (Version 1). ErrConflict when c.AgentID already
	// has a live call (checked atomically in the store), ErrDuplicate when
	// the id is taken.
	CreateCall(ctx context.Context, c Call) error
	// Call returns the call or ErrNotFound.
	Call(ctx context.Context, id string) (Call, error)
	// CallByExotelSid returns the call Exotel knows as sid, or ErrNotFound.
	CallByExotelSid(ctx context.Context, sid string) (Call, error)
	// SaveCall stores c if the stored Version equals c.Version-1, else
	// returns ErrConflict and changes nothing (ErrNotFound when absent).
	// A save with State closed frees the agent for another call; a save
	// that makes a closed call live again (a re-drive) claims the agent
	// atomically and returns ErrConflict when the agent has another live
	// call.
	SaveCall(ctx context.Context, c Call) error
	// LiveCalls returns every call not closed, oldest first.
	LiveCalls(ctx context.Context) ([]Call, error)
	// LiveCallOfAgent returns the agent's live call, or ErrNotFound.
	LiveCallOfAgent(ctx context.Context, agentID string) (Call, error)
	// CallsOfCustomer returns up to limit calls of the customer, newest
	// first (StartedAt descending, then ID descending), after the cursor
	// (the StartedAt and ID of the last call of the page before; a zero
	// time and "" for the first page).
	CallsOfCustomer(ctx context.Context, customerID string, afterStartedAt time.Time, afterID string, limit int) ([]Call, error)
	// CallsOfConversation returns up to limit calls started from the
	// conversation (Call.ConversationID), paged as CallsOfCustomer. An
	// empty conversationID names no conversation: its page is empty, never
	// the calls started without one.
	CallsOfConversation(ctx context.Context, conversationID string, afterStartedAt time.Time, afterID string, limit int) ([]Call, error)
	// CallStatistics counts the calls the query selects, in the store.
	CallStatistics(ctx context.Context, q CallStatsQuery) (CallStats, error)
	// AddCallEvent stores e unless a callback with its ID is stored;
	// inserted says which.
	AddCallEvent(ctx context.Context, e CallEvent) (inserted bool, err error)
	// MarkCallEventApplied sets the callback's AppliedAt.
	MarkCallEventApplied(ctx context.Context, id string, at time.Time) error
	// UnappliedCallEvents returns up to limit callbacks not applied yet,
	// oldest first (replayed after a restart).
	UnappliedCallEvents(ctx context.Context, limit int) ([]CallEvent, error)
}
