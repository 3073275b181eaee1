//go:build faults

package faults

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

const wcPhoneID = "100000000000001"

// wcMessages returns the messages of every conversation (admin view), by
// conversation id.
func wcMessages(p *proc, token string) map[string][]map[string]any {
	p.t.Helper()
	st, body := p.api("GET", "/api/whatsapp/conversations?limit=100", token, nil)
	require.Equal(p.t, 200, st, body)
	out := map[string][]map[string]any{}
	for _, it := range body["data"].(map[string]any)["items"].([]any) {
		id := it.(map[string]any)["id"].(string)
		st, body := p.api("GET", "/api/whatsapp/conversations/"+id+"/messages?limit=100", token, nil)
		require.Equal(p.t, 200, st, body)
		for _, m := range body["data"].(map[string]any)["items"].([]any) {
			out[id] = append(out[id], m.(map[string]any))
		}
	}
	return out
}

// wcCount is the number of stored messages whose waMessageId is wamid.
func wcCount(p *proc, token, wamid string) int {
	n := 0
	for _, ms := range wcMessages(p, token) {
		for _, m := range ms {
			if w, _ := m["waMessageId"].(string); w == wamid {
				n++
			}
		}
	}
	return n
}

// wcWaitStored waits until wamid is stored once and returns the message.
func wcWaitStored(p *proc, token, wamid string) map[string]any {
	p.t.Helper()
	var found map[string]any
	require.Eventually(p.t, func() bool {
		for _, ms := range wcMessages(p, token) {
			for _, m := range ms {
				if w, _ := m["waMessageId"].(string); w == wamid {
					found = m
					return true
				}
			}
		}
		return false
	}, 15*time.Second, 100*time.Millisecond, "message %s never stored", wamid)
	return found
}

// Test31_BadSignatures: a missing, sha1, malformed or wrong signature is
// 401 and nothing is processed; the same body correctly signed is.
func Test31_BadSignatures(t *testing.T) {
	t.Parallel()
	r := covers(t, 31)
	p := start(t, nil)
	admin := p.admin()
	body := textBody(wcPhoneID, "14155550131", "wamid.sig31", "hello", time.Now())
	other := textBody(wcPhoneID, "14155550131", "wamid.sig31", "hellO", time.Now())
	good := sign(body)
	m := hmac.New(sha1.New, []byte(appSecret))
	m.Write(body)
	sha1Sig := "sha1=" + hex.EncodeToString(m.Sum(nil))
	wrongKey := hmac.New(sha256.New, []byte("another-secret"))
	wrongKey.Write(body)
	for name, sig := range map[string]string{
		"missing": "", "sha1 prefix": sha1Sig, "sha1 prefix on the sha256": "sha1=" + strings.TrimPrefix(good, "sha256="),
		"bad hex": "sha256=" + strings.Repeat("zz", 32), "truncated": good[:len(good)-2], "empty hex": "sha256=",
		"no prefix": strings.TrimPrefix(good, "sha256="), "other body": sign(other), "wrong key": "sha256=" + hex.EncodeToString(wrongKey.Sum(nil)),
		"doubled": good + good[7:], "two values": good + "," + sign(other),
	} {
		st, _, raw := p.do("POST", "/api/whatsapp/webhook", "", body, "X-Hub-Signature-256", sig)
		assert.Contains(t, []int{401, 403}, st, "%s: %s", name, raw)
		r.count("inputs", 1)
	}
	// Only X-Hub-Signature (sha1) is refused too.
	st, _, _ := p.do("POST", "/api/whatsapp/webhook", "", body, "X-Hub-Signature", sha1Sig)
	assert.Contains(t, []int{401, 403}, st, "sha1 header only")
	r.count("inputs", 1)
	time.Sleep(time.Second)
	assert.Zero(t, wcCount(p, admin, "wamid.sig31"), "a refused webhook was processed")

	require.Equal(t, 200, p.webhook(body), "control: the same body correctly signed")
	wcWaitStored(p, admin, "wamid.sig31")
}

