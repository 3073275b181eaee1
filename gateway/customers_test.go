package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway"
	"github.com/wacc/engine/persistence/sqlitestore"
)

func customerBody(name, phone string) map[string]any {
	return map[string]any{"name": name, "phone": phone}
}

func TestCustomerCRUD(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	sup := h.userWithRole(actors.RoleSupervisor)

	r := h.call("POST", "/api/customers", agent.Access, map[string]any{
		"name": "Priya Sharma", "phone": "+91 98765 43210", "email": "Priya@Example.com",
		"tags": []string{"vip", "vip", "delhi"}, "attributes": map[string]string{"plan": "gold"},
	})
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	c := r.data()["customer"].(map[string]any)
	id := c["id"].(string)
	assert.Equal(t, "+919876543210", c["phone"])
	assert.Equal(t, "919876543210", c["waId"])
	assert.Equal(t, "priya@example.com", c["email"])
	assert.Equal(t, []any{"vip", "delhi"}, c["tags"])
	assert.Equal(t, map[string]any{"plan": "gold"}, c["attributes"])
	for _, k := range []string{"id", "name", "phone", "waId", "email", "tags", "attributes", "createdAt", "updatedAt"} {
		assert.Contains(t, c, k)
	}

	g := h.call("GET", "/api/customers/"+id, agent.Access, nil)
	require.Equal(t, http.StatusOK, g.Status, g.String())
	assert.Equal(t, c, g.data()["customer"])

	requireError(t, h.call("POST", "/api/customers", agent.Access, customerBody("Dup", "+919876543210")), 409, "CONFLICT")

	u := h.call("PUT", "/api/customers/"+id, agent.Access, map[string]any{"name": "Priya S.", "phone": "+919876543211"})
	require.Equal(t, http.StatusOK, u.Status, u.String())
	uc := u.data()["customer"].(map[string]any)
	assert.Equal(t, "Priya S.", uc["name"])
	assert.Equal(t, "", uc["email"], "PUT replaces every field")
	assert.Equal(t, []any{}, uc["tags"])
	assert.Equal(t, c["createdAt"], uc["createdAt"])

	// The cached read cannot be stale after the update.
	g = h.call("GET", "/api/customers/"+id, agent.Access, nil)
	assert.Equal(t, "Priya S.", g.data()["customer"].(map[string]any)["name"])

	requireError(t, h.call("PUT", "/api/customers/missing", agent.Access, customerBody("X", "+14155550100")), 404, "NOT_FOUND")
	requireError(t, h.call("GET", "/api/customers/missing", agent.Access, nil), 404, "NOT_FOUND")

	requireError(t, h.call("DELETE", "/api/customers/"+id, agent.Access, nil), 403, "FORBIDDEN")
	d := h.call("DELETE", "/api/customers/"+id, sup.Access, nil)
	require.Equal(t, http.StatusNoContent, d.Status, d.String())
	requireError(t, h.call("GET", "/api/customers/"+id, agent.Access, nil), 404, "NOT_FOUND")
	requireError(t, h.call("DELETE", "/api/customers/"+id, sup.Access, nil), 404, "NOT_FOUND")

	recs := h.auditRecords(actors.AuditFilter{})
	seen := map[string]bool{}
	for _, a := range recs {
		seen[a.Action+":"+a.Outcome] = true
	}
	for _, want := range []string{"customers.create:success", "customers.create:failure", "customers.update:success", "customers.delete:success", "auth.forbidden:denied"} {
		assert.True(t, seen[want], "audit has %s", want)
	}
}

func TestCustomerValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	tooManyTags := make([]string, 21)
	for i := range tooManyTags {
		tooManyTags[i] = fmt.Sprintf("t%d", i)
	}
	tooManyAttrs := map[string]string{}
	for i := 0; i < 51; i++ {
		tooManyAttrs[fmt.Sprintf("k%d", i)] = "v"
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{name: "missing phone", body: map[string]any{"name": "A"}, status: 400, code: "VALIDATION_ERROR", field: "phone"},
		{name: "invalid phone", body: customerBody("A", "12345"), status: 400, code: "VALIDATION_ERROR", field: "phone"},
		{name: "letters in phone", body: customerBody("A", "+91abcdefghij"), status: 400, code: "VALIDATION_ERROR", field: "phone"},
		{name: "keypad letters in a valid number", body: customerBody("A", "+1415abc2671"), status: 400, code: "VALIDATION_ERROR", field: "phone"},
		{name: "extension", body: customerBody("A", "+14155552671 ext 12"), status: 400, code: "VALIDATION_ERROR", field: "phone"},
		{name: "no name", body: customerBody("", "+14155550100"), status: 400, code: "VALIDATION_ERROR", field: "name"},
		{name: "long name", body: customerBody(strings.Repeat("n", 201), "+14155550100"), status: 400, code: "VALIDATION_ERROR", field: "name"},
		{name: "bad email", body: map[string]any{"name": "A", "phone": "+14155550100", "email": "nope"}, status: 400, code: "VALIDATION_ERROR", field: "email"},
		{name: "too many tags", body: map[string]any{"name": "A", "phone": "+14155550100", "tags": tooManyTags}, status: 400, code: "VALIDATION_ERROR", field: "tags"},
		{name: "long tag", body: map[string]any{"name": "A", "phone": "+14155550100", "tags": []string{strings.Repeat("t", 51)}}, status: 400, code: "VALIDATION_ERROR", field: "tags"},
		{name: "too many attributes", body: map[string]any{"name": "A", "phone": "+14155550100", "attributes": tooManyAttrs}, status: 400, code: "VALIDATION_ERROR", field: "attributes"},
		{name: "nested attribute", body: `{"name":"A","phone":"+14155550100","attributes":{"k":{"x":1}}}`, status: 400, code: "VALIDATION_ERROR", field: "attributes"},
		{name: "operator attribute key", body: map[string]any{"name": "A", "phone": "+14155550100", "attributes": map[string]string{"$where": "1"}}, status: 400, code: "VALIDATION_ERROR", field: "attributes"},
		{name: "operator in phone", body: `{"name":"A","phone":{"$gt":""}}`, status: 400, code: "VALIDATION_ERROR", field: "phone"},
		{name: "client sets id", body: map[string]any{"name": "A", "phone": "+14155550100", "id": "mine"}, status: 400, code: "VALIDATION_ERROR", field: "id"},
		{name: "client sets createdAt", body: map[string]any{"name": "A", "phone": "+14155550100", "createdAt": "2020-01-01T00:00:00Z"}, status: 400, code: "VALIDATION_ERROR", field: "createdAt"},
		{name: "wrong content type", body: nil, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.body == nil {
				r = h.call("POST", "/api/customers", agent.Access, "name=A", "Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = h.call("POST", "/api/customers", agent.Access, tc.body)
			}
			requireError(t, r, tc.status, tc.code)
			if tc.field != "" {
				errs, _ := r.Env["errors"].([]any)
				require.NotEmpty(t, errs, r.String())
				assert.Equal(t, tc.field, errs[0].(map[string]any)["field"])
			}
		})
	}
	_, total, err := h.store.ListCustomers(context.Background(), actors.CustomerFilter{Page: 1, Limit: 10})
	require.NoError(t, err)
	require.Zero(t, total, "refused requests change nothing")
}

