//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedEngine is one engine several read-only attack tests use at once:
// started by the first test that asks, stopped when the last one using it
// ends (started again if a later test asks). Its DATA_DIR is its own, not
// a test's TempDir, since it outlives the test that started it.
type sharedEngine struct {
	env  map[string]string
	mu   sync.Mutex
	p    *proc
	dir  string
	refs int
}

// get returns the shared engine bound to t (its requests fail t).
func (s *sharedEngine) get(t *testing.T) *proc {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		dir, err := os.MkdirTemp("", "engine-faults-shared-")
		require.NoError(t, err)
		all := baseEnv(t)
		for k, v := range s.env {
			all[k] = v
		}
		all["DATA_DIR"] = dir
		p := &proc{t: t, env: all, client: &http.Client{Timeout: 20 * time.Second}}
		p.run()
		s.p, s.dir = p, dir
	}
	s.refs++
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if t.Failed() {
			t.Logf("engine output:\n%s", tail(s.p.out.String(), 8000))
		}
		if s.refs--; s.refs == 0 {
			_ = s.p.kill(syscall.SIGKILL)
			_ = os.RemoveAll(s.dir)
			s.p = nil
		}
	})
	q := *s.p
	q.t = t
	return &q
}

// inputEngine serves the bad-input tests (section A).
var inputEngine = &sharedEngine{}

// phoneSeq hands out distinct valid US numbers, so tests sharing an engine
// never collide on a customer's unique phone.
var phoneSeq atomic.Int64

func freshPhone() string { return fmt.Sprintf("+1415555%04d", 3000+phoneSeq.Add(1)) }

// requireRefused checks an error answer: status, the contract's shape, no
// stack or Go internals, and (when field is set) the field named.
func requireRefused(t *testing.T, st int, body map[string]any, want int, field, input string) {
	t.Helper()
	require.Equal(t, want, st, "%s: %v", input, body)
	assert.Equal(t, "error", body["status"], input)
	assert.NotEmpty(t, body["code"], input)
	msg, _ := body["message"].(string)
	assert.NotEmpty(t, msg, input)
	for _, leak := range []string{"goroutine", "panic", ".go:", "runtime."} {
		assert.NotContains(t, strings.ToLower(msg), leak, input)
	}
	if field != "" {
		errs, _ := body["errors"].([]any)
		require.NotEmpty(t, errs, "%s: the error names no field: %v", input, body)
		assert.Equal(t, field, errs[0].(map[string]any)["field"], input)
	}
}

// customersWithPhone lists the customers whose phone matches.
func customersWithPhone(p *proc, token, phone string) []any {
	p.t.Helper()
	st, body := p.api("GET", "/api/customers?search="+url.QueryEscape(phone), token, nil)
	require.Equal(p.t, 200, st, body)
	items, _ := body["data"].(map[string]any)["items"].([]any)
	return items
}

// countingReader yields n bytes of b (repeated) and counts what was read.
type countingReader struct {
	fill byte
	left int64
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	n = min(n, c.left)
	for i := range p[:n] {
		p[i] = c.fill
	}
	c.left -= n
	c.read.Add(n)
	return int(n), nil
}

