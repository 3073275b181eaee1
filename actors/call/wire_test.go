package call_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
	"github.com/wacc/engine/gateway/outbound/callsender"
	"github.com/wacc/engine/gateway/outbound/exotel"
)

// runSender drains the queue into the sandbox with the engine's call
// sender, recording how each delivery was settled (see jobDone).
func (h *harness) runSender() {
	log := zaptest.NewLogger(h.t, zaptest.Level(zap.ErrorLevel))
	s, err := callsender.New(callsender.Options{Consumer: notingConsumer{h: h}, Client: h.client, Directory: directory{h: h}, Log: log,
		AskTimeout: askTimeout, SettleWindow: 300 * time.Millisecond, WaitDelay: 50 * time.Millisecond,
		RetryBase: 20 * time.Millisecond, RetryCap: 200 * time.Millisecond, RequestTimeout: 5 * time.Second, Now: h.clock.Now})
	require.NoError(h.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	h.senderStop, h.senderDone = cancel, make(chan struct{})
	go func() {
		defer close(h.senderDone)
		_ = s.Run(ctx)
	}()
}

func (h *harness) stopSender() {
	if h.senderStop != nil {
		h.senderStop()
		<-h.senderDone
		h.senderStop = nil
	}
}

// directory is the running engine's call directory (it changes with a
// restart); a command while the engine is down is not answered.
type directory struct{ h *harness }

func (d directory) Send(id string, cmd call.Command) {
	if calls := d.h.dir(); calls != nil {
		calls.Send(id, cmd)
	}
}

func (d directory) Request(id string, cmd call.Command, timeout time.Duration) call.Reply {
	if calls := d.h.dir(); calls != nil {
		return calls.Request(id, cmd, timeout)
	}
	return down{}
}

type down struct{}

func (down) Result() (any, error) { return nil, context.DeadlineExceeded }

// notingConsumer consumes the harness's current queue, recording each
// delivery's settlement.
type notingConsumer struct{ h *harness }

func (n notingConsumer) Consume(ctx context.Context, handle func(actors.Delivery)) error {
	return n.h.queue.Consume(ctx, func(d actors.Delivery) { handle(noted{Delivery: d, h: n.h, id: d.Job().CallID}) })
}

// noted is a Delivery whose settlements the harness records.
type noted struct {
	actors.Delivery
	h  *harness
	id string
}

func (n noted) Ack() error {
	n.h.note(n.id, "ack")
	return n.Delivery.Ack()
}

func (n noted) Hold(d time.Duration, reason string) error {
	n.h.note(n.id, "hold")
	return n.Delivery.Hold(d, reason)
}

func (n noted) Retry(d time.Duration, reason string) (bool, error) {
	dead, err := n.Delivery.Retry(d, reason)
	if dead {
		n.h.note(n.id, "dead")
	} else {
		n.h.note(n.id, "retry")
	}
	return dead, err
}

func (n noted) DeadLetter(reason string) error {
	n.h.note(n.id, "dead")
	return n.Delivery.DeadLetter(reason)
}

// countingLookup is the Exotel client as the call actors' Lookup,
// counting the call-details lookups.
type countingLookup struct {
	*exotel.Client
	calls atomic.Int32
}

func (l *countingLookup) Details(ctx context.Context, sid string) (call.Details, error) {
	l.calls.Add(1)
	return l.Client.Details(ctx, sid)
}

var ist = time.FixedZone("IST", 5*3600+1800)

// webhook stores each callback (its id from its content), answers 200,
// then applies it to its call, as POST /api/calls/webhook does.
func (h *harness) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.URL.Query().Get("secret") != hookSecret {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var cb struct {
		CallSid, EventType, Status, DateUpdated string
		RecordingURL                            *string `json:"RecordingUrl"`
		ConversationDuration                    *int
		CustomField                             *string
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	ev := actors.CallEvent{CallSid: cb.CallSid, EventType: cb.EventType, Status: cb.Status, Body: body, ReceivedAt: time.Now().UTC()}
	sum := sha256.Sum256([]byte(cb.CallSid + "|" + cb.EventType + "|" + cb.Status + "|" + cb.DateUpdated))
	ev.ID = hex.EncodeToString(sum[:16])
	ev.DateUpdated, _ = time.ParseInLocation(time.DateTime, cb.DateUpdated, ist)
	if cb.RecordingURL != nil {
		ev.RecordingURL = *cb.RecordingURL
	}
	if cb.ConversationDuration != nil {
		ev.DurationSec = *cb.ConversationDuration
	}
	if cb.CustomField != nil {
		ev.CallID = *cb.CustomField
	}
	calls, store := h.engine()
	if calls == nil {
		w.WriteHeader(http.StatusServiceUnavailable) // restarting: Exotel retries
		return
	}
	if ev.CallID == "" {
		c, err := store.CallByExotelSid(r.Context(), cb.CallSid)
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		ev.CallID = c.ID
	}
	if _, err := store.AddCallEvent(r.Context(), ev); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
	if _, err := call.Ask(calls, ev.CallID, call.Callback{Event: ev}, askTimeout); err != nil {
		h.applyErrs.Add(1)
	}
}