// Test32_EscapedNonASCII: a body with \u escapes (as Meta sends) signed over
// its raw bytes is accepted and stored decoded.
func Test32_EscapedNonASCII(t *testing.T) {
	t.Parallel()
	r := covers(t, 32)
	p := start(t, nil)
	admin := p.admin()
	escaped := `caf\u00e9 \u0928\u092e\u0938\u094d\u0924\u0947 \u0645\u0631\u062d\u0628\u0627 \ud83d\ude00 \u202e \/ \"q\"`
	want := "café नमस्ते مرحبا 😀 \u202e / \"q\""
	body := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},"contacts":[{"profile":{"name":"J\u00f6rg"},"wa_id":"14155550132"}],`+
		`"messages":[{"from":"14155550132","id":"wamid.esc32","timestamp":"%d","text":{"body":"%s"},"type":"text"}]},"field":"messages"}]}]}`,
		wcPhoneID, time.Now().Unix(), escaped))
	require.Equal(t, 200, p.webhook(body))
	m := wcWaitStored(p, admin, "wamid.esc32")
	assert.Equal(t, want, m["text"])
	r.count("inputs", 1)
}

// Test33_VerifyToken: the GET handshake with a wrong token is 403; with the
// right one the answer is exactly hub.challenge as text/plain.
func Test33_VerifyToken(t *testing.T) {
	t.Parallel()
	r := covers(t, 33)
	p := start(t, nil)
	for _, tok := range []string{"wrong", "", "verify-m", "verify-me%20", "VERIFY-ME", "verify-mee", "verify-me%00"} {
		st, _, raw := p.do("GET", "/api/whatsapp/webhook?hub.mode=subscribe&hub.challenge=12345&hub.verify_token="+tok, "", nil)
		assert.Equal(t, 403, st, "token %q: %s", tok, raw)
		assert.NotContains(t, string(raw), "12345", "the challenge echoed for a wrong token")
		r.count("inputs", 1)
	}
	for _, challenge := range []string{"1158201444", "<script>alert(1)</script>"} {
		st, h, raw := p.do("GET", "/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge="+
			strings.NewReplacer("<", "%3C", ">", "%3E", "(", "%28", ")", "%29").Replace(challenge), "", nil)
		assert.Equal(t, 200, st)
		assert.Equal(t, challenge, string(raw))
		assert.True(t, strings.HasPrefix(h.Get("Content-Type"), "text/plain"), h.Get("Content-Type"))
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		r.count("inputs", 1)
	}
}

// Test34_SameDeliveryTenTimes: one delivery 10 times in a row and 10 times
// at once → 200 each, 1 stored message and 1 socket push. (The engine has
// no auto-reply; no outbound message is caused either.)
func Test34_SameDeliveryTenTimes(t *testing.T) {
	t.Parallel()
	r := covers(t, 34)
	p := start(t, nil)
	adminS := abAdmin(p)
	_, frames, _ := abSocket(t, p, adminS.access)
	abNext(t, frames, "hello")
	var pushes sync.Map
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		for f := range frames {
			if f["type"] != "message.created" {
				continue
			}
			d, _ := f["data"].(map[string]any)
			m, _ := d["message"].(map[string]any)
			if m == nil {
				m = d
			}
			w, _ := m["waMessageId"].(string)
			n, _ := pushes.LoadOrStore(w, new(int))
			*(n.(*int))++
		}
	}()
	for round, concurrent := range []bool{false, true} {
		wamid := fmt.Sprintf("wamid.dup34-%d", round)
		body := textBody(wcPhoneID, fmt.Sprintf("1415555034%d", round), wamid, "once please", time.Now())
		statuses := make([]int, 10)
		var wg sync.WaitGroup
		for i := range statuses {
			if !concurrent {
				statuses[i] = p.webhook(body)
				continue
			}
			wg.Add(1)
			go func(i int) { defer wg.Done(); statuses[i] = p.webhook(body) }(i)
		}
		wg.Wait()
		for i, st := range statuses {
			assert.Equal(t, 200, st, "delivery %d (concurrent %v)", i, concurrent)
		}
		wcWaitStored(p, adminS.access, wamid)
		r.count("inputs", 10)
	}
	time.Sleep(2 * time.Second) // let any late duplicate show
	for round := 0; round < 2; round++ {
		wamid := fmt.Sprintf("wamid.dup34-%d", round)
		n := wcCount(p, adminS.access, wamid)
		assert.Equal(t, 1, n, "stored copies of %s", wamid)
		r.count("duplicated", max(n-1, 0))
		r.count("lost", boolInt(n == 0))
	}
	st, body := p.api("GET", "/api/whatsapp/conversations", adminS.access, nil)
	require.Equal(t, 200, st)
	assert.Equal(t, 2.0, body["data"].(map[string]any)["total"], "one conversation per customer")
	_ = p.kill(syscall.SIGKILL)
	<-counted
	for round := 0; round < 2; round++ {
		wamid := fmt.Sprintf("wamid.dup34-%d", round)
		v, ok := pushes.Load(wamid)
		require.True(t, ok, "no socket push for %s", wamid)
		assert.Equal(t, 1, *(v.(*int)), "socket pushes of %s", wamid)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Test35_ReplayDaysLater: a delivery replayed after a restart, with its
// stored record aged 6 days in the database, is answered 200 and not
// applied again. The dedupe record is the stored message itself (unique
// wamid per conversation), which the engine never expires.
func Test35_ReplayDaysLater(t *testing.T) {
	t.Parallel()
	r := covers(t, 35)
	p := start(t, nil)
	admin := p.admin()
	sent := time.Now().Add(-time.Minute)
	body := textBody(wcPhoneID, "14155550135", "wamid.replay35", "only once", sent)
	require.Equal(t, 200, p.webhook(body))
	wcWaitStored(p, admin, "wamid.replay35")
	require.NoError(t, p.kill(syscall.SIGTERM))

	db, err := sql.Open("sqlite", filepath.Join(p.env["DATA_DIR"], "engine.db"))
	require.NoError(t, err)
	var at int64
	require.NoError(t, db.QueryRow(`SELECT created_at FROM messages WHERE wa_message_id = 'wamid.replay35'`).Scan(&at))
	sixDays := int64(6 * 24 * time.Hour / time.Millisecond)
	if at > 1e17 { // nanoseconds
		sixDays *= int64(time.Millisecond)
	}
	_, err = db.Exec(`UPDATE messages SET created_at = created_at - ? WHERE wa_message_id = 'wamid.replay35'`, sixDays)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	p.restart()
	admin = p.admin()
	for i := 0; i < 3; i++ {
		assert.Equal(t, 200, p.webhook(body), "replay %d", i)
		r.count("inputs", 1)
	}
	time.Sleep(2 * time.Second)
	n := wcCount(p, admin, "wamid.replay35")
	assert.Equal(t, 1, n, "the replay was applied again")
	r.count("duplicated", max(n-1, 0))
}

// wcStatusBody is a status webhook for wamid.
func wcStatusBody(wamid, waID, status string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"value":{"messaging_product":"whatsapp",`+
		`"metadata":{"display_phone_number":"15550001111","phone_number_id":%q},"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q}]},"field":"messages"}]}]}`,
		wcPhoneID, wamid, status, at.Unix(), waID))
}

