package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

var _ actors.CallStore = (*Store)(nil)

// Collections of calls: the calls, their Exotel callbacks, and the guard of
// "one live call per agent" (see guard.go): _id is the agent id, owner the
// live call.
const (
	callsColl      = "calls"
	callEventsColl = "call_events"
	callAgentsColl = "call_agents"
)

func init() {
	indexes = append(indexes,
		// CallStatistics: a time range, or one agent's; the p90 queries too.
		index{coll: callsColl, name: "startedAt", keys: bson.D{{Key: "startedAt", Value: 1}}},
		index{coll: callsColl, name: "agentId_startedAt", keys: bson.D{{Key: "agentId", Value: 1}, {Key: "startedAt", Value: 1}}},
		// CallsOfCustomer, newest first (walked backwards).
		index{coll: callsColl, name: "customerId_startedAt_id",
			keys: bson.D{{Key: "customerId", Value: 1}, {Key: "startedAt", Value: 1}, {Key: "_id", Value: 1}}},
		// CallsOfConversation, the same way.
		index{coll: callsColl, name: "conversationId_startedAt_id",
			keys: bson.D{{Key: "conversationId", Value: 1}, {Key: "startedAt", Value: 1}, {Key: "_id", Value: 1}}},
		// CallByExotelSid (not unique: FerretDB has no partial unique index,
		// and every call has "" until Exotel accepted it).
		index{coll: callsColl, name: "exotelSid", keys: bson.D{{Key: "exotelSid", Value: 1}}},
		// LiveCalls and LiveCallOfAgent: the calls not closed.
		index{coll: callsColl, name: "state_startedAt_id",
			keys: bson.D{{Key: "state", Value: 1}, {Key: "startedAt", Value: 1}, {Key: "_id", Value: 1}}},
		// UnappliedCallEvents, oldest first.
		index{coll: callEventsColl, name: "applied_receivedAt_id",
			keys: bson.D{{Key: "applied", Value: 1}, {Key: "receivedAt", Value: 1}, {Key: "_id", Value: 1}}},
	)
}

// callDoc is a document of the calls collection. Optional times are absent
// while zero. answered and talkSec are derived on every write for the
// statistics (FerretDB's $group has $sum but no $cond): answered is 1 for a
// completed call with talk time, else 0; talkSec is its durationSec when
// answered, else 0.
type callDoc struct {
	ID               string     `bson:"_id"`
	CustomerID       string     `bson:"customerId"`
	AgentID          string     `bson:"agentId"`
	ConversationID   string     `bson:"conversationId"`
	From             string     `bson:"from"`
	To               string     `bson:"to"`
	CallerID         string     `bson:"callerId"`
	Record           bool       `bson:"record"`
	State            string     `bson:"state"`
	Status           string     `bson:"status"`
	ExotelSid        string     `bson:"exotelSid"`
	DurationSec      int64      `bson:"durationSec"`
	RecordingURL     string     `bson:"recordingUrl"`
	Reason           string     `bson:"reason"`
	TimeLimit        int64      `bson:"timeLimit"`
	TimeOut          int64      `bson:"timeOut"`
	DeadlineAt       *time.Time `bson:"deadlineAt,omitempty"`
	NextLookupAt     *time.Time `bson:"nextLookupAt,omitempty"`
	LookupAttempts   int64      `bson:"lookupAttempts"`
	ConnectStartedAt *time.Time `bson:"connectStartedAt,omitempty"`
	LastEventAt      *time.Time `bson:"lastEventAt,omitempty"`
	AnsweredAt       *time.Time `bson:"answeredAt,omitempty"`
	EndedAt          *time.Time `bson:"endedAt,omitempty"`
	StartedAt        time.Time  `bson:"startedAt"`
	Version          int64      `bson:"version"`
	CreatedAt        time.Time  `bson:"createdAt"`
	UpdatedAt        time.Time  `bson:"updatedAt"`
	Answered         int32      `bson:"answered"`
	TalkSec          int64      `bson:"talkSec"`
}

