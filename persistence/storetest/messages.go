package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func msg(id, convID string, created time.Time) actors.Message {
	return actors.Message{
		ID:             id,
		ConversationID: convID,
		Direction:      actors.DirectionInbound,
		Type:           "text",
		Text:           "hello " + id,
		Content:        json.RawMessage(`{"body":"hello ` + id + `"}`),
		Status:         "received",
		WaMessageID:    "wamid." + id,
		Seq:            1,
		Raw:            json.RawMessage(`{"from":"491511","id":"wamid.` + id + `","type":"text","text":{"body":"hello"}}`),
		CreatedAt:      created,
		UpdatedAt:      created,
	}
}

func outbound(id, convID string, created time.Time) actors.Message {
	m := msg(id, convID, created)
	m.Direction = actors.DirectionOutbound
	m.Status = actors.StatusQueued
	m.WaMessageID = ""
	m.Raw = nil
	return m
}

// assertMessage compares messages, Content and Raw as JSON (nil and empty
// are equivalent).
func assertMessage(t *testing.T, want, got actors.Message, msgAndArgs ...any) {
	t.Helper()
	assertJSON(t, want.Content, got.Content, "Content")
	assertJSON(t, want.Raw, got.Raw, "Raw")
	want.Content, want.Raw, got.Content, got.Raw = nil, nil, nil, nil
	assert.Equal(t, want, got, msgAndArgs...)
}

func assertJSON(t *testing.T, want, got json.RawMessage, field string) {
	t.Helper()
	if len(want) == 0 {
		assert.Empty(t, got, "%s must come back empty", field)
		return
	}
	assert.JSONEq(t, string(want), string(got), field)
}

func mustMessage(t *testing.T, ctx context.Context, s actors.ConversationsStore, wamid string) actors.Message {
	t.Helper()
	m, err := s.MessageByWaID(ctx, wamid)
	require.NoError(t, err, "message %s", wamid)
	return m
}

func msgIDs(ms []actors.Message) []string {
	return idsOf(ms, func(x actors.Message) string { return x.ID })
}

// allMessages lists every message of a conversation (newest first).
func allMessages(t *testing.T, ctx context.Context, s actors.ConversationsStore, convID string) []actors.Message {
	t.Helper()
	ms, _, err := s.ListMessages(ctx, convID, "", 1000)
	require.NoError(t, err)
	return ms
}

