package agentsession

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Replayer returns the events published after a cursor (the cluster's
// event stream, persistence/redisbus). Replay calls fn with each, in
// order, up to the present, until fn answers false; the error wraps
// actors.ErrCursorExpired when some after cursor are no longer kept, or
// actors.ErrUnavailable.
type Replayer interface {
	Replay(ctx context.Context, cursor string, fn func(actors.Event) bool) error
}

// Reasons a session.resync frame gives when a resume could not replay.
const (
	// ResyncCursorExpired: events after the cursor are no longer kept, or
	// this engine keeps none (it runs alone).
	ResyncCursorExpired = "cursor_expired"
	// ResyncTooMany: more frames were missed than a socket is sent at once
	// (Options.MaxReplay).
	ResyncTooMany = "too_many"
	// ResyncUnavailable: the event stream could not be read.
	ResyncUnavailable = "unavailable"
)

// DefaultMaxReplay is how many missed frames a resume sends at most; more
// and the client reloads through the API instead.
const DefaultMaxReplay = 128

// maxResumeEarly bounds the live events a resuming session keeps while its
// replay is read (maxEarlyEvents for a fresh one).
const maxResumeEarly = 4096

// cursor is a parsed event cursor, "<ms>-<seq>" (a Redis stream id).
type cursor struct{ ms, seq uint64 }

// ValidCursor reports whether s is a cursor as frames carry them
// ("<ms>-<seq>", two decimal numbers); the socket refuses any other.
func ValidCursor(s string) bool {
	_, ok := parseCursor(s)
	return ok
}

func parseCursor(s string) (cursor, bool) {
	if len(s) > 41 {
		return cursor{}, false
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return cursor{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		return cursor{}, false
	}
	return cursor{ms, seq}, true
}

// after reports whether frame cursor s comes after through; a frame
// without a cursor (delivered without the stream) always does.
func after(s string, through cursor) bool {
	c, ok := parseCursor(s)
	if !ok {
		return true
	}
	return c.ms > through.ms || (c.ms == through.ms && c.seq > through.seq)
}

// replayed is the outcome of a resume's replay, piped back to the actor.
type replayed struct {
	frames []*Frame
	// through is the cursor of the last event read (the resume cursor when
	// none); live events up to it were replayed already.
	through string
	// reason is set when the replay could not be sent (Resync*).
	reason string
}

// visibleTo reports whether ev is for a session of user (watcher: a
// supervisor or admin), by the rules Publish applies.
func visibleTo(ev actors.Event, user string, watcher bool) bool {
	if ev.UserID != "" {
		return ev.UserID == user
	}
	return watcher || ev.AssigneeID == user || ev.PreviousAssigneeID == user
}

// startReplay reads, off the mailbox, the events after the session's
// resume cursor that its user may see, and sends them back as replayed.
func (a *sessionActor) startReplay(c actor.Context) {
	s := a.s
	rp, max := s.hub.opts.Replay, s.hub.opts.MaxReplay
	self, system, ctx := c.Self(), c.ActorSystem(), a.ctx
	s.work.Go(func() {
		out := replayed{through: s.resume}
		if rp == nil {
			out.reason = ResyncCursorExpired
			system.Root.Send(self, out)
			return
		}
		rctx, cancel := context.WithTimeout(ctx, CommandTimeout)
		defer cancel()
		err := rp.Replay(rctx, s.resume, func(ev actors.Event) bool {
			if ev.Cursor != "" {
				out.through = ev.Cursor
			}
			if !visibleTo(ev, s.user.ID, s.watcher) {
				return true
			}
			if len(out.frames) >= max {
				out.reason = ResyncTooMany
				return false
			}
			out.frames = append(out.frames, eventFrame(ev.Type, ev.ConversationID, ev.Data, ev.Cursor, s.hub.log))
			return true
		})
		switch {
		case errors.Is(err, actors.ErrCursorExpired):
			out.reason = ResyncCursorExpired
		case err != nil:
			out.reason = ResyncUnavailable
			s.hub.log.Warn("agent session could not replay; the client reloads", zap.String("agent_id", s.user.ID), zap.Error(err))
		}
		if out.reason != "" {
			out.frames = nil
		}
		system.Root.Send(self, out)
	})
}

// resumed makes a resuming session Active: hello, then the replayed
// frames (or a session.resync saying why there are none), then the live
// events kept meanwhile that were not replayed already.
func (a *sessionActor) resumed(c actor.Context, r replayed) {
	if a.state != StateNew || a.s.closing.Load() {
		return
	}
	through := r.through
	if r.reason != "" {
		// Nothing replayed: the client reloads, and resumes later from
		// where this node's live events start.
		through = a.s.helloCursor
	}
	hello := a.frame(FrameHello, helloData{UserID: a.s.user.ID, Role: a.s.user.Role, ServerTime: a.now(),
		ExpiresAt: timePtr(a.expiresAt), Cursor: through})
	frames := append([]*Frame{hello}, r.frames...)
	if r.reason != "" {
		since := a.now()
		if cur, ok := parseCursor(a.s.resume); ok {
			since = time.UnixMilli(int64(cur.ms)).UTC()
		}
		frames = append(frames, a.frame(FrameSessionResync, resyncData{Since: since, Reason: r.reason}))
	}
	if r.reason == "" {
		through, _ := parseCursor(r.through)
		a.s.outMu.Lock()
		a.s.through, a.s.filterEarly = through, true
		a.s.unlockOut()
	}
	a.activate(c)
	if !a.s.transition(StateActive, frames...) {
		a.tooSlow(c)
	}
}