// Test36_StatusesOutOfOrder: read, then delivered, then sent for one wamid
// → final read; a status for a wamid not yet known is answered 200 and
// applied once the message appears (the sandbox's own statuses are held
// back with SANDBOX_STATUS_DELAY=1m so the test's are the only ones).
func Test36_StatusesOutOfOrder(t *testing.T) {
	t.Parallel()
	r := covers(t, 36)
	p := start(t, map[string]string{"SANDBOX_STATUS_DELAY": "1m"})
	admin := p.admin()
	waID := "14155550136"
	require.Equal(t, 200, p.webhook(textBody(wcPhoneID, waID, "wamid.in36", "hi", time.Now())))
	wcWaitStored(p, admin, "wamid.in36")
	st, body := p.api("POST", "/api/whatsapp/messages", admin, map[string]any{"to": "+" + waID, "type": "text", "text": map[string]string{"body": "reply"}})
	require.Equal(t, 202, st, body)
	var wamid, convID string
	require.Eventually(t, func() bool {
		for id, ms := range wcMessages(p, admin) {
			for _, m := range ms {
				if m["direction"] == "outbound" {
					if w, _ := m["waMessageId"].(string); w != "" {
						wamid, convID = w, id
						return true
					}
				}
			}
		}
		return false
	}, 20*time.Second, 200*time.Millisecond, "the reply was never sent")
	now := time.Now()
	for i, status := range []string{"read", "delivered", "sent"} {
		require.Equal(t, 200, p.webhook(wcStatusBody(wamid, waID, status, now.Add(time.Duration(-i)*time.Second))), status)
		r.count("inputs", 1)
	}
	time.Sleep(time.Second)
	st, body = p.api("GET", "/api/whatsapp/conversations/"+convID+"/messages", admin, nil)
	require.Equal(t, 200, st)
	for _, m := range body["data"].(map[string]any)["items"].([]any) {
		if w, _ := m.(map[string]any)["waMessageId"].(string); w == wamid {
			assert.Equal(t, "read", m.(map[string]any)["status"], "statuses only move forward")
		}
	}
	// A status for a wamid nobody has sent yet is accepted (kept, not an
	// error that makes Meta retry forever).
	assert.Equal(t, 200, p.webhook(wcStatusBody("wamid.unknown36", waID, "delivered", now)))
	r.count("inputs", 1)
	st, _ = p.api("GET", "/readyz", "", nil)
	assert.Equal(t, 200, st)
}