// callProjection reads every field of actors.Call (not the derived ones).
var callProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "customerId", Value: 1}, {Key: "agentId", Value: 1}, {Key: "conversationId", Value: 1},
	{Key: "from", Value: 1}, {Key: "to", Value: 1}, {Key: "callerId", Value: 1}, {Key: "record", Value: 1},
	{Key: "state", Value: 1}, {Key: "status", Value: 1}, {Key: "exotelSid", Value: 1}, {Key: "durationSec", Value: 1},
	{Key: "recordingUrl", Value: 1}, {Key: "reason", Value: 1}, {Key: "timeLimit", Value: 1}, {Key: "timeOut", Value: 1},
	{Key: "deadlineAt", Value: 1}, {Key: "nextLookupAt", Value: 1}, {Key: "lookupAttempts", Value: 1},
	{Key: "connectStartedAt", Value: 1}, {Key: "lastEventAt", Value: 1}, {Key: "answeredAt", Value: 1},
	{Key: "endedAt", Value: 1}, {Key: "startedAt", Value: 1}, {Key: "version", Value: 1}, {Key: "createdAt", Value: 1},
	{Key: "updatedAt", Value: 1},
}

// callState is the part of a call SaveCall and the agent guard check.
type callState struct {
	AgentID string `bson:"agentId"`
	State   string `bson:"state"`
	Version int64  `bson:"version"`
}

var callStateProjection = bson.D{{Key: "agentId", Value: 1}, {Key: "state", Value: 1}, {Key: "version", Value: 1}}

func callClaimKey(id string, version int64) string { return fmt.Sprintf("call/%s/%d", id, version) }

// callAnswered reports whether c counts as answered in the statistics.
func callAnswered(c actors.Call) bool { return c.Status == actors.CallCompleted && c.DurationSec > 0 }

func toCallDoc(c actors.Call) callDoc {
	d := callDoc{
		ID: c.ID, CustomerID: c.CustomerID, AgentID: c.AgentID, ConversationID: c.ConversationID,
		From: c.From, To: c.To, CallerID: c.CallerID, Record: c.Record, State: c.State, Status: c.Status,
		ExotelSid: c.ExotelSid, DurationSec: int64(c.DurationSec), RecordingURL: c.RecordingURL, Reason: c.Reason,
		TimeLimit: int64(c.TimeLimit), TimeOut: int64(c.TimeOut),
		DeadlineAt: optTime(c.DeadlineAt), NextLookupAt: optTime(c.NextLookupAt), LookupAttempts: int64(c.LookupAttempts),
		ConnectStartedAt: optTime(c.ConnectStartedAt), LastEventAt: optTime(c.LastEventAt),
		AnsweredAt: optTime(c.AnsweredAt), EndedAt: optTime(c.EndedAt),
		StartedAt: c.StartedAt, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if callAnswered(c) {
		d.Answered, d.TalkSec = 1, int64(c.DurationSec)
	}
	return d
}

func (d callDoc) call() actors.Call {
	return actors.Call{
		ID: d.ID, CustomerID: d.CustomerID, AgentID: d.AgentID, ConversationID: d.ConversationID,
		From: d.From, To: d.To, CallerID: d.CallerID, Record: d.Record, State: d.State, Status: d.Status,
		ExotelSid: d.ExotelSid, DurationSec: int(d.DurationSec), RecordingURL: d.RecordingURL, Reason: d.Reason,
		TimeLimit: int(d.TimeLimit), TimeOut: int(d.TimeOut),
		DeadlineAt: fromOpt(d.DeadlineAt), NextLookupAt: fromOpt(d.NextLookupAt), LookupAttempts: int(d.LookupAttempts),
		ConnectStartedAt: fromOpt(d.ConnectStartedAt), LastEventAt: fromOpt(d.LastEventAt),
		AnsweredAt: fromOpt(d.AnsweredAt), EndedAt: fromOpt(d.EndedAt),
		StartedAt: utc(d.StartedAt), Version: d.Version, CreatedAt: utc(d.CreatedAt), UpdatedAt: utc(d.UpdatedAt),
	}
}

// agentGuard is the guard of "one agent has at most one live call": the
// key is the agent id, the owner the call.
func (s *Store) agentGuard() guard {
	return guard{coll: s.callAgents, carries: func(ctx context.Context, owner, key string) (bool, error) {
		st, err := findOne[callState](ctx, s.calls, bson.D{{Key: "_id", Value: owner}},
			options.Find().SetProjection(callStateProjection))
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return false, nil
		case err != nil:
			return false, err
		}
		return st.State != actors.StateClosed && st.AgentID == key, nil
	}}
}