func runMessages(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	runCases(t, open, []convCase{
		{name: "append then read by wamid", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := msg("m0001", "c0001", base)
			m.Seq = 12
			m.UpdatedAt = base.Add(time.Second)
			require.NoError(t, s.AppendMessage(ctx, m))
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))
			_, err := s.MessageByWaID(ctx, "wamid.nope")
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
		{name: "append and save: the message and the conversation's next state", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			c := conv("c0001", "491511")
			require.NoError(t, s.CreateConversation(ctx, c))
			m := msg("m0001", "c0001", base)
			m.Seq = 8
			next := created(c)
			next.Version, next.Seq, next.Unread, next.UpdatedAt = 2, 8, 4, base.Add(time.Minute)
			require.NoError(t, s.AppendMessageAndSave(ctx, m, next))
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))
			assert.Equal(t, next, mustConv(t, ctx, s, "c0001"))

			// A duplicate wamid changes nothing.
			dup := msg("m0002", "c0001", base)
			dup.WaMessageID = m.WaMessageID
			later := next
			later.Version, later.Seq = 3, 9
			require.ErrorIs(t, s.AppendMessageAndSave(ctx, dup, later), actors.ErrDuplicate)
			assert.Equal(t, next, mustConv(t, ctx, s, "c0001"))
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))

			// A stale version is a conflict and leaves the conversation.
			stale := next
			stale.Seq = 99
			require.ErrorIs(t, s.AppendMessageAndSave(ctx, msg("m0003", "c0001", base), stale), actors.ErrConflict)
			assert.Equal(t, next, mustConv(t, ctx, s, "c0001"))
			missing := conv("c0404", "491599")
			missing.Version = 2
			require.ErrorIs(t, s.AppendMessageAndSave(ctx, msg("m0004", "c0404", base), missing), actors.ErrNotFound)
		}},
		{name: "append and save: a duplicate message id is ErrDuplicate and changes nothing", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			// The conversation actor stores a send without looking for its
			// id first: the store's refusal is how it learns of a send of
			// the same message again.
			c := conv("c0001", "491511")
			require.NoError(t, s.CreateConversation(ctx, c))
			m := outbound("m0001", "c0001", base)
			m.Seq = 3
			next := created(c)
			next.Version, next.LastOutboundAt, next.UpdatedAt = 2, base, base
			require.NoError(t, s.AppendMessageAndSave(ctx, m, next))
			changed, err := s.UpdateMessageStatus(ctx, "m0001", actors.StatusSent, "wamid.sent", nil, base.Add(time.Second))
			require.NoError(t, err)
			require.True(t, changed)

			again := outbound("m0001", "c0001", base.Add(time.Minute))
			again.Text, again.Content = "another text", json.RawMessage(`{"body":"another text"}`)
			later := next
			later.Version, later.LastOutboundAt, later.UpdatedAt = 3, base.Add(time.Minute), base.Add(time.Minute)
			err = s.AppendMessageAndSave(ctx, again, later)
			require.ErrorIs(t, err, actors.ErrDuplicate)
			assert.NotErrorIs(t, err, actors.ErrConflict)
			assert.NotErrorIs(t, err, actors.ErrNotFound)
			assert.Equal(t, next, mustConv(t, ctx, s, "c0001"), "the conversation is not saved")
			stored := allMessages(t, ctx, s, "c0001")
			require.Len(t, stored, 1)
			want := m
			want.Status, want.WaMessageID, want.UpdatedAt = actors.StatusSent, "wamid.sent", base.Add(time.Second)
			assertMessage(t, want, stored[0], "the stored message is left as it was")

			// The same id in another conversation is as much a duplicate.
			other := conv("c0002", "491522")
			require.NoError(t, s.CreateConversation(ctx, other))
			otherNext := created(other)
			otherNext.Version = 2
			require.ErrorIs(t, s.AppendMessageAndSave(ctx, outbound("m0001", "c0002", base), otherNext), actors.ErrDuplicate)
			assert.Equal(t, created(other), mustConv(t, ctx, s, "c0002"))
			assert.Empty(t, allMessages(t, ctx, s, "c0002"))
		}},
		{name: "content and raw round-trip as JSON", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			tests := []struct {
				name    string
				content string
				raw     string
			}{
				{name: "nested objects, unicode and escapes",
					content: `{"body":"Grüße 👋 \"quoted\" \\ <b>&amp;</b>","preview_url":false,"nested":{"a":[1,2.5,null,true],"empty":{}}}`,
					raw:     `{"from":"491511","id":"wamid.x","timestamp":"1741944413","type":"text","text":{"body":"Grüße"},"unknown_field":{"kept":[{"deep":1}]}}`},
				{name: "large numbers and arrays",
					content: `{"latitude":52.520008,"longitude":13.404954,"ids":[9007199254740993,1e21]}`,
					raw:     `[{"a":1},{"b":[]}]`},
				{name: "empty content", content: "", raw: `{"type":"unsupported","errors":[{"code":131051}]}`},
			}
			for i, tt := range tests {
				m := msg(fmt.Sprintf("m%04d", i), "c0001", base.Add(time.Duration(i)*time.Second))
				m.Content, m.Raw = nil, nil
				if tt.content != "" {
					m.Content = json.RawMessage(tt.content)
				}
				m.Raw = json.RawMessage(tt.raw)
				require.NoError(t, s.AppendMessage(ctx, m), tt.name)
				assertMessage(t, m, mustMessage(t, ctx, s, m.WaMessageID), tt.name)
			}
		}},
		{name: "error round-trips", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := msg("m0001", "c0001", base)
			m.Direction = actors.DirectionOutbound
			m.Status = actors.StatusFailed
			m.Error = &actors.WhatsAppError{Code: 131047, Title: "Re-engagement message", Message: "More than 24 hours",
				Details: "Message failed to send because more than 24 hours have passed", Href: "https://developers.facebook.com/docs"}
			require.NoError(t, s.AppendMessage(ctx, m))
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))

			ok := msg("m0002", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, ok))
			assert.Nil(t, mustMessage(t, ctx, s, "wamid.m0002").Error, "no error comes back as nil")
		}},
		{name: "duplicate id is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := msg("m0001", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, m))
			dup := msg("m0001", "c0001", base.Add(time.Second))
			dup.WaMessageID = "wamid.other"
			require.ErrorIs(t, s.AppendMessage(ctx, dup), actors.ErrDuplicate)
			_, err := s.MessageByWaID(ctx, "wamid.other")
			assert.ErrorIs(t, err, actors.ErrNotFound)
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))
		}},
		{name: "duplicate wamid is ErrDuplicate", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := msg("m0001", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, m))
			dup := msg("m0002", "c0002", base.Add(time.Second))
			dup.WaMessageID = "wamid.m0001"
			require.ErrorIs(t, s.AppendMessage(ctx, dup), actors.ErrDuplicate)
			assertMessage(t, m, mustMessage(t, ctx, s, "wamid.m0001"))
			assert.Empty(t, allMessages(t, ctx, s, "c0002"))
		}},
		{name: "several outbound messages without wamid are fine", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			for i := range 3 {
				require.NoError(t, s.AppendMessage(ctx, outbound(fmt.Sprintf("m%04d", i), "c0001", base.Add(time.Duration(i)*time.Second))))
			}
			assert.Equal(t, []string{"m0002", "m0001", "m0000"}, msgIDs(allMessages(t, ctx, s, "c0001")))
			_, err := s.MessageByWaID(ctx, "")
			assert.ErrorIs(t, err, actors.ErrNotFound, "the empty wamid names no message")
		}},
		{name: "status moves only forward", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := outbound("m0001", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, m))
			sec := time.Second
			steps := []struct {
				name        string
				status      string
				wamid       string
				at          time.Time
				wantChanged bool
				wantStatus  string
				wantWamid   string
				wantUpdated time.Time
			}{
				{name: "queued to sent sets the wamid", status: actors.StatusSent, wamid: "wamid.out1", at: base.Add(1 * sec),
					wantChanged: true, wantStatus: actors.StatusSent, wantWamid: "wamid.out1", wantUpdated: base.Add(1 * sec)},
				{name: "sent again changes nothing", status: actors.StatusSent, at: base.Add(2 * sec),
					wantChanged: false, wantStatus: actors.StatusSent, wantWamid: "wamid.out1", wantUpdated: base.Add(1 * sec)},
				{name: "back to queued changes nothing", status: actors.StatusQueued, at: base.Add(2 * sec),
					wantChanged: false, wantStatus: actors.StatusSent, wantWamid: "wamid.out1", wantUpdated: base.Add(1 * sec)},
				{name: "unknown status changes nothing", status: "deleted", at: base.Add(2 * sec),
					wantChanged: false, wantStatus: actors.StatusSent, wantWamid: "wamid.out1", wantUpdated: base.Add(1 * sec)},
				{name: "sent to delivered, empty wamid keeps the stored one", status: actors.StatusDelivered, at: base.Add(3 * sec),
					wantChanged: true, wantStatus: actors.StatusDelivered, wantWamid: "wamid.out1", wantUpdated: base.Add(3 * sec)},
				{name: "delivered to read", status: actors.StatusRead, at: base.Add(4 * sec),
					wantChanged: true, wantStatus: actors.StatusRead, wantWamid: "wamid.out1", wantUpdated: base.Add(4 * sec)},
				{name: "read to delivered changes nothing", status: actors.StatusDelivered, at: base.Add(5 * sec),
					wantChanged: false, wantStatus: actors.StatusRead, wantWamid: "wamid.out1", wantUpdated: base.Add(4 * sec)},
			}
			for _, st := range steps {
				changed, err := s.UpdateMessageStatus(ctx, "m0001", st.status, st.wamid, nil, st.at)
				require.NoError(t, err, st.name)
				assert.Equal(t, st.wantChanged, changed, st.name)
				got := mustMessage(t, ctx, s, st.wantWamid)
				want := m
				want.Status, want.WaMessageID, want.UpdatedAt = st.wantStatus, st.wantWamid, st.wantUpdated
				assertMessage(t, want, got, st.name)
			}
		}},
		{name: "status may skip steps", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.AppendMessage(ctx, outbound("m0001", "c0001", base)))
			changed, err := s.UpdateMessageStatus(ctx, "m0001", actors.StatusRead, "wamid.out1", nil, base.Add(time.Second))
			require.NoError(t, err)
			assert.True(t, changed)
			assert.Equal(t, actors.StatusRead, mustMessage(t, ctx, s, "wamid.out1").Status)
		}},
		{name: "failed is final and keeps its error", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			m := outbound("m0001", "c0001", base)
			require.NoError(t, s.AppendMessage(ctx, m))
			_, err := s.UpdateMessageStatus(ctx, "m0001", actors.StatusSent, "wamid.out1", nil, base.Add(time.Second))
			require.NoError(t, err)
			werr := &actors.WhatsAppError{Code: 131026, Title: "Message undeliverable", Details: "receiver incapable"}
			changed, err := s.UpdateMessageStatus(ctx, "m0001", actors.StatusFailed, "", werr, base.Add(2*time.Second))
			require.NoError(t, err)
			require.True(t, changed)

			want := m
			want.Status, want.WaMessageID, want.Error, want.UpdatedAt = actors.StatusFailed, "wamid.out1", werr, base.Add(2*time.Second)
			assertMessage(t, want, mustMessage(t, ctx, s, "wamid.out1"))

			for _, status := range []string{actors.StatusQueued, actors.StatusSent, actors.StatusDelivered, actors.StatusRead, actors.StatusFailed} {
				changed, err := s.UpdateMessageStatus(ctx, "m0001", status, "wamid.later", &actors.WhatsAppError{Code: 1}, base.Add(time.Hour))
				require.NoError(t, err, status)
				assert.False(t, changed, "failed is final: %s must not apply", status)
			}
			assertMessage(t, want, mustMessage(t, ctx, s, "wamid.out1"))
			_, err = s.MessageByWaID(ctx, "wamid.later")
			assert.ErrorIs(t, err, actors.ErrNotFound, "a rejected update must not set the wamid")
		}},
		{name: "queued straight to failed without wamid", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			require.NoError(t, s.AppendMessage(ctx, outbound("m0001", "c0001", base)))
			werr := &actors.WhatsAppError{Code: 131047, Title: "Re-engagement message"}
			changed, err := s.UpdateMessageStatus(ctx, "m0001", actors.StatusFailed, "", werr, base.Add(time.Second))
			require.NoError(t, err)
			require.True(t, changed)
			ms := allMessages(t, ctx, s, "c0001")
			require.Len(t, ms, 1)
			assert.Equal(t, actors.StatusFailed, ms[0].Status)
			assert.Equal(t, werr, ms[0].Error)
			assert.Empty(t, ms[0].WaMessageID)
			assert.Equal(t, base.Add(time.Second), ms[0].UpdatedAt)
		}},
		{name: "update of unknown message is ErrNotFound", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			_, err := s.UpdateMessageStatus(ctx, "m404", actors.StatusSent, "wamid.x", nil, base)
			assert.ErrorIs(t, err, actors.ErrNotFound)
		}},
	})
}