// Test37_BatchWithMalformedItem: entry×changes×messages with one malformed
// message → 200, the good ones stored, the engine still healthy.
func Test37_BatchWithMalformedItem(t *testing.T) {
	t.Parallel()
	r := covers(t, 37)
	p := start(t, nil)
	admin := p.admin()
	ts := time.Now().Unix()
	msg := func(from, id, text string) string {
		return fmt.Sprintf(`{"from":%q,"id":%q,"timestamp":"%d","text":{"body":%q},"type":"text"}`, from, id, ts, text)
	}
	change := func(msgs ...string) string {
		return fmt.Sprintf(`{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":%q},`+
			`"messages":[%s]},"field":"messages"}`, wcPhoneID, strings.Join(msgs, ","))
	}
	bad := `{"id":"wamid.bad37","type":"text","text":{"body":"no sender"},"timestamp":"soon"}`
	body := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[%s,%s]},{"id":"WABA1","changes":[%s]}]}`,
		change(msg("14155550371", "wamid.good37a", "a"), bad),
		change(msg("14155550372", "wamid.good37b", "b")),
		change(msg("14155550371", "wamid.good37c", "c"), `{"from":12,"id":null}`, msg("14155550374", "wamid.good37d", "d"))))
	require.Equal(t, 200, p.webhook(body))
	for _, w := range []string{"wamid.good37a", "wamid.good37b", "wamid.good37c", "wamid.good37d"} {
		wcWaitStored(p, admin, w)
		r.count("inputs", 1)
	}
	assert.Zero(t, wcCount(p, admin, "wamid.bad37"))
	r.count("inputs", 2)
	// The engine goes on: a later webhook is processed too.
	require.Equal(t, 200, p.webhook(textBody(wcPhoneID, "14155550375", "wamid.after37", "later", time.Now())))
	wcWaitStored(p, admin, "wamid.after37")
}

// Test38_StoreDownWhileWebhookArrives: the inbox database is locked by
// another process (an exclusive SQLite transaction: the store cannot
// write) while webhooks arrive → each is answered non-2xx within a few
// seconds (Meta retries), never 200 without being stored; once the lock is
// released, the retries are accepted and every message is stored once.
// With RABBITMQ_URL the webhook path does not touch RabbitMQ (the inbox is
// the store), so the store is the half that applies.
func Test38_StoreDownWhileWebhookArrives(t *testing.T) {
	t.Parallel()
	r := covers(t, 38)
	p := start(t, nil)
	admin := p.admin()
	require.Equal(t, 200, p.webhook(textBody(wcPhoneID, "14155550380", "wamid.before38", "before", time.Now())))
	wcWaitStored(p, admin, "wamid.before38")

	db, err := sql.Open("sqlite", filepath.Join(p.env["DATA_DIR"], "engine-inbox.db")+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
	require.NoError(t, err)
	r.count("faults", 1)

	const n = 5
	bodies := make([][]byte, n)
	accepted := map[int]bool{}
	var slowest time.Duration
	for i := 0; i < n; i++ {
		bodies[i] = textBody(wcPhoneID, fmt.Sprintf("1415555039%d", i), fmt.Sprintf("wamid.down38-%d", i), "while down", time.Now())
		begin := time.Now()
		st, h, raw := p.do("POST", "/api/whatsapp/webhook", "", bodies[i], "X-Hub-Signature-256", sign(bodies[i]))
		d := time.Since(begin)
		slowest = max(slowest, d)
		if st == 200 {
			accepted[i] = true
			continue
		}
		assert.Equal(t, 503, st, "webhook while the store is down: %s", raw)
		assert.NotEmpty(t, h.Get("Retry-After"), "a 503 says when to retry")
		assert.Less(t, d, 15*time.Second, "answer within a few seconds")
		r.count("inputs", 1)
	}
	r.timing("time_to_503", slowest)
	assert.Empty(t, accepted, "webhooks answered 200 while the inbox could not be written")

	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	begin := time.Now()
	// Meta retries: every one is accepted now.
	for i := 0; i < n; i++ {
		require.Eventually(t, func() bool { return p.webhook(bodies[i]) == 200 }, 20*time.Second, 200*time.Millisecond)
	}
	r.timing("time_to_recover", time.Since(begin))
	lost, dup := 0, 0
	for i := 0; i < n; i++ {
		wamid := fmt.Sprintf("wamid.down38-%d", i)
		wcWaitStored(p, admin, wamid)
		c := wcCount(p, admin, wamid)
		if c == 0 {
			lost++
		}
		dup += max(c-1, 0)
	}
	r.count("lost", lost)
	r.count("duplicated", dup)
	r.count("recovered", n-lost)
	r.count("unexpected", 0)
}