// Test02_BodyOverTheLimit: a body one byte over MAX_BODY_BYTES or
// WEBHOOK_MAX_BYTES is 413; one just under the webhook limit (Meta's 3 MB
// batches) is accepted; and a 256 MiB body is cut off after a few MiB at
// most, so reading stops early.
func Test02_BodyOverTheLimit(t *testing.T) {
	t.Parallel()
	r := covers(t, 2)
	p := inputEngine.get(t)
	token := p.admin()

	over := []byte(`{"name":"` + strings.Repeat("a", 1<<20) + `","phone":"+14155552671"}`)
	st, body := p.api("POST", "/api/customers", token, over)
	requireRefused(t, st, body, 413, "", "API body of 1 MiB + 30 bytes")
	assert.Equal(t, "PAYLOAD_TOO_LARGE", body["code"])
	r.count("inputs", 1)

	// Meta's batches reach 3 MB: a signed body just under WEBHOOK_MAX_BYTES
	// (3 MiB) is stored; one byte over is 413 before the signature is read.
	in := textBody("100000000000001", "14155550042", "wamid.limit-ok", "hello", time.Now())
	ok := append(in, bytes.Repeat([]byte(" "), 3<<20-len(in))...)
	assert.Equal(t, 200, p.webhook(ok), "a signed webhook of exactly WEBHOOK_MAX_BYTES")
	st, body = p.api("POST", "/api/whatsapp/webhook", "", append(ok, ' '), "X-Hub-Signature-256", sign(append(ok, ' ')))
	requireRefused(t, st, body, 413, "", "webhook of WEBHOOK_MAX_BYTES + 1")
	r.count("inputs", 2)

	// A 256 MiB stream: the engine answers 413 and stops reading long
	// before the client is done sending.
	for _, path := range []string{"/api/customers", "/api/whatsapp/webhook"} {
		src := &countingReader{fill: ' ', left: 256 << 20}
		req, err := http.NewRequest("POST", p.url+path, src)
		require.NoError(t, err)
		req.ContentLength = -1 // chunked: the limit cannot be read off the header
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := p.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			assert.Equal(t, 413, res.StatusCode, path)
		} else {
			// The server may hang up while the client still writes; the
			// point is how much it took.
			t.Logf("%s: the client saw %v after the engine hung up", path, err)
		}
		sent := src.read.Load()
		assert.Less(t, sent, int64(32<<20), "%s: the engine read %d bytes of a 256 MiB body", path, sent)
		r.count("inputs", 1)
		r.count("mib_read_of_256_"+strings.Trim(strings.ReplaceAll(path, "/", "_"), "_"), int(sent>>20))
	}
	st, _, _ = p.do("GET", "/healthz", "", nil)
	assert.Equal(t, 200, st)
}

// Test03_DeeplyNestedArrays: 200 000 nested [ (well within 1 MiB) on the
// API and on the signed webhook → 400 at once, no panic, the engine stays up.
func Test03_DeeplyNestedArrays(t *testing.T) {
	t.Parallel()
	r := covers(t, 3)
	p := inputEngine.get(t)
	token := p.admin()
	for _, b := range [][]byte{bytes.Repeat([]byte("["), 200000), []byte(`{"name":` + strings.Repeat(`{"a":`, 100000)),
		[]byte(`{"name":"A","phone":"+14155552671","attributes":` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + "}")} {
		began := time.Now()
		st, body := p.api("POST", "/api/customers", token, b)
		r.timing("time_to_400", time.Since(began))
		requireRefused(t, st, body, 400, "", fmt.Sprintf("%d bytes of nesting", len(b)))
		r.count("inputs", 1)
	}
	nested := bytes.Repeat([]byte("["), 200000)
	began := time.Now()
	st, _, _ := p.do("POST", "/api/whatsapp/webhook", "", nested, "X-Hub-Signature-256", sign(nested))
	r.timing("time_to_400", time.Since(began))
	assert.Equal(t, 400, st, "a signed webhook of 200k [")
	r.count("inputs", 1)
	st, _, _ = p.do("GET", "/healthz", "", nil)
	assert.Equal(t, 200, st)
	assert.NotContains(t, p.out.String(), "goroutine ", "no panic in the engine's log")
}

