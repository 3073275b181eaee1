package redisbus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/wacc/engine/actors"
)

// replayPage is how many entries one XRANGE of a replay reads.
const replayPage = 500

// Replay calls fn with every event of the stream after cursor, in order,
// up to the stream's end as it was when the replay began, until fn
// answers false. An event that repeats one of its node's (a retried
// write) is skipped. The error wraps actors.ErrCursorExpired when entries
// after cursor were already trimmed (the socket must reload instead), and
// actors.ErrUnavailable when Redis failed.
func (r *Relay) Replay(ctx context.Context, cursor string, fn func(actors.Event) bool) error {
	from, err := parseID(cursor)
	if err != nil {
		return fmt.Errorf("replay after %q: %w", cursor, err)
	}
	info, err := r.rdb.XInfoStream(ctx, r.stream).Result()
	if err != nil {
		if isNoStream(err) {
			// No event was ever kept: only the empty cursor is one this
			// stream could have handed out.
			if from != (streamID{}) {
				return fmt.Errorf("replay after %s: no event stream: %w", cursor, actors.ErrCursorExpired)
			}
			return nil
		}
		return fmt.Errorf("replay after %s: xinfo %s: %w: %w", cursor, r.stream, actors.ErrUnavailable, err)
	}
	// Trimming (MAXLEN) removes the oldest entries: when some were
	// removed, a cursor before the first entry kept may miss some (unless
	// it was the last one removed: then the client reloads for nothing).
	// XDEL'd entries (none of ours) count through max-deleted-entry-id.
	trimmed := info.EntriesAdded > info.Length
	if first, err := parseID(info.FirstEntry.ID); err == nil && trimmed && from.less(first) {
		return fmt.Errorf("replay after %s: entries before %s were trimmed: %w", cursor, info.FirstEntry.ID, actors.ErrCursorExpired)
	}
	if deleted, err := parseID(info.MaxDeletedEntryID); err == nil && from.less(deleted) {
		return fmt.Errorf("replay after %s: entries up to %s were deleted: %w", cursor, info.MaxDeletedEntryID, actors.ErrCursorExpired)
	}
	end := info.LastGeneratedID
	switch {
	case mustID(end).less(from):
		// Never handed out by this stream (Redis lost it, or another
		// prefix): live events would all look older than it.
		return fmt.Errorf("replay after %s: past the stream's last event %s: %w", cursor, end, actors.ErrCursorExpired)
	case !from.less(mustID(end)):
		return nil
	}
	seen := dedup{}
	next := "(" + cursor
	for {
		msgs, err := r.rdb.XRangeN(ctx, r.stream, next, end, replayPage).Result()
		if err != nil {
			return fmt.Errorf("replay after %s: xrange %s: %w: %w", cursor, r.stream, actors.ErrUnavailable, err)
		}
		for _, m := range msgs {
			e, err := decode(m.ID, m.Values)
			if err != nil {
				r.malformed.Add(1)
				continue
			}
			if seen.repeat(e) {
				continue
			}
			if !fn(e.ev) {
				return nil
			}
		}
		if len(msgs) < replayPage {
			return nil
		}
		next = "(" + msgs[len(msgs)-1].ID
	}
}

func isNoStream(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && strings.Contains(err.Error(), "no such key")
}

// streamID is a Redis stream entry id, <ms>-<seq>.
type streamID struct{ ms, seq uint64 }

func parseID(s string) (streamID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, fmt.Errorf("stream id %q: want <ms>-<seq>", s)
	}
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return streamID{}, fmt.Errorf("stream id %q: want <ms>-<seq>", s)
	}
	return streamID{a, b}, nil
}

func mustID(s string) streamID {
	id, _ := parseID(s)
	return id
}

func (a streamID) less(b streamID) bool { return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq) }

// NewNodeID returns a node name for this process: its host name, its pid
// and a random part, so a restarted node is a new one.
func NewNodeID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "node"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:8])
}
