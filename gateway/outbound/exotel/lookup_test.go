package exotel_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/outbound/exotel"
	sandbox "github.com/wacc/engine/gateway/sandbox/exotel"
)

func TestDetailsOfACompletedCall(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, nil)
	placed, err := c.Connect(context.Background(), request("call-d", custOK))
	require.NoError(t, err)
	waitStatus(t, c, placed.Sid, actors.CallCompleted)

	d, err := c.Details(context.Background(), placed.Sid)
	require.NoError(t, err)
	assert.Equal(t, placed.Sid, d.Sid)
	assert.Equal(t, 42, d.DurationSec, "the talk time, not the ringing")
	assert.Contains(t, d.RecordingURL, placed.Sid)
	assert.False(t, d.EndedAt.IsZero())
	assert.WithinDuration(t, time.Now(), d.EndedAt, time.Minute, "EndTime read in IST")
	got := e.rec.last(t)
	assert.Equal(t, "/v1/Accounts/"+testSID+"/Calls/"+placed.Sid+".json", got.path)
	assert.Equal(t, "true", got.query.Get("details"))
}

func TestDetailsWhileRingingAndOfABusyCall(t *testing.T) {
	e := newEnv(t, func(o *sandbox.Options) { o.RingDelay = 200 * time.Millisecond })
	c := e.client(t, nil)
	placed, err := c.Connect(context.Background(), request("call-b", custBusy))
	require.NoError(t, err)
	d, err := c.Details(context.Background(), placed.Sid)
	require.NoError(t, err)
	assert.Equal(t, actors.CallInProgress, d.Status, "Exotel's in-progress while the call runs")
	assert.True(t, d.EndedAt.IsZero())

	waitStatus(t, c, placed.Sid, actors.CallBusy)
	d, err = c.Details(context.Background(), placed.Sid)
	require.NoError(t, err)
	assert.Zero(t, d.DurationSec)
	assert.Empty(t, d.RecordingURL)
	assert.False(t, d.EndedAt.IsZero())
}

func TestDetailsErrors(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, nil)
	_, err := c.Details(context.Background(), "0123456789abcdef0123456789abcdef")
	require.ErrorIs(t, err, actors.ErrNotFound)

	_, err = c.Details(context.Background(), "a/b")
	require.ErrorIs(t, err, exotel.ErrInvalid)

	_, err = e.client(t, func(o *exotel.Options) { o.APIKey = "other" }).Details(context.Background(), "abc")
	ae, ok := errors.AsType[*exotel.APIError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, http.StatusUnauthorized, ae.HTTPStatus)
	assert.NotErrorIs(t, err, actors.ErrUnavailable)
	assert.True(t, exotel.Classify(err).Auth)

	down, err := exotel.NewClient(e.options(func(o *exotel.Options) { o.BaseURL = "http://127.0.0.1:1" }))
	require.NoError(t, err)
	_, err = down.Details(context.Background(), "abc")
	require.ErrorIs(t, err, actors.ErrUnavailable)
	_, found, err := down.FindPlaced(context.Background(), agentNum, custOK, time.Now())
	require.ErrorIs(t, err, actors.ErrUnavailable)
	assert.False(t, found)
}

// TestFindPlacedFindsACallWhoseConnectTimedOut is the recovery of a lost
// connect answer: the 0009 call was placed, the client saw a timeout, and
// the lookup finds its sid.
func TestFindPlacedFindsACallWhoseConnectTimedOut(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, func(o *exotel.Options) { o.Timeout = 200 * time.Millisecond })
	started := time.Now()
	_, err := c.Connect(context.Background(), request("call-t", custTimeout))
	require.Equal(t, exotel.Unknown, exotel.Classify(err).Action)
	calls := e.sb.CallsTo(custTimeout)
	require.Len(t, calls, 1)

	d, found, err := c.FindPlaced(context.Background(), agentNum, custTimeout, started)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, calls[0].Sid, d.Sid)
	assert.NotEmpty(t, d.Status)

	got := e.rec.last(t)
	assert.Equal(t, "/v1/Accounts/"+testSID+"/Calls.json", got.path)
	assert.Equal(t, agentNum, got.query.Get("From"))
	assert.Equal(t, custTimeout, got.query.Get("To"))
	assert.Regexp(t, `^gte:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d;lte:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`, got.query.Get("DateCreated"))

	_, found, err = c.FindPlaced(context.Background(), agentNum, custOK, started)
	require.NoError(t, err)
	assert.False(t, found, "another customer")
	_, found, err = c.FindPlaced(context.Background(), "+919800000002", custTimeout, started)
	require.NoError(t, err)
	assert.False(t, found, "another agent")
	_, found, err = c.FindPlaced(context.Background(), agentNum, custTimeout, time.Now().Add(2*time.Second))
	require.NoError(t, err)
	assert.False(t, found, "created before since")
}

func TestFindPlacedPicksTheOldestSinceAndReadsExotelsClock(t *testing.T) {
	// The sandbox's clock runs three hours behind ours: since is compared
	// with DateCreated as Exotel wrote it, read in IST.
	// The sandbox reads its clock from its own goroutines (a call's life).
	var offset atomic.Int64
	e := newEnv(t, func(o *sandbox.Options) {
		o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	c := e.client(t, nil)
	offset.Store(int64(-3 * time.Hour))
	first, err := c.Connect(context.Background(), request("call-1", custOK))
	require.NoError(t, err)
	offset.Store(int64(-3*time.Hour + 10*time.Second))
	_, err = c.Connect(context.Background(), request("call-2", custOK))
	require.NoError(t, err)

	base := time.Now().Add(-3 * time.Hour)
	d, found, err := c.FindPlaced(context.Background(), agentNum, custOK, base.Add(-time.Minute))
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, first.Sid, d.Sid, "the oldest call at or after since")

	d, found, err = c.FindPlaced(context.Background(), agentNum, custOK, base.Add(5*time.Second))
	require.NoError(t, err)
	require.True(t, found)
	assert.NotEqual(t, first.Sid, d.Sid, "the first call is before since")

	_, found, err = c.FindPlaced(context.Background(), agentNum, custOK, base.Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, found)
}
