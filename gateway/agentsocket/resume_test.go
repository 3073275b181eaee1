package agentsocket_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
	"github.com/wacc/engine/gateway/agentsocket"
)

// sliceReplayer replays the events it holds whose cursor's first number is
// above the cursor's.
type sliceReplayer []actors.Event

func (r sliceReplayer) Replay(_ context.Context, cursor string, fn func(actors.Event) bool) error {
	var from int
	_, _ = fmt.Sscanf(cursor, "%d-0", &from)
	for _, ev := range r {
		var n int
		_, _ = fmt.Sscanf(ev.Cursor, "%d-0", &n)
		if n > from && !fn(ev) {
			return nil
		}
	}
	return nil
}

func TestSocketResumingWithCursorGetsTheFramesItMissed(t *testing.T) {
	var missed sliceReplayer
	for n := 1; n <= 3; n++ {
		missed = append(missed, actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1",
			Data: map[string]int{"n": n}, Cursor: fmt.Sprintf("%d-0", n)})
	}
	h := newHarnessWith(t, agentsession.Options{Replay: missed})
	_, url := h.serve(t, agentsocket.Options{})
	c := dial(t, url, "a1&cursor=1-0")
	hello := c.next(t)
	require.Equal(t, agentsession.FrameHello, hello.Type)
	var hd struct{ Cursor string }
	require.NoError(t, json.Unmarshal(hello.Data, &hd))
	assert.Equal(t, "3-0", hd.Cursor, "hello names the last event read")
	for _, want := range []string{"2-0", "3-0"} {
		f := c.next(t)
		assert.Equal(t, actors.EventMessageCreated, f.Type)
		assert.Equal(t, want, f.Cursor)
	}
	h.hub.Publish(actors.Event{Type: actors.EventMessageCreated, ConversationID: "c1", AssigneeID: "a1", Data: map[string]int{"n": 4}, Cursor: "4-0"})
	assert.Equal(t, "4-0", c.next(t).Cursor, "then live")
}

func TestSocketWithMalformedCursorIsRefusedBeforeTheUpgrade(t *testing.T) {
	h := newHarness(t)
	_, url := h.serve(t, agentsocket.Options{})
	for _, bad := range []string{"abc", "1-", "-1", "1-2-3", "99999999999999999999-0"} {
		t.Run(bad, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, strings.Replace(url, "ws://", "http://", 1)+"/ws?user=a1&cursor="+bad, nil)
			require.NoError(t, err)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer func() { _ = res.Body.Close() }()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusBadRequest, res.StatusCode)
			var e struct {
				Code   string
				Errors []struct{ Field, Code string }
			}
			require.NoError(t, json.Unmarshal(body, &e), "%s", body)
			assert.Equal(t, "VALIDATION_ERROR", e.Code)
			require.Len(t, e.Errors, 1)
			assert.Equal(t, "cursor", e.Errors[0].Field)
			assert.Equal(t, "INVALID_CURSOR", e.Errors[0].Code)
		})
	}
	// The refusal gave its socket slot back: a good socket still opens.
	c := dial(t, url, "a1")
	assert.Equal(t, agentsession.FrameHello, c.next(t).Type)
}
