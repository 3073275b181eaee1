//go:build faults

package faults

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test52_ClientClockSkew: a client whose clock is 5 minutes ahead or
// behind. The engine has no leeway (README, Security notes): iat, nbf and
// exp are compared with the server's clock exactly, so a token stamped 5
// minutes ahead is refused until then and one expired 5 minutes ago is
// refused; tokens the engine issues are stamped by its own clock whatever
// the client's Date header says, and their lifetime (expiresIn, the
// socket's hello.expiresAt) is measured on it.
func Test52_ClientClockSkew(t *testing.T) {
	t.Parallel()
	r := covers(t, 52)
	p := start(t, map[string]string{"JWT_EXPIRES_IN": "15m"})
	admin := abAdmin(p)
	for _, skew := range []time.Duration{5 * time.Minute, -5 * time.Minute} {
		clientNow := time.Now().Add(skew)
		// Tokens stamped by the skewed clock (as a node with that clock
		// would sign them).
		c := abClaims(admin.id, "admin")
		c["iat"], c["nbf"], c["exp"] = clientNow.Unix(), clientNow.Unix(), clientNow.Add(15*time.Minute).Unix()
		tok := abSign(t, jwt.SigningMethodHS256, abSecret, c, nil)
		if skew > 0 {
			abRefused(t, p, tok, "iat/nbf 5 min ahead (no leeway)")
		} else {
			abAccepted(t, p, tok) // issued 5 min ago, valid 10 more
		}
		c = abClaims(admin.id, "admin")
		c["iat"], c["nbf"], c["exp"] = clientNow.Add(-15*time.Minute).Unix(), clientNow.Add(-15*time.Minute).Unix(), clientNow.Unix()
		tok = abSign(t, jwt.SigningMethodHS256, abSecret, c, nil)
		if skew < 0 {
			abRefused(t, p, tok, "expired 5 min ago (no leeway)")
		} else {
			abAccepted(t, p, tok) // expires in 5 min on the server's clock
		}
		r.count("inputs", 2)

		// A login from the skewed client: the token is stamped by the
		// server's clock, not by the request's Date header.
		before := time.Now()
		st, body := p.api("POST", "/api/auth/login", "", map[string]string{"email": adminEmail, "password": adminPassword},
			"Date", clientNow.UTC().Format(http.TimeFormat))
		require.Equal(t, 200, st, body)
		after := time.Now()
		data := body["data"].(map[string]any)
		claims := jwt.MapClaims{}
		_, _, err := jwt.NewParser().ParseUnverified(data["accessToken"].(string), claims)
		require.NoError(t, err)
		iat, _ := claims.GetIssuedAt()
		exp, _ := claims.GetExpirationTime()
		assert.WithinRange(t, iat.Time, before.Add(-time.Second).Truncate(time.Second), after.Add(time.Second), "iat is the server's now (skew %v)", skew)
		assert.Equal(t, 15*time.Minute, exp.Sub(iat.Time), "exp is iat + JWT_EXPIRES_IN")
		assert.Equal(t, 900.0, data["expiresIn"], "expiresIn is a duration, not a client-clock instant")
		abAccepted(t, p, data["accessToken"].(string))
		// The socket's hello carries the server's expiry of the token.
		_, frames, _ := abSocket(t, p, data["accessToken"].(string))
		hello := abNext(t, frames, "hello")
		at, err := time.Parse(time.RFC3339, hello["data"].(map[string]any)["expiresAt"].(string))
		require.NoError(t, err)
		assert.WithinDuration(t, exp.Time, at, time.Second, "hello.expiresAt is the token's exp on the server's clock")
		r.count("inputs", 2)
	}
}

// Test54_ConcurrentWebhooksWithDuplicates: 500 signed webhooks at once,
// 30 % of them repeats of others: every one is answered 200, each unique
// wamid is stored exactly once, and each conversation's messages keep the
// order of their timestamps. The p99 answer time is reported (the timed
// target lives in bench/).
func Test54_ConcurrentWebhooksWithDuplicates(t *testing.T) {
	t.Parallel()
	r := covers(t, 54)
	p := start(t, nil)
	token := p.admin()
	const total, customers = 500, 10
	unique := total * 7 / 10
	base := time.Now().Add(-time.Hour)
	bodies := make([][]byte, 0, total)
	for i := 0; i < unique; i++ {
		wa := fmt.Sprintf("14155554%03d", i%customers)
		// Timestamps one second apart per customer: the stored order must follow them.
		bodies = append(bodies, textBody(wcPhoneID, wa, fmt.Sprintf("wamid.c54.%03d", i), fmt.Sprintf("m%03d", i),
			base.Add(time.Duration(i)*time.Second)))
	}
	for i := 0; len(bodies) < total; i++ {
		bodies = append(bodies, bodies[(i*7)%unique])
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	durations := make([]time.Duration, 0, total)
	codes := map[int]int{}
	startGun := make(chan struct{})
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: total}}
	for _, b := range bodies {
		wg.Add(1)
		go func(b []byte) {
			defer wg.Done()
			<-startGun
			req, _ := http.NewRequest("POST", p.url+"/api/whatsapp/webhook", strings.NewReader(string(b)))
			req.Header.Set("X-Hub-Signature-256", sign(b))
			began := time.Now()
			res, err := client.Do(req)
			d := time.Since(began)
			st := 0
			if err == nil {
				st = res.StatusCode
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
			mu.Lock()
			codes[st]++
			durations = append(durations, d)
			mu.Unlock()
		}(b)
	}
	close(startGun)
	wg.Wait()
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	r.timing("p50", durations[len(durations)/2])
	r.timing("p99", durations[len(durations)*99/100])
	r.count("inputs", total)
	r.count("duplicates_sent", total-unique)
	t.Logf("answers %v; p50 %v, p99 %v", codes, durations[len(durations)/2], durations[len(durations)*99/100])
	assert.Equal(t, total, codes[200], "every webhook answered 200: %v", codes)

	// Every unique wamid is stored once, in timestamp order per conversation.
	var byConv map[string][]map[string]any
	require.Eventually(t, func() bool {
		byConv = wcMessages(p, token)
		n := 0
		for _, ms := range byConv {
			n += len(ms)
		}
		return n >= unique
	}, 60*time.Second, 250*time.Millisecond, "the inbox is applied")
	time.Sleep(500 * time.Millisecond)
	byConv = wcMessages(p, token)
	stored := map[string]int{}
	outOfOrder := 0
	for _, ms := range byConv {
		var seq []int
		for _, m := range ms {
			w, _ := m["waMessageId"].(string)
			if !strings.HasPrefix(w, "wamid.c54.") {
				continue
			}
			stored[w]++
			n, _ := strconv.Atoi(strings.TrimPrefix(w, "wamid.c54."))
			seq = append(seq, n)
		}
		// The listing is newest first or oldest first; either way it is
		// monotonic when the order is kept.
		asc, desc := true, true
		for i := 1; i < len(seq); i++ {
			asc = asc && seq[i] > seq[i-1]
			desc = desc && seq[i] < seq[i-1]
		}
		if !asc && !desc {
			outOfOrder++
			t.Logf("conversation out of order: %v", seq)
		}
	}
	dup := 0
	for _, n := range stored {
		dup += max(n-1, 0)
	}
	r.count("stored", len(stored))
	r.count("duplicated", dup)
	r.count("lost", unique-len(stored))
	r.count("conversations_out_of_order", outOfOrder)
	assert.Equal(t, unique, len(stored), "stored count equals unique count")
	assert.Zero(t, dup, "no wamid stored twice")
	assert.Zero(t, outOfOrder, "per-conversation order kept")
}