func runMessagePages(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	s := open(t)
	ctx := t.Context()
	sec := time.Second
	// Newest first: m0007, m0006 (same instant), m0005, m0004, m0003 (same
	// instant), m0002, m0001. m0008 and m0009 belong to other conversations.
	createdAt := map[string]time.Time{
		"m0001": base, "m0002": base.Add(sec),
		"m0003": base.Add(2 * sec), "m0004": base.Add(2 * sec), "m0005": base.Add(2 * sec),
		"m0006": base.Add(3 * sec), "m0007": base.Add(3 * sec),
	}
	seed := map[string]actors.Message{}
	for _, id := range []string{"m0004", "m0007", "m0001", "m0005", "m0003", "m0006", "m0002"} {
		m := msg(id, "c0001", createdAt[id])
		if id == "m0006" {
			m = outbound(id, "c0001", createdAt[id])
		}
		seed[id] = m
		require.NoError(t, s.AppendMessage(ctx, m))
	}
	require.NoError(t, s.AppendMessage(ctx, msg("m0008", "c0002", base.Add(10*sec))))
	require.NoError(t, s.AppendMessage(ctx, msg("m0009", "c00011", base.Add(sec))))

	all := []string{"m0007", "m0006", "m0005", "m0004", "m0003", "m0002", "m0001"}

	t.Run("pages of every size walk the conversation newest first", func(t *testing.T) {
		for limit := 1; limit <= 8; limit++ {
			t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
				var got []string
				cursor := ""
				for page := 0; ; page++ {
					require.Less(t, page, 10, "paging does not end")
					ms, next, err := s.ListMessages(ctx, "c0001", cursor, limit)
					require.NoError(t, err)
					require.LessOrEqual(t, len(ms), limit)
					got = append(got, msgIDs(ms)...)
					if next == "" {
						break
					}
					require.Len(t, ms, limit, "a page with a next cursor is full")
					cursor = next
				}
				assert.Equal(t, all, got)
			})
		}
	})

	t.Run("cursor is empty exactly at the end", func(t *testing.T) {
		tests := []struct {
			name     string
			limit    int
			pages    [][]string
			lastNext string
		}{
			{name: "last page full", limit: 7, pages: [][]string{all}},
			{name: "pages split inside a tie", limit: 4, pages: [][]string{all[:4], all[4:]}},
			{name: "exact pages", limit: 1, pages: [][]string{{"m0007"}, {"m0006"}, {"m0005"}, {"m0004"}, {"m0003"}, {"m0002"}, {"m0001"}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cursor := ""
				for i, want := range tt.pages {
					ms, next, err := s.ListMessages(ctx, "c0001", cursor, tt.limit)
					require.NoError(t, err)
					assert.Equal(t, want, msgIDs(ms), "page %d", i)
					if i == len(tt.pages)-1 {
						assert.Empty(t, next, "the last page has no next cursor")
					} else {
						require.NotEmpty(t, next, "page %d has a next cursor", i)
					}
					cursor = next
				}
			})
		}
	})

	t.Run("messages carry every field", func(t *testing.T) {
		ms, _, err := s.ListMessages(ctx, "c0001", "", 10)
		require.NoError(t, err)
		require.Len(t, ms, 7)
		for _, m := range ms {
			assertMessage(t, seed[m.ID], m, m.ID)
		}
	})

	t.Run("only that conversation", func(t *testing.T) {
		ms, next, err := s.ListMessages(ctx, "c0002", "", 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"m0008"}, msgIDs(ms))
		assert.Empty(t, next)

		ms, next, err = s.ListMessages(ctx, "c404", "", 10)
		require.NoError(t, err)
		assert.Empty(t, ms)
		assert.Empty(t, next)
	})
}

// ------------------------------------------------------ pending statuses
