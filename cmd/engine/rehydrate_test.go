package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRestartRehydratesOpenConversations: conversations that were in memory
// before a restart are back in memory after it without any message, and a
// message to one carries on its conversation.
func TestRestartRehydratesOpenConversations(t *testing.T) {
	l := startLive(t, testConfig(t))
	waIDs := []string{"919811000001", "919811000002", "919811000003"}
	ids := map[string]string{}
	for i, wa := range waIDs {
		require.Equal(t, 200, l.webhook(textBody("pn1", wa, fmt.Sprintf("wamid.rh%d", i), "hello", time.Now()), ""))
		ids[wa] = l.conversationOf("pn1", wa).ID
	}

	l.restart()
	// Back in memory without a message: rehydrated, or (rarely) activated
	// first by the inbox replay of a webhook whose processed mark the old
	// process had not written yet, which rehydration then skips.
	require.Eventually(t, func() bool { return l.e.conv.host.Live() == len(waIDs) },
		30*time.Second, 10*time.Millisecond, "every open conversation back in memory")
	assert.LessOrEqual(t, testutil.ToFloat64(l.e.conv.rehydration.count), float64(len(waIDs)))

	require.Equal(t, 200, l.webhook(textBody("pn1", waIDs[0], "wamid.rh-after", "after the restart", time.Now()), ""))
	require.Eventually(t, func() bool {
		c, err := l.e.store.OpenConversation(t.Context(), "pn1", waIDs[0])
		return err == nil && c.ID == ids[waIDs[0]] && c.Seq == 2
	}, 10*time.Second, 10*time.Millisecond, "the rehydrated conversation took the message")
}
