package conversation

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// TestHeldGivesBackWhatItWasGiven: whatever open conversation an actor
// holds, it reads back the same, compact when it fits and whole (wide) when
// it does not.
func TestHeldGivesBackWhatItWasGiven(t *testing.T) {
	t.Parallel()
	key := Key{PhoneNumberID: "106540352242922", WaID: "4915112345678"}
	at := time.Date(2025, 6, 2, 9, 0, 0, 123_000_000, time.UTC)
	base := actors.Conversation{
		ID: "c1", CustomerID: "cu1", PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, State: actors.StateActive,
		AssigneeID: "ag-1", LastInboundAt: at, LastOutboundAt: at.Add(time.Second), ExpiresAt: at.Add(24 * time.Hour),
		NextTimerAt: at.Add(23 * time.Hour), WarnedAt: at.Add(time.Minute), Unread: 3, Seq: 7, Version: 9,
		CreatedAt: at.Add(-time.Hour), UpdatedAt: at.Add(time.Second),
	}
	tests := []struct {
		name   string
		change func(c *actors.Conversation)
		wide   bool
	}{
		{name: "active", change: func(*actors.Conversation) {}},
		{name: "new, no times", change: func(c *actors.Conversation) {
			*c = actors.Conversation{ID: "c1", CustomerID: "cu1", PhoneNumberID: key.PhoneNumberID, WaID: key.WaID, State: actors.StateNew, Version: 1}
		}},
		{name: "expired", change: func(c *actors.Conversation) { c.State, c.NextTimerAt = actors.StateExpired, time.Time{} }},
		{name: "nanoseconds", change: func(c *actors.Conversation) { c.UpdatedAt = c.UpdatedAt.Add(1) }},
		{name: "another state", change: func(c *actors.Conversation) { c.State = "pending" }, wide: true},
		{name: "closed at", change: func(c *actors.Conversation) { c.ClosedAt = at }, wide: true},
		{name: "not in UTC", change: func(c *actors.Conversation) { c.LastInboundAt = at.In(time.FixedZone("CET", 3600)) }, wide: true},
		{name: "monotonic reading", change: func(c *actors.Conversation) { c.CreatedAt = time.Now() }, wide: true},
		{name: "year 3000", change: func(c *actors.Conversation) { c.ExpiresAt = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }, wide: true},
		{name: "the epoch", change: func(c *actors.Conversation) { c.WarnedAt = time.Unix(0, 0).UTC() }, wide: true},
		{name: "unread past int32", change: func(c *actors.Conversation) { c.Unread = math.MaxInt32 + 1 }, wide: true},
		{name: "another key", change: func(c *actors.Conversation) { c.WaID = "4915100000000" }, wide: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := base
			tt.change(&c)
			var h held
			h.set(&c, key)
			assert.Equal(t, tt.wide, h.wide != nil, "kept whole")
			got := h.conversation(key)
			require.Equal(t, c, got)
			assert.True(t, got == c, "the same times, to their locations")
			assert.Equal(t, c.State, h.State())
			assert.True(t, c.NextTimerAt.Equal(h.NextTimerAt()))
			assert.Equal(t, c.Unread == 0, h.unreadZero())
			assert.Equal(t, c.ID, h.ID)

			// Holding a compact one after a wide one forgets the wide.
			h.set(&base, key)
			assert.Nil(t, h.wide)
			assert.Equal(t, base, h.conversation(key))
		})
	}
}
