package inbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
	"github.com/wacc/engine/gateway/webhook"
	"github.com/wacc/engine/persistence/sqlitestore"
)

// reply is an immediate answer.
type reply struct {
	v   any
	err error
}

func (r reply) Result() (any, error) { return r.v, r.err }

// recordingDirectory answers every request, failing while down is set,
// and records what it was asked in order.
type recordingDirectory struct {
	down atomic.Bool
	mu   sync.Mutex
	got  []string
}

func (d *recordingDirectory) Send(conversation.Key, conversation.Command) {}

func (d *recordingDirectory) Request(key conversation.Key, msg conversation.Command, _ time.Duration) conversation.Reply {
	if d.down.Load() {
		return reply{err: errors.New("actor unavailable")}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if in, ok := msg.(conversation.Inbound); ok {
		d.got = append(d.got, key.WaID+":"+in.Msg.WaMessageID)
	}
	return reply{v: conversation.Result{}}
}

func body(wa, wamid string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",` +
		`"metadata":{"display_phone_number":"1","phone_number_id":"pn"},"messages":[{"from":"` + wa + `","id":"` + wamid + `","timestamp":"1700000000","type":"text","text":{"body":"x"}}]}}]}]}`)
}

func TestEntriesLeaveOnlyWhenApplied(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{
		{ID: actors.NewID(), Body: body("911", "w1"), ReceivedAt: now},
		{ID: actors.NewID(), Body: body("911", "w2"), ReceivedAt: now},
		{ID: actors.NewID(), Body: body("922", "w3"), ReceivedAt: now},
	}))
	dir := &recordingDirectory{}
	dir.down.Store(true)
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})

	// While the actors fail, nothing leaves the inbox and attempts count.
	for i := 0; i < 3; i++ {
		_, err := d.drainOnce(ctx)
		require.Error(t, err)
	}
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 3)
	require.Equal(t, 3, pending[0].Attempts)

	// Once they answer, every entry is applied in arrival order and leaves.
	dir.down.Store(false)
	n, err := d.drainOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, []string{"911:w1", "911:w2", "922:w3"}, dir.got)
	pending, err = store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}

func TestPoisonEntryIsKeptButSetAside(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx := context.Background()
	id := actors.NewID()
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{{ID: id, Body: body("933", "w9"), ReceivedAt: time.Now().UTC()}}))
	dir := &recordingDirectory{}
	dir.down.Store(true)
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	for i := 0; i < MaxAttempts+3; i++ {
		_, _ = d.drainOnce(ctx)
	}
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1, "never deleted")
	require.Equal(t, MaxAttempts, pending[0].Attempts, "no longer dispatched after the last attempt")
	// A set-aside entry does not spin the dispatcher.
	n, err := d.drainOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

// blockedReply answers once release is closed.
type blockedReply struct{ release chan struct{} }

func (r blockedReply) Result() (any, error) {
	<-r.release
	return conversation.Result{}, nil
}

// blockingDirectory records requests in order and answers each once
// release is closed.
type blockingDirectory struct {
	release chan struct{}
	mu      sync.Mutex
	got     []string
}

func (d *blockingDirectory) Send(conversation.Key, conversation.Command) {}

func (d *blockingDirectory) Request(key conversation.Key, msg conversation.Command, _ time.Duration) conversation.Reply {
	d.mu.Lock()
	defer d.mu.Unlock()
	if in, ok := msg.(conversation.Inbound); ok {
		d.got = append(d.got, key.WaID+":"+in.Msg.WaMessageID)
	}
	return blockedReply{release: d.release}
}

// The next batch goes out while the previous one's answers are awaited,
// and the entries in flight are not handed out again.
func TestNextBatchIsDispatchedWhileThePreviousIsInFlight(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx := context.Background()
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{
		{ID: actors.NewID(), Body: body("911", "w1"), ReceivedAt: time.Now().UTC()},
		{ID: actors.NewID(), Body: body("922", "w2"), ReceivedAt: time.Now().UTC()},
	}))
	dir := &blockingDirectory{release: make(chan struct{})}
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	d.batch = 1

	first, err := d.dispatch(ctx)
	require.NoError(t, err)
	second, err := d.dispatch(ctx)
	require.NoError(t, err)
	require.NotNil(t, second, "dispatched before the first batch was answered")
	require.Equal(t, []string{"911:w1", "922:w2"}, dir.got, "in inbox order, the entry in flight not again")
	again, err := d.dispatch(ctx)
	require.NoError(t, err)
	require.Nil(t, again, "neither entry in flight is read again")

	close(dir.release)
	require.NoError(t, d.finish(ctx, first))
	require.NoError(t, d.finish(ctx, second))
	require.NoError(t, d.flushDone(ctx, true))
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
}

