package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The engine child sends to cmd/sandbox in its own process, and the
// sandbox's status callbacks reach the engine: a send is read back as
// "read", and the sandbox's CPU is measured apart from the engine's.
func TestOwnSandboxProcessCarriesSendsAndTheirCallbacks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the engine and the sandbox: not in -short")
	}
	env := &Env{Opts: Options{Duration: time.Second, Warmup: 0, Conns: 2}, Progress: testWriter{t}, Tmp: t.TempDir()}
	ctx := t.Context()
	// One recipient: no pair pacing.
	g, err := env.startEngineOwnSandbox(ctx, "WHATSAPP_PAIR_BURST=1000", "WHATSAPP_PAIR_INTERVAL=0s")
	require.NoError(t, err)
	defer func() { _ = g.Stop() }()
	require.NotNil(t, g.sandbox, "the sandbox runs as a process of its own")

	token, err := g.login(ctx)
	require.NoError(t, err)
	const base = 900_000
	require.NoError(t, g.postWebhook(ctx, textWebhook(base, "own", 1, "hello")))
	require.NoError(t, waitConversations(ctx, g, token, 1))
	convs, err := conversationsByWaID(ctx, g, token)
	require.NoError(t, err)
	marker := "bench-own-"
	run := env.loadWithCPU(ctx, g, loadSpec{Name: "send", Rate: 20, Warmup: 0, Measure: time.Second, Op: func(ctx context.Context, i int64) error {
		body := fmt.Appendf(nil, `{"to":"+%s","phoneNumberId":"`+benchPhoneNumberID+`","type":"text","text":{"body":"%s%d hi"}}`, waID(base), marker, i)
		return g.do(ctx, http.MethodPost, g.URL+"/api/whatsapp/messages", token, body, http.StatusAccepted, nil)
	}})
	require.Zero(t, run.Errors, run.FirstError)
	require.Positive(t, run.Ops)
	assert.Contains(t, run.Extra, sandboxCPUKey, "the sandbox's CPU is reported apart")

	var read map[int64]bool
	require.Eventually(t, func() bool {
		read, err = readSends(ctx, g, token, map[string]bool{convs[waID(base)]: true}, marker, time.Now().Add(-time.Minute))
		return err == nil && int64(len(read)) >= run.Ops
	}, 30*time.Second, 200*time.Millisecond, "every send reads \"read\": the sandbox's callbacks reached the engine (%d of %d, %v)", len(read), run.Ops, err)
}