// errAgentBusy is the lost "one live call per agent".
var errAgentBusy = fmt.Errorf("agent has another live call: %w", actors.ErrConflict)

// CreateCall inserts c with Version 1. A live call first takes the
// call_agents guard of its agent (actors.ErrConflict when another live call
// holds it) and gives it back when the insert is refused; a taken id is
// actors.ErrDuplicate.
func (s *Store) CreateCall(ctx context.Context, c actors.Call) error {
	op := "create call " + c.ID
	c.Version = 1
	if !c.Live() {
		if _, err := s.calls.InsertOne(ctx, toCallDoc(c)); err != nil {
			return classify(op, err)
		}
		return nil
	}
	g := s.agentGuard()
	at, err := s.take(ctx, g, c.AgentID, c.ID, false)
	if errors.Is(err, errTaken) {
		// The call holding the agent may be this very id, created before.
		_, ferr := findOne[callState](ctx, s.calls, bson.D{{Key: "_id", Value: c.ID}},
			options.Find().SetProjection(callStateProjection))
		switch {
		case ferr == nil:
			return fmt.Errorf("%s: %w", op, actors.ErrDuplicate)
		case errors.Is(ferr, mongo.ErrNoDocuments):
			return fmt.Errorf("%s: agent %s: %w", op, c.AgentID, errAgentBusy)
		default:
			return classify(op, ferr)
		}
	}
	if err != nil {
		return classify(op+": take agent guard", err)
	}
	if _, err := s.calls.InsertOne(ctx, toCallDoc(c)); err != nil {
		// An insert whose outcome is unknown keeps the guard: if the call
		// was stored, it holds the agent; if not, the guard is stale and
		// replaced after guardGrace.
		if !unavailable(err) {
			s.drop(ctx, g, c.AgentID, c.ID, at)
		}
		return classify(op, err)
	}
	return nil
}

// Call returns the call or actors.ErrNotFound.
func (s *Store) Call(ctx context.Context, id string) (actors.Call, error) {
	return s.findCall(ctx, "call "+id, bson.D{{Key: "_id", Value: id}})
}

// CallByExotelSid returns the call Exotel knows as sid, or
// actors.ErrNotFound (always for "").
func (s *Store) CallByExotelSid(ctx context.Context, sid string) (actors.Call, error) {
	op := "call by exotel sid " + sid
	if sid == "" {
		return actors.Call{}, fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	return s.findCall(ctx, op, bson.D{{Key: "exotelSid", Value: sid}})
}

func (s *Store) findCall(ctx context.Context, op string, filter bson.D) (actors.Call, error) {
	d, err := findOne[callDoc](ctx, s.calls, filter, options.Find().SetProjection(callProjection))
	if err != nil {
		return actors.Call{}, classify(op, err)
	}
	return d.call(), nil
}

// SaveCall replaces the call c.ID with c if its stored Version is
// c.Version-1; otherwise it changes nothing and returns actors.ErrConflict
// (actors.ErrNotFound when absent). The write is one replace filtered on
// {_id, version} under the call's write claim for that version (see
// claim.go), so of concurrent saves from one version exactly one wins.
//
// Saving it closed gives up its agent's guard after the write; saving a
// closed call live again takes the guard first, and is actors.ErrConflict
// when another live call of the agent holds it.
func (s *Store) SaveCall(ctx context.Context, c actors.Call) error {
	op := fmt.Sprintf("save call %s (version %d)", c.ID, c.Version)
	prev := c.Version - 1
	release, err := s.claim(ctx, callClaimKey(c.ID, prev))
	if errors.Is(err, errClaimed) {
		return fmt.Errorf("%s: concurrent save: %w", op, actors.ErrConflict)
	}
	if err != nil {
		return classify(op, err)
	}
	defer release()

	cur, err := findOne[callState](ctx, s.calls, bson.D{{Key: "_id", Value: c.ID}},
		options.Find().SetProjection(callStateProjection))
	if err != nil {
		return classify(op, err)
	}
	if cur.Version != prev {
		return fmt.Errorf("%s: stored version is %d: %w", op, cur.Version, actors.ErrConflict)
	}

	g := s.agentGuard()
	wasLive, isLive := cur.State != actors.StateClosed, c.Live()
	keeps := wasLive && isLive && cur.AgentID == c.AgentID
	var takenAt time.Time
	if isLive && !keeps {
		// Under our claim, a guard of our own is stale: we are not live for
		// this agent yet.
		takenAt, err = s.take(ctx, g, c.AgentID, c.ID, true)
		if errors.Is(err, errTaken) {
			return fmt.Errorf("%s: agent %s: %w", op, c.AgentID, errAgentBusy)
		}
		if err != nil {
			return classify(op+": take agent guard", err)
		}
	}

	res, err := s.calls.ReplaceOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "version", Value: prev}}, toCallDoc(c))
	if err == nil && res.MatchedCount == 0 {
		err = fmt.Errorf("changed concurrently: %w", actors.ErrConflict)
	}
	if err != nil {
		if !takenAt.IsZero() && !unavailable(err) {
			s.drop(ctx, g, c.AgentID, c.ID, takenAt)
		}
		return classify(op, err)
	}
	if wasLive && !keeps {
		s.drop(ctx, g, cur.AgentID, c.ID, time.Time{})
	}
	return nil
}