// drainOnce applies one batch of pending entries, deletes the completed
// ones and returns how many it took.
func (d *Dispatcher) drainOnce(ctx context.Context) (int, error) {
	// As Run does, once the failed entries' retry waits (testRetry-scaled:
	// a quarter second at most) ended.
	for _, until := range d.deferred {
		if wait := time.Until(until); wait <= d.retry*retryCap {
			time.Sleep(wait)
		}
	}
	if d.deferralsDue(time.Now()) {
		d.Notify()
	}
	r, err := d.dispatch(ctx)
	if err != nil || r == nil {
		return 0, err
	}
	err = d.finish(ctx, r)
	if ferr := d.flushDone(ctx, true); err == nil {
		err = ferr
	}
	return len(r.entries), err
}

// failingErrors refuses value-level errors while down is set, then stores
// them in the real store.
type failingErrors struct {
	down  atomic.Bool
	store *sqlitestore.Store
}

func (f *failingErrors) AddWebhookErrors(ctx context.Context, rs []actors.WebhookErrorRecord) error {
	if f.down.Load() {
		return errors.New("store down")
	}
	return f.store.AddWebhookErrors(ctx, rs)
}

// TestValueErrorsAreKept: a body's value-level errors[] (no statuses) are
// stored for operators before the entry leaves the inbox; while they cannot
// be stored the entry stays and is retried; a retried entry stores each
// error once.
func TestValueErrorsAreKept(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx := context.Background()
	errBody := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",` +
		`"metadata":{"display_phone_number":"1","phone_number_id":"pn7"},"errors":[{"code":131042,"title":"Business eligibility payment issue",` +
		`"message":"Business eligibility payment issue","error_data":{"details":"Message failed to send because there were one or more errors related to your payment method."}},` +
		`{"code":368,"title":"Temporarily blocked for policies violations"}]}}]}]}`)
	at := time.Now().UTC().Truncate(time.Millisecond)
	id := actors.NewID()
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{{ID: id, Body: errBody, ReceivedAt: at}}))
	errs := &failingErrors{store: store}
	errs.down.Store(true)
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: &recordingDirectory{}, WebhookErrors: errs, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})

	_, err := d.drainOnce(ctx)
	require.Error(t, err, "not stored: the entry is retried")
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)

	errs.down.Store(false)
	_, err = d.drainOnce(ctx)
	require.NoError(t, err)
	pending, err = store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, pending)
	kept, err := store.ListWebhookErrors(ctx, "pn7", 10)
	require.NoError(t, err)
	require.Len(t, kept, 2)
	codes := []int{kept[0].Error.Code, kept[1].Error.Code}
	require.ElementsMatch(t, []int{131042, 368}, codes)
	for _, k := range kept {
		require.Equal(t, at, k.ReceivedAt)
		if k.Error.Code == 131042 {
			require.Contains(t, k.Error.Details, "payment method")
		}
	}
	// The same body again (a redelivery after a crash): stored once.
	require.NoError(t, d.errs.AddWebhookErrors(ctx, []actors.WebhookErrorRecord{{ID: id + "/0", PhoneNumberID: "pn7", Error: actors.WhatsAppError{Code: 131042}, ReceivedAt: at}}))
	kept, err = store.ListWebhookErrors(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, kept, 2)
}

// parkedDirectory refuses the conversation of wa as parked while parked
// is set, and answers every other one.
type parkedDirectory struct {
	recordingDirectory
	wa     string
	parked atomic.Bool
}

func (d *parkedDirectory) Request(key conversation.Key, msg conversation.Command, t time.Duration) conversation.Reply {
	if key.WaID == d.wa && d.parked.Load() {
		return reply{v: conversation.Failed(fmt.Errorf("parked: %w", conversation.ErrParked)), err: &conversation.Failure{Code: conversation.CodeParked, Message: "parked"}}
	}
	return d.recordingDirectory.Request(key, msg, t)
}

