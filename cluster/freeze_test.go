//go:build multinode

package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/cluster/clustertest"
)

// TestFreezeNodeTwentySecondsFencesItsStaleWrites SIGSTOPs a node for 20 s
// under load. The others take its conversations over; webhooks sent to it
// while frozen wait in its kernel's queue and are handled, with its stale
// activations, when it resumes. No write of those stale activations is
// accepted: each is refused by its epoch (engine_fenced_writes_total counts
// them), no conversation gets two inbound messages at one Seq, every
// webhook answered 200 is stored once, and the node rejoins.
func TestFreezeNodeTwentySecondsFencesItsStaleWrites(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Nodes: 3})
	c.WaitMembers(t, 3, 30*time.Second)
	load := clustertest.StartLoad(c, 30, 3, 30*time.Millisecond)
	time.Sleep(3 * time.Second)
	frozen := c.Nodes[2]
	fencedBefore := frozen.Metric("engine_fenced_writes_total")
	retiredBefore := frozen.Metric("engine_retired_commands_total")
	token := c.Nodes[0].Admin()
	// Sends through the node to be frozen, in flight when it stops: its
	// activations hold them half done, and finish them when it resumes.
	stopSends := make(chan struct{})
	sendsDone := make(chan int)
	for i, waID := range load.WaIDs() {
		go func() {
			n := 0
			for k := 0; ; k++ {
				select {
				case <-stopSends:
					sendsDone <- n
					return
				default:
				}
				st, _, err := frozen.Do("POST", "/api/whatsapp/messages", token,
					map[string]any{"to": "+" + waID, "type": "text", "text": map[string]string{"body": fmt.Sprintf("send %d/%d", i, k)}})
				if err == nil && st == 202 {
					n++
				}
			}
		}()
	}
	time.Sleep(time.Second)
	load.Skip(frozen.Name, true)
	frozen.Freeze()
	frozenAt := time.Now()
	t.Logf("froze %s", frozen.Name)

	// Webhooks sent to the frozen node wait in its listen queue; each
	// conversation gets one, so each of its stale activations has work
	// when the node resumes.
	type late struct {
		wamid  string
		status int
		err    error
	}
	lateCh := make(chan late, len(load.WaIDs()))
	// The node's client gives up after 20 s: these wait longer.
	frozen.Client.Timeout = 2 * time.Minute
	for i, waID := range load.WaIDs() {
		go func() {
			w := fmt.Sprintf("wamid.late.%s.%d", clustertest.ID(), i)
			st, err := frozen.Webhook(clustertest.TextBody(clustertest.PhoneNumberID, waID, w, "sent to the frozen node", time.Now()))
			lateCh <- late{w, st, err}
		}()
	}
	time.Sleep(20*time.Second - time.Since(frozenAt))
	frozen.Thaw()
	t.Logf("thawed %s after %s", frozen.Name, time.Since(frozenAt).Round(time.Millisecond))
	load.Skip(frozen.Name, false)
	var lateAccepted []string
	for range load.WaIDs() {
		l := <-lateCh
		if l.status == 200 {
			lateAccepted = append(lateAccepted, l.wamid)
		}
	}
	time.Sleep(3 * time.Second)
	close(stopSends)
	sends := 0
	for range load.WaIDs() {
		sends += <-sendsDone
	}
	sent := load.Stop()
	c.WaitMembers(t, 3, 60*time.Second)
	t.Logf("%d sends through %s accepted", sends, frozen.Name)

	// Rejoined, the node serves again, from the store (its stale actors
	// were stopped): a send through it is accepted, and the conversation it
	// reports is the one another node reports.
	for _, waID := range load.WaIDs()[:5] {
		st, body := frozen.API("POST", "/api/whatsapp/messages", token,
			map[string]any{"to": "+" + waID, "type": "text", "text": map[string]string{"body": "after the freeze"}})
		require.Equalf(t, 202, st, "send to +%s through the rejoined node: %v", waID, body)
		id, _ := body["data"].(map[string]any)["message"].(map[string]any)["conversationId"].(string)
		require.NotEmpty(t, id)
		_, here := frozen.API("GET", "/api/whatsapp/conversations/"+id, token, nil)
		_, there := c.Nodes[0].API("GET", "/api/whatsapp/conversations/"+id, token, nil)
		require.Equal(t, there["data"], here["data"], "the rejoined node reports the conversation as the others do")
	}

	accepted := append(clustertest.Accepted(sent), lateAccepted...)
	c.CheckAccepted(t, accepted, 90*time.Second)
	db := c.Mongo(t)
	require.Empty(t, c.SeqClashes(t, db), "conversations with two inbound messages at one Seq")
	fenced := frozen.Metric("engine_fenced_writes_total") - fencedBefore
	retired := frozen.Metric("engine_retired_commands_total") - retiredBefore
	t.Logf("%d webhooks accepted (%d sent to the frozen node); of its stale activations, %v writes refused by their epoch and %v queued commands refused unapplied",
		len(accepted), len(lateAccepted), fenced, retired)
	// Its stale activations had work when it resumed: the writes they had
	// in flight are refused by the fence (engine_fenced_writes_total), the
	// commands queued for them by their retirement once the node downed
	// itself (engine_retired_commands_total); that no stale write was
	// accepted is what the Seq and stored-once checks above show.
	require.Positive(t, fenced+retired, "the frozen node's stale activations had work when it resumed; it must have been refused")
}
