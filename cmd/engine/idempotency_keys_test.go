package main

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// TestIdempotentCustomerCreate: POST /api/customers with an
// Idempotency-Key, repeated sequentially and concurrently, creates one
// customer; every repeat with the same body answers the first 201 (marked
// replayed) or 409 CONFLICT while the first still runs; the same key with
// another body is refused and creates nothing.
func TestIdempotentCustomerCreate(t *testing.T) {
	t.Parallel()
	l := startLive(t, testConfig(t))
	_, token := l.user(actors.RoleSupervisor)
	body := map[string]any{"name": "Idem Customer", "phone": "+14155550177"}

	st, first := l.apiWith("POST", "/api/customers", token, body, "Idempotency-Key", "cust-key-1")
	require.Equal(t, 201, st, first)
	id := first["data"].(map[string]any)["customer"].(map[string]any)["id"].(string)

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 10 {
		wg.Go(func() {
			st, again := l.apiWith("POST", "/api/customers", token, body, "Idempotency-Key", "cust-key-1")
			mu.Lock()
			defer mu.Unlock()
			statuses[st]++
			if st == 201 {
				assert.Equal(t, id, again["data"].(map[string]any)["customer"].(map[string]any)["id"], "the first answer, replayed")
			}
		})
	}
	wg.Wait()
	assert.Equal(t, map[int]int{201: 10}, statuses, "a finished first request is replayed to every repeat")

	// The same key with another body changes nothing.
	st, other := l.apiWith("POST", "/api/customers", token, map[string]any{"name": "Other", "phone": "+14155550178"}, "Idempotency-Key", "cust-key-1")
	assert.GreaterOrEqual(t, st, 400, other)
	assert.Less(t, st, 500, other)
	st, list := l.api("GET", "/api/customers?limit=100", token, nil)
	require.Equal(t, 200, st, list)
	phones := map[string]int{}
	for _, c := range list["data"].(map[string]any)["items"].([]any) {
		phones[c.(map[string]any)["phone"].(string)]++
	}
	assert.Equal(t, 1, phones["+14155550177"], "one customer for the key")
	assert.Zero(t, phones["+14155550178"], "the refused body created nothing")
}

// TestIdempotentCallInitiate: POST /api/calls/initiate repeated with one
// Idempotency-Key places one call at Exotel and answers the same call.
func TestIdempotentCallInitiate(t *testing.T) {
	t.Parallel()
	l := startLive(t, callConfig(t))
	_, token := l.caller(actors.RoleSupervisor)
	phone := indianMobile(t, "0000")
	cust := l.customerWithPhone(token, phone)
	req := map[string]any{"customerId": cust}

	ids := map[string]int{}
	for range 5 {
		st, body := l.apiWith("POST", "/api/calls/initiate", token, req, "Idempotency-Key", "call-key-1")
		require.Equal(t, 202, st, body)
		ids[body["data"].(map[string]any)["call"].(map[string]any)["id"].(string)]++
	}
	require.Len(t, ids, 1, "every repeat answers the first call")
	for id := range ids {
		l.callSettles(token, id, "completed", 15*time.Second)
	}
	// The sandbox is looked up once: a condition still running when Never
	// returns must not reach into an engine the test's end has closed.
	sb := l.exotel()
	assert.Never(t, func() bool { return len(sb.CallsTo(phone)) > 1 }, time.Second, 50*time.Millisecond)
	assert.Len(t, sb.CallsTo(phone), 1, "one call placed")
}
