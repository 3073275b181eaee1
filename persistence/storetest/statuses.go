package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func status(wamid, st string, at time.Time) actors.StatusUpdate {
	return actors.StatusUpdate{
		PhoneNumberID:         "pn1",
		WaMessageID:           wamid,
		RecipientID:           "491511",
		Status:                st,
		Timestamp:             at,
		BizOpaqueCallbackData: "tracker-" + st,
		Raw:                   json.RawMessage(`{"id":"` + wamid + `","status":"` + st + `","recipient_id":"491511"}`),
	}
}

// assertStatuses compares status lists; Raw as JSON, nil and empty Errors
// equivalent.
func assertStatuses(t *testing.T, want, got []actors.StatusUpdate) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		assertJSON(t, w.Raw, g.Raw, "Raw")
		w.Raw, g.Raw = nil, nil
		if len(w.Errors) == 0 {
			w.Errors = nil
		}
		if len(g.Errors) == 0 {
			g.Errors = nil
		}
		assert.Equal(t, w, g, "status %d", i)
	}
}

func runPendingStatuses(t *testing.T, open func(t *testing.T) actors.ConversationsStore) {
	sec := time.Second
	runCases(t, open, []convCase{
		{name: "take returns oldest first, then nothing", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			sent := status("wamid.a", actors.StatusSent, base)
			delivered := status("wamid.a", actors.StatusDelivered, base.Add(sec))
			read := status("wamid.a", actors.StatusRead, base.Add(2*sec))
			// Added out of order, as webhooks may deliver them.
			for _, st := range []actors.StatusUpdate{read, sent, delivered} {
				require.NoError(t, s.AddPendingStatus(ctx, st))
			}
			got, err := s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			assertStatuses(t, []actors.StatusUpdate{sent, delivered, read}, got)

			got, err = s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			assert.Empty(t, got, "a second take finds nothing")
		}},
		{name: "same wamid and status is kept once", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			first := status("wamid.a", actors.StatusDelivered, base)
			require.NoError(t, s.AddPendingStatus(ctx, first))
			again := first
			again.Timestamp = base.Add(sec)
			require.NoError(t, s.AddPendingStatus(ctx, first))
			require.NoError(t, s.AddPendingStatus(ctx, again))
			got, err := s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, actors.StatusDelivered, got[0].Status)
		}},
		{name: "other wamids are untouched", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			a := status("wamid.a", actors.StatusSent, base)
			b1 := status("wamid.b", actors.StatusSent, base.Add(sec))
			b2 := status("wamid.b", actors.StatusRead, base.Add(2*sec))
			for _, st := range []actors.StatusUpdate{b1, a, b2} {
				require.NoError(t, s.AddPendingStatus(ctx, st))
			}
			got, err := s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			assertStatuses(t, []actors.StatusUpdate{a}, got)

			got, err = s.TakePendingStatuses(ctx, "wamid.b")
			require.NoError(t, err)
			assertStatuses(t, []actors.StatusUpdate{b1, b2}, got)

			got, err = s.TakePendingStatuses(ctx, "wamid.unknown")
			require.NoError(t, err)
			assert.Empty(t, got)
		}},
		{name: "every field round-trips", check: func(t *testing.T, ctx context.Context, s actors.ConversationsStore) {
			failed := status("wamid.a", actors.StatusFailed, time.Date(2025, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("X", 3600)))
			failed.Errors = []actors.WhatsAppError{
				{Code: 131026, Title: "Message undeliverable", Message: "Message undeliverable", Details: "Receiver incapable", Href: "https://example.com/e"},
				{Code: 131000, Title: "Something went wrong"},
			}
			failed.Raw = json.RawMessage(`{"id":"wamid.a","status":"failed","errors":[{"code":131026,"error_data":{"details":"x"}}],"pricing":{"billable":false}}`)
			require.NoError(t, s.AddPendingStatus(ctx, failed))
			got, err := s.TakePendingStatuses(ctx, "wamid.a")
			require.NoError(t, err)
			want := failed
			want.Timestamp = failed.Timestamp.UTC().Truncate(time.Millisecond)
			assertStatuses(t, []actors.StatusUpdate{want}, got)
		}},
	})
}

// ----------------------------------------------------------------- inbox