func TestCustomerList(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	for i := 0; i < 25; i++ {
		body := map[string]any{"name": fmt.Sprintf("Customer %02d", i), "phone": fmt.Sprintf("+1415555%04d", 100+i)}
		if i%5 == 0 {
			body["tags"] = []string{"vip"}
			body["email"] = fmt.Sprintf("vip%d@corp.example", i)
		}
		require.Equal(t, http.StatusCreated, h.call("POST", "/api/customers", agent.Access, body).Status)
	}
	list := func(q string) response {
		t.Helper()
		r := h.call("GET", "/api/customers?"+q, agent.Access, nil)
		require.Equal(t, http.StatusOK, r.Status, r.String())
		return r
	}
	r := list("page=2&limit=10")
	d := r.data()
	assert.EqualValues(t, 25, d["total"])
	assert.EqualValues(t, 2, d["page"])
	assert.EqualValues(t, 10, d["limit"])
	items := d["items"].([]any)
	require.Len(t, items, 10)
	assert.Equal(t, "Customer 14", items[0].(map[string]any)["name"], "newest first")

	assert.EqualValues(t, 5, list("tag=vip").data()["total"])
	assert.EqualValues(t, 1, list("search=customer+07").data()["total"], "name, case-insensitive")
	assert.EqualValues(t, 1, list("search=" + url.QueryEscape("5550107")).data()["total"], "phone")
	assert.EqualValues(t, 5, list("search=CORP.EXAMPLE").data()["total"], "email")
	assert.EqualValues(t, 0, list("search=" + url.QueryEscape(".*")).data()["total"], "regex is literal")
	assert.EqualValues(t, 0, list("search=" + url.QueryEscape("%")).data()["total"], "LIKE wildcard is literal")
	assert.EqualValues(t, 100, list("limit=1000").data()["limit"], "limit is capped")

	for _, q := range []string{"search[$ne]=x", "page=0", "limit=abc", "search=a&search=b", "tag[$regex]=.*", "sort=name"} {
		t.Run(q, func(t *testing.T) {
			requireError(t, h.call("GET", "/api/customers?"+q, agent.Access, nil), 400, "VALIDATION_ERROR")
		})
	}
}

// TestCustomerCacheNeverServesStale reads a customer through the cache from
// many goroutines while it is updated; once an update has been answered, no
// read issued afterwards returns an older name.
func TestCustomerCacheNeverServesStale(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	r := h.call("POST", "/api/customers", agent.Access, customerBody("v0", "+14155550199"))
	id := r.data()["customer"].(map[string]any)["id"].(string)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					h.call("GET", "/api/customers/"+id, agent.Access, nil)
				}
			}
		}()
	}
	for v := 1; v <= 20; v++ {
		name := fmt.Sprintf("v%d", v)
		u := h.call("PUT", "/api/customers/"+id, agent.Access, customerBody(name, "+14155550199"))
		require.Equal(t, http.StatusOK, u.Status, u.String())
		g := h.call("GET", "/api/customers/"+id, agent.Access, nil)
		require.Equal(t, name, g.data()["customer"].(map[string]any)["name"], "read after update %d", v)
	}
	close(stop)
	wg.Wait()

	// Once the invalidation hold-off has passed, reads are served from the cache.
	require.Eventually(t, func() bool {
		h.call("GET", "/api/customers/"+id, agent.Access, nil)
		m := h.ops("GET", "/metrics")
		return strings.Contains(string(m.Raw), `engine_cache_lookups_total{cache="customers",result="hit"}`)
	}, 5*time.Second, 50*time.Millisecond)
	metrics := h.ops("GET", "/metrics")
	require.Contains(t, string(metrics.Raw), `engine_cache_lookups_total{cache="customers",result="hit"}`)
	require.Contains(t, string(metrics.Raw), `engine_cache_lookups_total{cache="customers",result="miss"}`)
}

// panicStore panics on one customer id, as a bug in a store would.
type panicStore struct{ *sqlitestore.Store }

func (p panicStore) Customer(ctx context.Context, id string) (actors.Customer, error) {
	if id == "boom" {
		panic("store bug")
	}
	return p.Store.Customer(ctx, id)
}

func TestPanicBecomesInternalError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{store: func(s *sqlitestore.Store) gateway.Store { return panicStore{s} }})
	agent := h.register()
	r := h.call("GET", "/api/customers/boom", agent.Access, nil, "X-Request-Id", "req-panic-1")
	requireError(t, r, 500, "INTERNAL_ERROR")
	assert.Equal(t, "req-panic-1", r.Env["requestId"])
	assert.Equal(t, "req-panic-1", r.Header.Get("X-Request-Id"))
	assert.NotContains(t, string(r.Raw), "store bug")
	assert.NotContains(t, string(r.Raw), "goroutine")
	// The server is still serving.
	require.Equal(t, http.StatusNotFound, h.call("GET", "/api/customers/other", agent.Access, nil).Status)
}