// LiveCalls returns every call not closed, oldest StartedAt first (then by
// id).
func (s *Store) LiveCalls(ctx context.Context) ([]actors.Call, error) {
	return s.findCalls(ctx, "live calls", bson.D{{Key: "state", Value: notClosed}},
		options.Find().SetSort(bson.D{{Key: "startedAt", Value: 1}, {Key: "_id", Value: 1}}))
}

// LiveCallOfAgent returns the agent's live call, or actors.ErrNotFound.
func (s *Store) LiveCallOfAgent(ctx context.Context, agentID string) (actors.Call, error) {
	return s.findCall(ctx, "live call of agent "+agentID,
		bson.D{{Key: "state", Value: notClosed}, {Key: "agentId", Value: agentID}})
}

// CallsOfCustomer returns up to limit calls of the customer, newest first
// (StartedAt, then ID, descending), after the cursor (afterStartedAt,
// afterID); a zero afterStartedAt asks for the first page. A limit below 1
// gives an empty page.
func (s *Store) CallsOfCustomer(ctx context.Context, customerID string, afterStartedAt time.Time, afterID string, limit int) ([]actors.Call, error) {
	return s.callsPage(ctx, "calls of customer "+customerID, "customerId", customerID, afterStartedAt, afterID, limit)
}

// CallsOfConversation returns up to limit calls started from the
// conversation, paged as CallsOfCustomer; "" names no conversation (an
// empty page, without a query).
func (s *Store) CallsOfConversation(ctx context.Context, conversationID string, afterStartedAt time.Time, afterID string, limit int) ([]actors.Call, error) {
	if conversationID == "" {
		return []actors.Call{}, nil
	}
	return s.callsPage(ctx, "calls of conversation "+conversationID, "conversationId", conversationID,
		afterStartedAt, afterID, limit)
}

// callsPage finds up to limit calls whose field is value, newest first
// (startedAt, then _id, descending), after the cursor (afterStartedAt,
// afterID); a zero afterStartedAt asks for the first page, a limit below 1
// gives an empty page without a query.
func (s *Store) callsPage(ctx context.Context, op, field, value string, afterStartedAt time.Time, afterID string, limit int) ([]actors.Call, error) {
	if limit < 1 {
		return []actors.Call{}, nil
	}
	filter := bson.D{{Key: field, Value: value}}
	if !afterStartedAt.IsZero() {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "startedAt", Value: bson.D{{Key: "$lt", Value: afterStartedAt}}}},
			bson.D{{Key: "startedAt", Value: afterStartedAt}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: afterID}}}},
		}})
	}
	return s.findCalls(ctx, op, filter,
		options.Find().SetSort(bson.D{{Key: "startedAt", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
}

func (s *Store) findCalls(ctx context.Context, op string, filter bson.D, opts *options.FindOptionsBuilder) ([]actors.Call, error) {
	docs, err := findAll[callDoc](ctx, s.calls, filter, opts.SetProjection(callProjection))
	if err != nil {
		return nil, classify(op, err)
	}
	out := make([]actors.Call, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.call())
	}
	return out, nil
}