// Test04_MassAssignment: role, tenant_id, _id, created_by, password_hash
// (and id, createdAt) in customer and user bodies are 400 naming the field,
// and nothing stored ever carries them.
func Test04_MassAssignment(t *testing.T) {
	t.Parallel()
	r := covers(t, 4)
	p := inputEngine.get(t)
	token := p.admin()
	fields := map[string]any{"role": "admin", "tenant_id": "t2", "_id": "x", "created_by": "someone", "password_hash": "$argon2id$x",
		"id": "mine", "createdAt": "2020-01-01T00:00:00Z", "Role": "admin"}

	// An existing customer, for PUT.
	phone := freshPhone()
	st, body := p.api("POST", "/api/customers", token, map[string]any{"name": "Mass", "phone": phone})
	require.Equal(t, 201, st, body)
	id := body["data"].(map[string]any)["customer"].(map[string]any)["id"].(string)

	// A user of our own, for PATCH /api/users/{id} and /api/auth/me.
	email := fmt.Sprintf("mass%d@example.com", time.Now().UnixNano())
	st, body = p.api("POST", "/api/auth/register", "", map[string]any{"email": email, "password": "long-password-1", "name": "Agent"})
	require.Equal(t, 201, st, body)
	agentID := body["data"].(map[string]any)["user"].(map[string]any)["id"].(string)
	agentToken := body["data"].(map[string]any)["accessToken"].(string)

	for field, value := range fields {
		newPhone := freshPhone()
		cases := []struct {
			method, path, token string
			body                map[string]any
		}{
			{"POST", "/api/customers", token, map[string]any{"name": "M", "phone": newPhone, field: value}},
			{"PUT", "/api/customers/" + id, token, map[string]any{"name": "Changed", "phone": phone, field: value}},
			{"POST", "/api/auth/register", "", map[string]any{"email": "x" + email, "password": "long-password-1", "name": "X", field: value}},
			{"PATCH", "/api/users/" + agentID, token, map[string]any{"phone": nil, field: value}},
			{"PATCH", "/api/auth/me", agentToken, map[string]any{"phone": nil, field: value}},
		}
		for _, c := range cases {
			st, body := p.api(c.method, c.path, c.token, c.body)
			want := field
			requireRefused(t, st, body, 400, want, c.method+" "+c.path+" with "+field)
			r.count("inputs", 1)
		}
		assert.Empty(t, customersWithPhone(p, token, newPhone), "no customer was created with %s", field)
	}
	// Nothing changed: the customer is as created, the agent is an agent,
	// and no answer carries any of the fields.
	st, raw := p.api("GET", "/api/customers/"+id, token, nil)
	require.Equal(t, 200, st)
	c := raw["data"].(map[string]any)["customer"].(map[string]any)
	assert.Equal(t, "Mass", c["name"])
	for field := range fields {
		if field != "id" && field != "createdAt" {
			assert.NotContains(t, c, field)
		}
	}
	st, raw = p.api("GET", "/api/auth/me", agentToken, nil)
	require.Equal(t, 200, st)
	assert.Equal(t, "agent", raw["data"].(map[string]any)["user"].(map[string]any)["role"])
	assert.Equal(t, 401, status(p, "POST", "/api/auth/login", map[string]any{"email": "x" + email, "password": "long-password-1"}),
		"no user was registered with an extra field")
}

func status(p *proc, method, path string, body any) int {
	p.t.Helper()
	st, _, _ := p.do(method, path, "", body)
	return st
}

// Test05_WrongTypes: a string where a number, boolean or array goes, null
// for a required field, and numbers beyond int64 → 400 naming the field.
func Test05_WrongTypes(t *testing.T) {
	t.Parallel()
	r := covers(t, 5)
	p := inputEngine.get(t)
	token := p.admin()
	ph := freshPhone()
	bodies := []struct{ body, field string }{
		{`{"name":"A","phone":14155552671}`, "phone"},
		{`{"name":5,"phone":"` + ph + `"}`, "name"},
		{`{"name":null,"phone":"` + ph + `"}`, "name"},
		{`{"name":"A","phone":null}`, "phone"},
		{`{"name":"A","phone":"` + ph + `","tags":"vip"}`, "tags"},
		{`{"name":"A","phone":"` + ph + `","tags":[1]}`, "tags"},
		{`{"name":"A","phone":"` + ph + `","attributes":[]}`, "attributes"},
		{`{"name":"A","phone":"` + ph + `","attributes":{"n":99999999999999999999999}}`, "attributes"},
		{`{"name":"A","phone":"` + ph + `","email":true}`, "email"},
	}
	for _, b := range bodies {
		st, body := p.api("POST", "/api/customers", token, []byte(b.body))
		requireRefused(t, st, body, 400, b.field, b.body)
		r.count("inputs", 1)
	}
	st, body := p.api("POST", "/api/calls/initiate", token, []byte(`{"customerId":"x","record":"yes"}`))
	requireRefused(t, st, body, 400, "record", "record as a string")
	r.count("inputs", 1)
	// Query numbers: a word, int64 overflow, a fraction.
	for _, q := range []string{"limit=abc", "limit=99999999999999999999", "page=9223372036854775808", "page=1.5", "limit=-1"} {
		st, body := p.api("GET", "/api/customers?"+q, token, nil)
		requireRefused(t, st, body, 400, strings.SplitN(q, "=", 2)[0], q)
		r.count("inputs", 1)
	}
	assert.Empty(t, customersWithPhone(p, token, ph))
}