// TestParkedConversationDefersWithoutSpendingAttempts: an entry refused only
// because its conversation is parked is kept without counting attempts and
// is not read again for parkedRetry (the dispatcher does not spin on it),
// while the entries of other conversations are applied; after the park it
// is applied.
func TestParkedConversationDefersWithoutSpendingAttempts(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx := context.Background()
	now := time.Now().UTC()
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{
		{ID: actors.NewID(), Body: body("944", "wp1"), ReceivedAt: now},
		{ID: actors.NewID(), Body: body("955", "wp2"), ReceivedAt: now},
	}))
	dir := &parkedDirectory{wa: "944"}
	dir.parked.Store(true)
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	n, err := d.drainOnce(ctx)
	require.NoError(t, err, "a parked conversation is not a failed round")
	require.Equal(t, 2, n)
	for i := 0; i < MaxAttempts+3; i++ {
		n, err := d.drainOnce(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "the deferred entry is not read again at once")
	}
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Zero(t, pending[0].Attempts, "no attempt spent while parked")

	dir.parked.Store(false)
	require.Eventually(t, func() bool {
		_, _ = d.drainOnce(ctx)
		pending, err := store.PendingInbox(ctx, 10)
		return err == nil && len(pending) == 0
	}, 3*parkedRetry, 50*time.Millisecond, "applied after the park")
	require.Equal(t, []string{"955:wp2", "944:wp1"}, dir.got)
}

// testRetry is the tests' first retry wait (Options.Retry), so that an
// entry's attempts run out in seconds.
const testRetry = time.Millisecond

// flakyDirectory fails the commands of one customer while fail is set and
// records the others (recordingDirectory).
type flakyDirectory struct {
	recordingDirectory
	wa   string
	fail atomic.Bool
}

func (d *flakyDirectory) Request(key conversation.Key, msg conversation.Command, timeout time.Duration) conversation.Reply {
	if key.WaID == d.wa && d.fail.Load() {
		return reply{err: errors.New("conversation held up")}
	}
	return d.recordingDirectory.Request(key, msg, timeout)
}

