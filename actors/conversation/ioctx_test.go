package conversation

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIOContextEndsAtItsDeadline(t *testing.T) {
	t.Parallel()
	ctx := newIOContext(20 * time.Millisecond)
	defer ctx.finish()
	require.NoError(t, ctx.Err())
	at, ok := ctx.Deadline()
	require.True(t, ok)
	<-ctx.Done()
	require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	require.False(t, time.Now().Before(at))

	// Without Done ever asked for, Err still reports the deadline.
	lazy := newIOContext(time.Millisecond)
	defer lazy.finish()
	for lazy.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	require.ErrorIs(t, lazy.Err(), context.DeadlineExceeded)
	<-lazy.Done()
}

func TestIOContextFinishCancels(t *testing.T) {
	t.Parallel()
	asked := newIOContext(time.Hour)
	done := asked.Done()
	asked.finish()
	<-done
	require.ErrorIs(t, asked.Err(), context.Canceled)

	unasked := newIOContext(time.Hour)
	unasked.finish()
	require.ErrorIs(t, unasked.Err(), context.Canceled)
	<-unasked.Done()
	unasked.finish()

	// A child derived from it ends with it, as store drivers derive them.
	parent := newIOContext(time.Hour)
	child, cancel := context.WithTimeout(parent, time.Hour)
	defer cancel()
	parent.finish()
	<-child.Done()
	require.ErrorIs(t, child.Err(), context.Canceled)
}

func TestIOContextEndBy(t *testing.T) {
	t.Parallel()
	ctx := newIOContext(time.Hour)
	defer ctx.finish()
	soon := time.Now().Add(10 * time.Millisecond)
	ctx.endBy(soon)
	ctx.endBy(time.Now().Add(2 * time.Hour))
	at, _ := ctx.Deadline()
	require.Equal(t, soon, at)
	<-ctx.Done()
	require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
}

// A context derived from one whose Done was asked for ends with it without
// a goroutine of its own watching it: the derived context's cause is the
// parent's, reported at once by context.Cause.
func TestIOContextDerivedHooksOn(t *testing.T) {
	t.Parallel()
	parent := newIOContext(time.Hour)
	_ = parent.Done()
	child, cancel := context.WithCancel(parent)
	defer cancel()
	parent.finish()
	// Cancelled synchronously by the parent's cancel: no watcher goroutine
	// had to run first.
	select {
	case <-child.Done():
	default:
		t.Fatal("derived context not ended with its parent")
	}
	require.ErrorIs(t, context.Cause(child), context.Canceled)
}