// Test06_InvalidUTF8NULAndUnicode: bodies with invalid UTF-8 or a NUL are
// 400; RTL overrides, zero-width characters, emoji, Arabic and Devanagari
// are stored and returned byte for byte; the 200-character name limit
// counts runes, not bytes.
func Test06_InvalidUTF8NULAndUnicode(t *testing.T) {
	t.Parallel()
	r := covers(t, 6)
	p := inputEngine.get(t)
	token := p.admin()
	ph := freshPhone()
	for _, b := range []string{"{\"name\":\"A\xff\",\"phone\":\"" + ph + "\"}", "{\"name\":\"\xc0\xaf\",\"phone\":\"" + ph + "\"}",
		"{\"name\":\"A\xed\xa0\x80\",\"phone\":\"" + ph + "\"}", "{\"name\":\"A\x00B\",\"phone\":\"" + ph + "\"}",
		`{"name":"A\u0000B","phone":"` + ph + `"}`, `{"name":"A","phone":"` + ph + `","attributes":{"k":"v\u0000"}}`} {
		st, body := p.api("POST", "/api/customers", token, []byte(b))
		requireRefused(t, st, body, 400, "", fmt.Sprintf("%q", b))
		r.count("inputs", 1)
	}
	assert.Empty(t, customersWithPhone(p, token, ph), "nothing stored from a refused body")

	names := []string{
		"\u202eevil.exe\u202c",                       // right-to-left override
		"zero\u200bwidth\u200d\ufeffjoined",          // zero-width space, joiner, BOM
		"Ana 😀👩🏽‍💻🇮🇳",                                // emoji with modifiers and a flag
		"محمد عبد الله",                              // Arabic
		"देवनागरी नाम",                               // Devanagari
		strings.Repeat("😀", 200),                     // 200 runes, 800 bytes: at the limit
		strings.Repeat("न", 199) + "\u0947",          // 200 runes with a combining vowel sign
		"e\u0301 vs \u00e9",                          // not normalised: kept as sent
		strings.Repeat("\u202e", 3) + "x" + "\u2066", // controls only around a letter
	}
	for _, name := range names {
		phone := freshPhone()
		st, body := p.api("POST", "/api/customers", token, map[string]any{"name": name, "phone": phone, "attributes": map[string]string{"note": name}})
		require.Equal(t, 201, st, "%q: %v", name, body)
		id := body["data"].(map[string]any)["customer"].(map[string]any)["id"].(string)
		st, body = p.api("GET", "/api/customers/"+id, token, nil)
		require.Equal(t, 200, st)
		c := body["data"].(map[string]any)["customer"].(map[string]any)
		assert.Equal(t, name, c["name"], "the name comes back byte for byte")
		assert.Equal(t, name, c["attributes"].(map[string]any)["note"])
		r.count("inputs", 1)
	}
	over := strings.Repeat("😀", 201)
	require.Equal(t, 201, utf8.RuneCountInString(over))
	st, body := p.api("POST", "/api/customers", token, map[string]any{"name": over, "phone": freshPhone()})
	requireRefused(t, st, body, 400, "name", "201 emoji")
	r.count("inputs", 1)
}

// Test07_OperatorInjection: operator objects in fields, operator query
// parameters and operator attribute keys are 400; a search for regex
// syntax is literal and finds nobody else.
func Test07_OperatorInjection(t *testing.T) {
	t.Parallel()
	r := covers(t, 7)
	p := inputEngine.get(t)
	token := p.admin()
	victim := freshPhone()
	st, body := p.api("POST", "/api/customers", token, map[string]any{"name": "Victim", "phone": victim, "email": "victim@example.com"})
	require.Equal(t, 201, st, body)

	ph := freshPhone()
	for _, b := range []struct{ body, field string }{
		{`{"name":"A","phone":{"$ne":""}}`, "phone"},
		{`{"name":"A","phone":"` + ph + `","email":{"$gt":""}}`, "email"},
		{`{"name":{"$regex":".*"},"phone":"` + ph + `"}`, "name"},
		{`{"name":"A","phone":"` + ph + `","attributes":{"$set":"x"}}`, "attributes"},
		{`{"name":"A","phone":"` + ph + `","attributes":{"a.b":"x"}}`, "attributes"},
		{`{"name":"A","phone":"` + ph + `","attributes":{"k":{"$ne":1}}}`, "attributes"},
		{`{"name":"A","phone":"` + ph + `","$where":"1"}`, "$where"},
	} {
		st, body := p.api("POST", "/api/customers", token, []byte(b.body))
		requireRefused(t, st, body, 400, b.field, b.body)
		r.count("inputs", 1)
	}
	st, body = p.api("POST", "/api/auth/login", "", []byte(`{"email":{"$gt":""},"password":{"$ne":""}}`))
	requireRefused(t, st, body, 400, "email", "login with operators")
	r.count("inputs", 1)
	for _, q := range []string{"q[$regex]=.*", "search[$ne]=", "phone[$ne]=", "search=a&search=b", "tag[$in][]=x", "$where=1"} {
		st, raw, b := p.do("GET", "/api/customers?"+q, token, nil)
		assert.Equal(t, 400, st, "%s: %s", q, b)
		_ = raw
		assert.NotContains(t, string(b), victim, q)
		r.count("inputs", 1)
	}
	// Regex syntax in search is literal text: it matches nobody.
	for _, q := range []string{".*", "^.+$", "[0-9]", `\d`, "%", "_", "*"} {
		st, raw, b := p.do("GET", "/api/customers?search="+url.QueryEscape(q), token, nil)
		_ = raw
		require.Equal(t, 200, st, "%s: %s", q, b)
		assert.NotContains(t, string(b), victim, "search %q must not match the victim", q)
		r.count("inputs", 1)
	}
}