// TestFailingEntryBacksOffInsteadOfSpendingItsAttempts: an entry whose
// conversation keeps failing (a write held up by a node that froze, say) is
// retried after growing waits, so it spends a few of its MaxAttempts in the
// first seconds, not all of them in back-to-back rounds (which set an
// accepted webhook aside within ~2 s); the other entries are applied
// meanwhile, and the failing one once its conversation recovers.
func TestFailingEntryBacksOffInsteadOfSpendingItsAttempts(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{{ID: actors.NewID(), Body: body("966", "wf1"), ReceivedAt: time.Now().UTC()}}))
	dir := &flakyDirectory{wa: "966"}
	dir.fail.Store(true)
	d := New(Options{Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	// Another customer's webhook arrives meanwhile and is applied.
	time.Sleep(300 * time.Millisecond)
	other := actors.InboxEntry{ID: actors.NewID(), Body: body("977", "wo1"), ReceivedAt: time.Now().UTC()}
	require.NoError(t, d.AppendInbox(ctx, []actors.InboxEntry{other}))
	d.Notify()
	require.Eventually(t, func() bool {
		dir.mu.Lock()
		defer dir.mu.Unlock()
		return slices.Contains(dir.got, "977:wo1")
	}, 5*time.Second, 10*time.Millisecond, "another conversation's entry is applied while one fails")

	// Attempts 1-4 fit in the first 1.75 s (waits of 250, 500, 1000 ms);
	// back-to-back rounds spent all 20 in that time.
	time.Sleep(2*time.Second - 300*time.Millisecond)
	pending, err := store.PendingInbox(ctx, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.GreaterOrEqual(t, pending[0].Attempts, 1)
	require.LessOrEqual(t, pending[0].Attempts, 5, "retries back off")

	dir.fail.Store(false)
	require.Eventually(t, func() bool {
		pending, err := store.PendingInbox(ctx, 10)
		return err == nil && len(pending) == 0
	}, 10*time.Second, 20*time.Millisecond, "applied once its conversation recovers")
	require.Contains(t, dir.got, "966:wf1")
}

// stuckDirectory holds the answers for one customer until release is
// closed and answers the others at once, recording every request.
type stuckDirectory struct {
	recordingDirectory
	wa      string
	release chan struct{}
}

func (d *stuckDirectory) Request(key conversation.Key, msg conversation.Command, timeout time.Duration) conversation.Reply {
	if key.WaID == d.wa {
		d.recordingDirectory.Request(key, msg, timeout)
		return blockedReply{release: d.release}
	}
	return d.recordingDirectory.Request(key, msg, timeout)
}

func (d *stuckDirectory) applied(w string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Contains(d.got, w)
}

// TestSlowConversationDoesNotHoldUpTheWebhooksBehindIt: while one
// conversation takes its time to answer (a write held up by a node that
// froze, a takeover), the webhooks accepted after it keep being handed to
// their conversations and completed, round after round; the slow one is
// completed once it answers.
func TestSlowConversationDoesNotHoldUpTheWebhooksBehindIt(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := &stuckDirectory{wa: "988", release: make(chan struct{})}
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	var once sync.Once
	release := func() { once.Do(func() { close(dir.release) }) }
	t.Cleanup(release) // before Run's: a failed check must not leave it waiting
	accept := func(wa, w string) {
		e := actors.InboxEntry{ID: actors.NewID(), Body: body(wa, w), ReceivedAt: time.Now().UTC()}
		require.NoError(t, d.AppendInbox(ctx, []actors.InboxEntry{e}))
		d.Accept([]actors.InboxEntry{e})
	}
	accept("988", "slow")
	require.Eventually(t, func() bool { return dir.applied("988:slow") }, 5*time.Second, time.Millisecond)
	// One webhook at a time, each its own round, well behind the slow one.
	for i := range 5 {
		w := fmt.Sprintf("next%d", i)
		accept("999", w)
		require.Eventuallyf(t, func() bool { return dir.applied("999:" + w) }, 5*time.Second, time.Millisecond,
			"webhook %d after the slow one is handed to its conversation while the slow one has not answered", i)
	}
	require.Eventually(t, func() bool {
		pending, err := store.PendingInbox(ctx, 10)
		return err == nil && len(pending) == 1
	}, 5*time.Second, 5*time.Millisecond, "the ones behind it are completed and deleted")
	release()
	require.Eventually(t, func() bool {
		pending, err := store.PendingInbox(ctx, 10)
		return err == nil && len(pending) == 0
	}, 5*time.Second, 5*time.Millisecond, "the slow one is completed once it answers")
}

// openSQLite is a fresh SQLite store, closed when the test ends.
func openSQLite(t *testing.T) *sqlitestore.Store {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// redeliveryDirectory records, per wamid, whether each Inbound it got was
// marked a redelivery, and fails the first delivery of failFirst.
type redeliveryDirectory struct {
	mu        sync.Mutex
	got       map[string][]bool
	failFirst string
}

func (d *redeliveryDirectory) Send(conversation.Key, conversation.Command) {}

func (d *redeliveryDirectory) Request(_ conversation.Key, cmd conversation.Command, _ time.Duration) conversation.Reply {
	in, ok := cmd.(conversation.Inbound)
	if !ok {
		return reply{v: conversation.Result{}}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got[in.Msg.WaMessageID] = append(d.got[in.Msg.WaMessageID], in.Redelivery)
	if in.Msg.WaMessageID == d.failFirst && len(d.got[in.Msg.WaMessageID]) == 1 {
		return reply{err: errors.New("no answer")}
	}
	return reply{v: conversation.Result{}}
}

// TestInboundIsMarkedARedeliveryWhenItMayHaveBeenAppliedBefore: an entry
// this process accepted goes out as a first delivery; its retry, and an
// entry it did not accept (another node's, or an earlier run's), go out as
// redeliveries, so that a conversation that finds the message stored
// announces it again (the attempt that stored it may have died before);
// Meta's own second delivery of a wamid is a fresh entry, not one.
func TestInboundIsMarkedARedeliveryWhenItMayHaveBeenAppliedBefore(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	ctx := context.Background()
	dir := &redeliveryDirectory{got: map[string][]bool{}, failFirst: "w-retried"}
	d := New(Options{Retry: testRetry, Store: store, Parse: webhook.Parse, Directory: dir, Log: zap.NewNop(), Registry: prometheus.NewRegistry()})
	now := time.Now().UTC()
	mine := []actors.InboxEntry{
		{ID: actors.NewID(), Body: body("911", "w-fresh"), ReceivedAt: now},
		{ID: actors.NewID(), Body: body("911", "w-fresh"), ReceivedAt: now},
		{ID: actors.NewID(), Body: body("922", "w-retried"), ReceivedAt: now},
	}
	require.NoError(t, d.AppendInbox(ctx, mine))
	require.NoError(t, store.AppendInbox(ctx, []actors.InboxEntry{{ID: actors.NewID(), Body: body("933", "w-other"), ReceivedAt: now}}))
	for range 3 {
		_, _ = d.drainOnce(ctx)
	}
	dir.mu.Lock()
	defer dir.mu.Unlock()
	assert.Equal(t, []bool{false, false}, dir.got["w-fresh"], "accepted here: Meta's two deliveries are first deliveries")
	assert.Equal(t, []bool{false, true}, dir.got["w-retried"], "its retry is a redelivery")
	assert.Equal(t, []bool{true}, dir.got["w-other"], "not accepted by this process: a redelivery")
}