// Test08_RegexDoS: catastrophic-backtracking patterns and a 10k-character
// query are escaped or refused, and answered at once even with a customer
// whose name is made to backtrack.
func Test08_RegexDoS(t *testing.T) {
	t.Parallel()
	r := covers(t, 8)
	p := inputEngine.get(t)
	token := p.admin()
	st, body := p.api("POST", "/api/customers", token, map[string]any{"name": strings.Repeat("a", 60) + "!", "phone": freshPhone()})
	require.Equal(t, 201, st, body)
	for _, q := range []string{"(a+)+$", "(a|aa)+$", "(.*a){20}", "^(([a-z])+.)+[A-Z]([a-z])+$", strings.Repeat("a", 60) + "(", strings.Repeat("a", 100)} {
		began := time.Now()
		st, _, b := p.do("GET", "/api/customers?search="+url.QueryEscape(q), token, nil)
		took := time.Since(began)
		r.timing("slowest_answer", took)
		require.Equal(t, 200, st, "%q: %s", q, b)
		assert.Contains(t, string(b), `"total":0`, "%q is literal text and matches nobody", q)
		assert.Less(t, took, 5*time.Second, "%q is not a regex: no backtracking", q)
		r.count("inputs", 1)
	}
	for _, q := range []string{strings.Repeat("a", 10000), strings.Repeat("(a+)+", 2000), strings.Repeat("😀", 101)} {
		began := time.Now()
		st, body := p.api("GET", "/api/customers?search="+url.QueryEscape(q), token, nil)
		r.timing("slowest_answer", time.Since(began))
		requireRefused(t, st, body, 400, "search", fmt.Sprintf("a search of %d runes", utf8.RuneCountInString(q)))
		r.count("inputs", 1)
	}
}

// Test09_E164: the canonical form is accepted; too many digits, letters,
// 00 prefixes and numbers without a country are 400; two spellings of one
// number are one customer (409 for the second).
func Test09_E164(t *testing.T) {
	t.Parallel()
	r := covers(t, 9)
	p := inputEngine.get(t)
	token := p.admin()
	st, body := p.api("POST", "/api/customers", token, map[string]any{"name": "Canonical", "phone": "+14155552671"})
	require.Equal(t, 201, st, body)
	assert.Equal(t, "+14155552671", body["data"].(map[string]any)["customer"].(map[string]any)["phone"])
	r.count("inputs", 1)
	for _, bad := range []string{"+1415555267112345", "+14155552671234", "+1415abc2671", "+1 415 CALL NOW", "+14155552671 ext. 5", "0014155552671",
		"004915112345678", "4155552671", "14155552671", "+", "+0", "+1 415 555 2671 ☎", "＋14155552671x"} {
		st, body := p.api("POST", "/api/customers", token, map[string]any{"name": "Bad", "phone": bad})
		requireRefused(t, st, body, 400, "phone", bad)
		r.count("inputs", 1)
	}
	for _, spelling := range []string{"+1 (415) 555-2671", "+1-415-555-2671", " +1 415 555 2671 ", "+1.415.555.2671", "+١٤١٥٥٥٥٢٦٧١"} {
		st, body := p.api("POST", "/api/customers", token, map[string]any{"name": "Same", "phone": spelling})
		require.Equal(t, 409, st, "%q is +14155552671: %v", spelling, body)
		r.count("inputs", 1)
	}
	assert.Len(t, customersWithPhone(p, token, "4155552671"), 1, "one customer for every spelling")

	// With a default region, a national number is read in it.
	q := start(t, map[string]string{"DEFAULT_PHONE_REGION": "IN"})
	qt := q.admin()
	st, body = q.api("POST", "/api/customers", qt, map[string]any{"name": "National", "phone": "098765 43210"})
	require.Equal(t, 201, st, body)
	assert.Equal(t, "+919876543210", body["data"].(map[string]any)["customer"].(map[string]any)["phone"])
	st, _ = q.api("POST", "/api/customers", qt, map[string]any{"name": "Same", "phone": "+91 98765 43210"})
	assert.Equal(t, 409, st, "the national and international spellings are one customer")
	r.count("inputs", 2)
}

// Test10_PagingAbuse: a huge limit is clamped to the documented maximum; a
// negative or zero page, offsets and unknown sort fields are 400.
func Test10_PagingAbuse(t *testing.T) {
	t.Parallel()
	r := covers(t, 10)
	p := inputEngine.get(t)
	token := p.admin()
	for _, path := range []string{"/api/customers", "/api/whatsapp/conversations", "/api/audit", "/api/notifications", "/api/whatsapp/templates"} {
		st, body := p.api("GET", path+"?limit=1000000", token, nil)
		require.Equal(t, 200, st, "%s: %v", path, body)
		limit, _ := body["data"].(map[string]any)["limit"].(float64)
		assert.LessOrEqual(t, limit, 100.0, "%s clamps limit", path)
		assert.Greater(t, limit, 0.0, path)
		r.count("inputs", 1)
		for _, q := range []string{"page=-1", "page=0", "offset=-1", "offset=10", "sort=password_hash", "sort=-createdAt", "order=desc"} {
			st, body := p.api("GET", path+"?"+q, token, nil)
			requireRefused(t, st, body, 400, strings.SplitN(q, "=", 2)[0], path+"?"+q)
			r.count("inputs", 1)
		}
	}
	st, body := p.api("GET", "/api/whatsapp/conversations/x/messages?limit=1000000", token, nil)
	assert.Contains(t, []int{400, 404}, st, body)
}

// Test11_HugeHeadersAndQueries: more than 1 MB of headers → 431 (the
// engine caps headers at 64 KiB); 10 000 query parameters → 400 (or 414 /
// 431 when they no longer fit in the request line's budget).
func Test11_HugeHeadersAndQueries(t *testing.T) {
	t.Parallel()
	r := covers(t, 11)
	p := inputEngine.get(t)
	token := p.admin()
	for _, hdr := range []string{"X-Big: " + strings.Repeat("a", 1100<<10) + "\r\n", strings.Repeat("X-Many: "+strings.Repeat("b", 100)+"\r\n", 11000)} {
		st := rawStatus(t, p, "GET /api/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+token+"\r\n"+hdr+"\r\n")
		assert.Equal(t, 431, st, "%d bytes of headers", len(hdr))
		r.count("inputs", 1)
	}
	// 10 000 and 10 001 distinct short parameters fit in 64 KiB: the engine
	// reads and refuses them (net/url gives up past 10 000, and the engine
	// once served such a request as if it had no query at all).
	var qs []string
	for i := 0; i <= 10000; i++ {
		qs = append(qs, fmt.Sprintf("%x=", i))
	}
	for _, n := range []int{10000, 10001} {
		st, body := p.api("GET", "/api/customers?"+strings.Join(qs[:n], "&"), token, nil)
		requireRefused(t, st, body, 400, "", fmt.Sprintf("%d query parameters", n))
		r.count("inputs", 1)
	}
	st, body := p.api("GET", "/api/customers?search=nobody&"+strings.Join(qs, "&"), token, nil)
	requireRefused(t, st, body, 400, "", "a search hidden past 10 000 parameters")
	// 10 000 repeats of a known one.
	st, body = p.api("GET", "/api/customers?"+strings.TrimSuffix(strings.Repeat("tag=&", 10000), "&"), token, nil)
	requireRefused(t, st, body, 400, "tag", "10 000 repeats of tag")
	r.count("inputs", 1)
	// Longer ones no longer fit in the header budget.
	st = rawStatus(t, p, "GET /api/customers?"+strings.Repeat("parameter=value&", 10000)+" HTTP/1.1\r\nHost: x\r\n\r\n")
	assert.Contains(t, []int{414, 431}, st, "a 160 KB request line")
	r.count("inputs", 1)
	st, _, _ = p.do("GET", "/healthz", "", nil)
	assert.Equal(t, 200, st)
}

// rawStatus writes req on a fresh connection while reading the answer (the
// engine answers before the request is all sent) and returns its status.
func rawStatus(t *testing.T, p *proc, req string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(p.url, "http://"), 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() { _, _ = io.WriteString(c, req) }()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "the engine answers before hanging up")
	_ = res.Body.Close()
	return res.StatusCode
}
