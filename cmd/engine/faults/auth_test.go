//go:build faults

package faults

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// abSecret is JWT_SECRET of baseEnv: the suite forges tokens with it.
var abSecret = []byte(strings.Repeat("j", 40))

// abSession is a logged-in user of an engine.
type abSession struct {
	id, email, access, refresh string
}

// abRegister creates an agent account and returns its session.
func abRegister(p *proc, email string) abSession {
	p.t.Helper()
	st, body := p.api("POST", "/api/auth/register", "", map[string]string{"email": email, "password": "agent-password-1", "name": "Agent " + email})
	require.Equal(p.t, 201, st, body)
	return abSessionOf(p.t, body)
}

func abSessionOf(t *testing.T, body map[string]any) abSession {
	t.Helper()
	d := body["data"].(map[string]any)
	u := d["user"].(map[string]any)
	return abSession{id: u["id"].(string), email: u["email"].(string), access: d["accessToken"].(string), refresh: d["refreshToken"].(string)}
}

func abAdmin(p *proc) abSession {
	p.t.Helper()
	st, body := p.api("POST", "/api/auth/login", "", map[string]string{"email": adminEmail, "password": adminPassword})
	require.Equal(p.t, 200, st, body)
	return abSessionOf(p.t, body)
}

// abClaims are valid access-token claims for user id with role, as the
// engine issues them.
func abClaims(id, role string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": "wacc-engine", "aud": []string{"wacc-engine-api"}, "sub": id, "role": role, "jti": fmt.Sprintf("forged-%d", now.UnixNano()),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
}

// abSign signs claims with method and key under extra header fields.
func abSign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// abRefused asserts a 401 in the contract's shape with a Bearer challenge.
func abRefused(t *testing.T, p *proc, token, what string) {
	t.Helper()
	st, h, raw := p.do("GET", "/api/auth/me", token, nil)
	assert.Equal(t, 401, st, "%s: %s", what, raw)
	assert.True(t, strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer "), "%s: WWW-Authenticate %q", what, h.Get("WWW-Authenticate"))
	var body map[string]any
	assert.NoError(t, json.Unmarshal(raw, &body), what)
	assert.Equal(t, "error", body["status"], what)
	assert.NotContains(t, string(raw), "goroutine", what)
}

// abAccepted is the positive control: a forged token built like the
// refused ones, but valid, is accepted (so the refusals are not an
// artefact of the forging).
func abAccepted(t *testing.T, p *proc, token string) {
	t.Helper()
	st, _, raw := p.do("GET", "/api/auth/me", token, nil)
	require.Equal(t, 200, st, "control token refused: %s", raw)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// Test16_NoOrMalformedBearer: no token or a malformed Authorization header
// is 401 with WWW-Authenticate; a token in the query string is not taken.
func Test16_NoOrMalformedBearer(t *testing.T) {
	t.Parallel()
	r := covers(t, 16)
	p := start(t, nil)
	admin := abAdmin(p)
	abAccepted(t, p, admin.access)
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic " + b64("admin:admin"), "Token " + admin.access, "Bearer" + admin.access,
		"Bearer a.b", "Bearer " + admin.access + "x", "Bearer " + strings.Repeat("A", 5000)} {
		st, hdr, raw := p.do("GET", "/api/auth/me", "", nil, "Authorization", h)
		assert.Equal(t, 401, st, "%q: %s", h, raw)
		assert.True(t, strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer "), "%q: WWW-Authenticate %q", h, hdr.Get("WWW-Authenticate"))
		r.count("inputs", 1)
	}
	for _, q := range []string{"access_token", "token", "jwt"} {
		st, _, raw := p.do("GET", "/api/auth/me?"+q+"="+admin.access, "", nil)
		assert.Contains(t, []int{400, 401}, st, "token in ?%s: %s", q, raw)
		st, _, raw = p.do("GET", "/api/customers?"+q+"="+admin.access, "", nil)
		assert.Contains(t, []int{400, 401}, st, "token in ?%s: %s", q, raw)
		r.count("inputs", 2)
	}
}

// Test17_ExpiredNoExpFutureNbfIat: expired (no leeway), no exp, nbf or iat
// in the future → 401.
func Test17_ExpiredNoExpFutureNbfIat(t *testing.T) {
	t.Parallel()
	r := covers(t, 17)
	p := start(t, nil)
	admin := abAdmin(p)
	abAccepted(t, p, abSign(t, jwt.SigningMethodHS256, abSecret, abClaims(admin.id, "admin"), nil))
	now := time.Now()
	cases := map[string]func(jwt.MapClaims){
		"expired 2s ago": func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Second).Unix() },
		"expired 1h ago": func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		},
		"no exp":           func(c jwt.MapClaims) { delete(c, "exp") },
		"exp null":         func(c jwt.MapClaims) { c["exp"] = nil },
		"nbf in 1h":        func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() },
		"iat in 1h":        func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix(); c["exp"] = now.Add(2 * time.Hour).Unix() },
		"no iat":           func(c jwt.MapClaims) { delete(c, "iat") },
		"exp in 100 years": func(c jwt.MapClaims) { c["exp"] = now.AddDate(100, 0, 0).Unix(); c["iat"] = now.Add(time.Hour).Unix() },
	}
	for name, mutate := range cases {
		c := abClaims(admin.id, "admin")
		mutate(c)
		abRefused(t, p, abSign(t, jwt.SigningMethodHS256, abSecret, c, nil), name)
		r.count("inputs", 1)
	}
}

// Test18_TamperedPayload: an agent's token with role (or sub) changed to an
// admin's, signature kept → 401.
func Test18_TamperedPayload(t *testing.T) {
	t.Parallel()
	r := covers(t, 18)
	p := start(t, nil)
	admin := abAdmin(p)
	agent := abRegister(p, "agent18@example.com")
	st, _, _ := p.do("GET", "/api/audit", agent.access, nil)
	require.Equal(t, 403, st, "control: the agent may not read the audit log")
	parts := strings.Split(agent.access, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	for name, edit := range map[string]func(string) string{
		"role admin":   func(s string) string { return strings.Replace(s, `"role":"agent"`, `"role":"admin"`, 1) },
		"sub of admin": func(s string) string { return strings.Replace(s, agent.id, admin.id, 1) },
		"exp later": func(s string) string {
			var m map[string]any
			_ = json.Unmarshal([]byte(s), &m)
			m["exp"] = time.Now().AddDate(1, 0, 0).Unix()
			b, _ := json.Marshal(m)
			return string(b)
		},
		"padding added": func(s string) string { return s + " " },
	} {
		edited := edit(string(payload))
		require.NotEqual(t, string(payload), edited, name)
		tok := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(edited)) + "." + parts[2]
		abRefused(t, p, tok, name)
		st, _, _ := p.do("GET", "/api/audit", tok, nil)
		assert.Equal(t, 401, st, "%s on an admin route", name)
		r.count("inputs", 1)
	}
}

// Test19_AlgNone: alg none/None/NONE, with or without a signature segment.
func Test19_AlgNone(t *testing.T) {
	t.Parallel()
	r := covers(t, 19)
	p := start(t, nil)
	admin := abAdmin(p)
	raw, err := json.Marshal(abClaims(admin.id, "admin"))
	require.NoError(t, err)
	payload := base64.RawURLEncoding.EncodeToString(raw)
	realSig := strings.Split(admin.access, ".")[2]
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		head := b64(`{"alg":"` + alg + `","typ":"JWT"}`)
		for _, tok := range []string{head + "." + payload + ".", head + "." + payload, head + "." + payload + "." + realSig, head + "." + payload + "." + b64("x")} {
			abRefused(t, p, tok, alg+": "+tok[len(tok)-5:])
			r.count("inputs", 1)
		}
	}
	// The library's own none signer (what an attacker's library emits).
	abRefused(t, p, abSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, abClaims(admin.id, "admin"), nil), "jwt none")
	r.count("inputs", 1)
}

// Test20_AlgorithmConfusion: the engine signs with HS256 only and has no
// public key; tokens signed RS256/ES256 with an attacker's keys, and HS256
// tokens whose HMAC key is an RSA or EC public key (PEM or DER), are 401.
func Test20_AlgorithmConfusion(t *testing.T) {
	t.Parallel()
	r := covers(t, 20)
	p := start(t, nil)
	admin := abAdmin(p)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	var pubs [][]byte
	for _, pub := range []any{&rsaKey.PublicKey, &ecKey.PublicKey} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		require.NoError(t, err)
		pubs = append(pubs, der, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	c := func() jwt.MapClaims { return abClaims(admin.id, "admin") }
	toks := map[string]string{
		"RS256":                 abSign(t, jwt.SigningMethodRS256, rsaKey, c(), nil),
		"PS256":                 abSign(t, jwt.SigningMethodPS256, rsaKey, c(), nil),
		"ES256":                 abSign(t, jwt.SigningMethodES256, ecKey, c(), nil),
		"HS384 with our secret": abSign(t, jwt.SigningMethodHS384, abSecret, c(), nil),
		"HS512 with our secret": abSign(t, jwt.SigningMethodHS512, abSecret, c(), nil),
	}
	for i, pub := range pubs {
		toks[fmt.Sprintf("HS256 keyed with public key %d", i)] = abSign(t, jwt.SigningMethodHS256, pub, c(), nil)
	}
	for name, tok := range toks {
		abRefused(t, p, tok, name)
		r.count("inputs", 1)
	}
}

// Test21_KidJkuX5u: kid with path traversal or SQL, unknown kid, jku, x5u,
// jwk headers → 401, and nothing fetched from the URLs named.
func Test21_KidJkuX5u(t *testing.T) {
	t.Parallel()
	r := covers(t, 21)
	p := start(t, nil)
	admin := abAdmin(p)
	var fetched atomic.Int64
	lure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","k":"` + b64("attacker") + `"}]}`))
	}))
	defer lure.Close()
	attacker := []byte("attacker")
	headers := map[string]any{
		"kid": "../../../../../../dev/null", "kid ": "/proc/self/environ", "kid  ": "x' UNION SELECT 'attacker' --",
		"kid   ": "unknown-key-7", "jku": lure.URL + "/jwks.json", "x5u": lure.URL + "/cert.pem",
		"jwk": map[string]any{"kty": "oct", "k": b64("attacker")}, "x5c": []string{"MIIB"}, "crit": []string{"exp"},
	}
	for name, value := range headers {
		h := map[string]any{strings.TrimSpace(name): value}
		// With the attacker's key (what the header would point to), an
		// empty key (/dev/null), and even our real key: the header itself
		// is refused.
		for keyName, key := range map[string][]byte{"attacker key": attacker, "empty key": {}, "real key": abSecret} {
			if len(key) == 0 {
				// jwt refuses to sign with an empty key; sign by hand.
				abRefused(t, p, abEmptyKeyToken(t, abClaims(admin.id, "admin"), h), name+" "+keyName)
			} else {
				abRefused(t, p, abSign(t, jwt.SigningMethodHS256, key, abClaims(admin.id, "admin"), h), name+" "+keyName)
			}
			r.count("inputs", 1)
		}
	}
	assert.Zero(t, fetched.Load(), "the engine fetched a URL named in a token header")
}

// abEmptyKeyToken is an HS256 token signed with an empty key.
func abEmptyKeyToken(t *testing.T, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	head := map[string]any{"alg": "HS256", "typ": "JWT"}
	for k, v := range header {
		head[k] = v
	}
	hb, err := json.Marshal(head)
	require.NoError(t, err)
	cb, err := json.Marshal(c)
	require.NoError(t, err)
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sig, err := jwt.SigningMethodHS256.Sign(signing, []byte{0})
	require.NoError(t, err)
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Test22_WrongIssAudTyp: wrong iss or aud, a refresh token as a bearer
// token, or a JWT typed as something else → 401.
func Test22_WrongIssAudTyp(t *testing.T) {
	t.Parallel()
	r := covers(t, 22)
	p := start(t, nil)
	admin := abAdmin(p)
	// The engine's own tokens name its audience.
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(admin.access, ".")[1])
	require.NoError(t, err)
	require.Contains(t, string(payload), `"aud":["wacc-engine-api"]`)
	abAccepted(t, p, abSign(t, jwt.SigningMethodHS256, abSecret, abClaims(admin.id, "admin"), nil))
	cases := map[string]string{"refresh token as bearer": admin.refresh}
	for name, mutate := range map[string]func(jwt.MapClaims){
		"iss other":       func(c jwt.MapClaims) { c["iss"] = "https://evil.example" },
		"iss missing":     func(c jwt.MapClaims) { delete(c, "iss") },
		"iss case":        func(c jwt.MapClaims) { c["iss"] = "WACC-ENGINE" },
		"aud other":       func(c jwt.MapClaims) { c["aud"] = "billing-service" },
		"aud other list":  func(c jwt.MapClaims) { c["aud"] = []string{"billing-service", "reports"} },
		"aud almost":      func(c jwt.MapClaims) { c["aud"] = "wacc-engine-api " },
		"aud number":      func(c jwt.MapClaims) { c["aud"] = 42 },
		"role unknown":    func(c jwt.MapClaims) { c["role"] = "" },
		"jti missing":     func(c jwt.MapClaims) { delete(c, "jti") },
		"sub nonexistent": func(c jwt.MapClaims) { c["sub"] = "000000000000000000000000" },
	} {
		c := abClaims(admin.id, "admin")
		mutate(c)
		cases[name] = abSign(t, jwt.SigningMethodHS256, abSecret, c, nil)
	}
	for _, typ := range []string{"refresh+jwt", "JWS", "at+jwt+refresh", "id_token"} {
		cases["typ "+typ] = abSign(t, jwt.SigningMethodHS256, abSecret, abClaims(admin.id, "admin"), map[string]any{"typ": typ})
	}
	for name, tok := range cases {
		abRefused(t, p, tok, name)
		r.count("inputs", 1)
	}
}

// Test27_CredentialStuffing: failed logins are throttled per IP and per
// account (an attack from many addresses on one account is slowed too), an
// unknown user is answered like a wrong password (same body, similar time),
// and the real user gets back in within a minute.
func Test27_CredentialStuffing(t *testing.T) {
	t.Parallel()
	r := covers(t, 27)
	const budget = 6
	p := start(t, map[string]string{"RATE_LIMIT_AUTH_PER_MIN": fmt.Sprint(budget), "TRUSTED_PROXIES": "127.0.0.1"})
	ip := 0
	try := func(email, password string) (int, map[string]any, http.Header, time.Duration) {
		ip++
		begin := time.Now()
		st, h, raw := p.do("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password},
			"X-Forwarded-For", fmt.Sprintf("198.51.%d.%d", ip/250, ip%250+1))
		d := time.Since(begin)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		r.count("inputs", 1)
		return st, body, h, d
	}
	// Unknown user against wrong password: same answer, similar time.
	var wrong, unknown []time.Duration
	var wrongBody, unknownBody map[string]any
	for i := 0; i < budget-1; i++ {
		st, b, _, d := try(adminEmail, fmt.Sprintf("wrong-password-%d", i))
		require.Equal(t, 401, st, b)
		wrong, wrongBody = append(wrong, d), b
		st, b, _, d = try(fmt.Sprintf("nobody%d@example.com", i), fmt.Sprintf("wrong-password-%d", i))
		require.Equal(t, 401, st, b)
		unknown, unknownBody = append(unknown, d), b
	}
	assert.Equal(t, wrongBody, unknownBody, "an unknown user and a wrong password are answered alike")
	mw, mu := abMedian(wrong), abMedian(unknown)
	r.timing("median_wrong_password", mw)
	r.timing("median_unknown_user", mu)
	// No speed budget: the unknown user must not be answered much faster
	// (which would tell an attacker the account does not exist).
	assert.Greater(t, float64(mu), 0.3*float64(mw), "unknown user %v vs wrong password %v", mu, mw)

	// Per account: the admin's budget spent from many addresses.
	st, b, _, _ := try(adminEmail, "wrong-password-x")
	require.Equal(t, 401, st, b)
	st, b, h, _ := try(adminEmail, "wrong-password-y")
	assert.Equal(t, 429, st, "account attacked from %d addresses: %v", budget+1, b)
	assert.NotEmpty(t, h.Get("Retry-After"))
	st, b, _, _ = try(adminEmail, adminPassword)
	assert.Equal(t, 429, st, "the right password while throttled: %v", b)
	// An unknown account is throttled the same way.
	for i := 0; i < budget; i++ {
		try("ghost@example.com", "wrong-password-1")
	}
	st, b, _, _ = try("ghost@example.com", "wrong-password-1")
	assert.Equal(t, 429, st, "unknown account: %v", b)

	// Per IP: one address trying many accounts.
	var ipStatus []int
	for i := 0; i < budget+1; i++ {
		st, _, _ := p.do("POST", "/api/auth/login", "", map[string]string{"email": fmt.Sprintf("spray%d@example.com", i), "password": "password-1"},
			"X-Forwarded-For", "203.0.113.50")
		ipStatus = append(ipStatus, st)
		r.count("inputs", 1)
	}
	assert.Equal(t, 429, ipStatus[budget], "one address over its budget: %v", ipStatus)

	// No long lock-out: the real user gets back in as the budget refills.
	begin := time.Now()
	require.Eventually(t, func() bool {
		st, _, _, _ := try(adminEmail, adminPassword)
		return st == 200
	}, 40*time.Second, 2*time.Second, "the real admin is still locked out")
	r.timing("time_to_recover", time.Since(begin))
}

func abMedian(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// Test28_PasswordLengths: passwords are hashed with argon2id (no 72-byte
// bcrypt truncation): a 100-byte password works only whole; empty or over
// 128 characters is 400.
func Test28_PasswordLengths(t *testing.T) {
	t.Parallel()
	r := covers(t, 28)
	p := start(t, nil)
	long := strings.Repeat("p", 72) + "-the-rest-matters-1234567890"
	multi := strings.Repeat("é", 40) // 80 bytes, 40 characters
	for i, pw := range []string{long, multi} {
		email := fmt.Sprintf("long%d@example.com", i)
		st, body := p.api("POST", "/api/auth/register", "", map[string]string{"email": email, "password": pw, "name": "Long"})
		require.Equal(t, 201, st, body)
		st, body = p.api("POST", "/api/auth/login", "", map[string]string{"email": email, "password": pw})
		assert.Equal(t, 200, st, "the whole password: %v", body)
		prefix := pw[:72]
		st, body = p.api("POST", "/api/auth/login", "", map[string]string{"email": email, "password": prefix})
		assert.Equal(t, 401, st, "its first 72 bytes must not log in: %v", body)
		st, body = p.api("POST", "/api/auth/login", "", map[string]string{"email": email, "password": pw + "x"})
		assert.Equal(t, 401, st, "a longer one must not log in: %v", body)
		r.count("inputs", 4)
	}
	for name, pw := range map[string]string{"empty": "", "129 characters": strings.Repeat("x", 129), "7 characters": "short-7",
		"1000 characters": strings.Repeat("y", 1000)} {
		st, body := p.api("POST", "/api/auth/register", "", map[string]string{"email": "x-" + fmt.Sprint(len(pw)) + "@example.com", "password": pw, "name": "X"})
		assert.Equal(t, 400, st, "register with %s password: %v", name, body)
		assert.Equal(t, "VALIDATION_ERROR", body["code"], name)
		r.count("inputs", 1)
	}
	st, body := p.api("POST", "/api/auth/login", "", map[string]string{"email": adminEmail, "password": ""})
	assert.Equal(t, 400, st, "login with an empty password: %v", body)
	st, body = p.api("POST", "/api/auth/login", "", map[string]string{"email": adminEmail, "password": adminPassword + strings.Repeat("z", 200)})
	assert.Equal(t, 401, st, "login with an over-long password: %v", body)
	r.count("inputs", 2)
}

// Test29_AgentCallingAdminFunctions: an agent gets 403 on every admin
// function the engine has (roles, users, audit, template sync, dead
// letters, agents); a demoted admin's old token is refused at once (401
// TOKEN_REVOKED since a role change ends older tokens, Test26).
func Test29_AgentCallingAdminFunctions(t *testing.T) {
	t.Parallel()
	r := covers(t, 29)
	p := start(t, nil)
	admin := abAdmin(p)
	agent := abRegister(p, "agent29@example.com")
	calls := []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/api/users/" + agent.id + "/role", map[string]string{"role": "admin"}},
		{"PATCH", "/api/users/" + admin.id + "/role", map[string]string{"role": "agent"}},
		{"PATCH", "/api/users/" + admin.id, map[string]any{"phone": "+14155552671"}},
		{"GET", "/api/audit", nil},
		{"POST", "/api/whatsapp/templates/sync", nil},
		{"GET", "/api/whatsapp/dead-letters", nil},
		{"POST", "/api/whatsapp/dead-letters/redrive", map[string]any{}},
		{"GET", "/api/agents", nil},
		{"POST", "/api/whatsapp/conversations/000000000000000000000000/assign", map[string]any{"agentId": agent.id}},
		{"DELETE", "/api/customers/000000000000000000000000", nil},
		{"GET", "/api/whatsapp/pricing", nil},
	}
	for _, c := range calls {
		st, body := p.api(c.method, c.path, agent.access, c.body)
		assert.Equal(t, 403, st, "%s %s as agent: %v", c.method, c.path, body)
		assert.Equal(t, "FORBIDDEN", body["code"], "%s %s", c.method, c.path)
		r.count("inputs", 1)
	}
	st, body := p.api("GET", "/api/auth/me", agent.access, nil)
	require.Equal(t, 200, st, body)
	assert.Equal(t, "agent", body["data"].(map[string]any)["user"].(map[string]any)["role"], "the agent is still an agent")

	// A promoted agent reads the audit log once logged in again (a role
	// change ends the older tokens); demoted, that admin token cannot.
	st, body = p.api("PATCH", "/api/users/"+agent.id+"/role", admin.access, map[string]string{"role": "admin"})
	require.Equal(t, 200, st, body)
	promoted := p.login("agent29@example.com", "agent-password-1")
	st, _ = p.api("GET", "/api/audit", promoted, nil)
	require.Equal(t, 200, st, "control: as admin")
	st, body = p.api("PATCH", "/api/users/"+agent.id+"/role", admin.access, map[string]string{"role": "agent"})
	require.Equal(t, 200, st, body)
	st, body = p.api("GET", "/api/audit", promoted, nil)
	assert.Equal(t, 401, st, "a demoted admin's old token: %v", body)
	assert.Equal(t, "TOKEN_REVOKED", body["code"])
	r.count("inputs", 1)
}

// Test30_BOLA: agent B cannot read, close or touch agent A's conversation
// (404, nothing leaked, same answer as a guessed id), nor mark it read or
// type in it over the socket (NOT_FOUND).
func Test30_BOLA(t *testing.T) {
	t.Parallel()
	r := covers(t, 30)
	p := start(t, nil)
	admin := abAdmin(p)
	a := abRegister(p, "agent-a30@example.com")
	b := abRegister(p, "agent-b30@example.com")
	require.Equal(t, 200, p.webhook(textBody("100000000000001", "14155550130", "wamid.bola30", "secret of A's customer", time.Now())))
	var convID string
	require.Eventually(t, func() bool {
		st, body := p.api("GET", "/api/whatsapp/conversations", admin.access, nil)
		if st != 200 {
			return false
		}
		items := body["data"].(map[string]any)["items"].([]any)
		if len(items) == 0 {
			return false
		}
		convID = items[0].(map[string]any)["id"].(string)
		return true
	}, 15*time.Second, 100*time.Millisecond)
	st, body := p.api("POST", "/api/whatsapp/conversations/"+convID+"/assign", admin.access, map[string]string{"agentId": a.id})
	require.Equal(t, 200, st, body)
	st, _ = p.api("GET", "/api/whatsapp/conversations/"+convID, a.access, nil)
	require.Equal(t, 200, st, "control: the assignee reads it")

	guessed := "0123456789abcdef01234567"
	for _, path := range []string{"", "/messages"} {
		stB, _, rawB := p.do("GET", "/api/whatsapp/conversations/"+convID+path, b.access, nil)
		stG, _, rawG := p.do("GET", "/api/whatsapp/conversations/"+guessed+path, b.access, nil)
		assert.Equal(t, 404, stB, "B reads A's conversation%s: %s", path, rawB)
		assert.Equal(t, stG, stB, "as a guessed id")
		assert.NotContains(t, string(rawB), "secret of A's customer")
		assert.NotContains(t, string(rawB), convID)
		assert.Equal(t, abNoRequestID(rawG), abNoRequestID(rawB), "the answer to A's id and to a guessed one are the same")
		r.count("inputs", 2)
	}
	st, _, raw := p.do("POST", "/api/whatsapp/conversations/"+convID+"/close", b.access, nil)
	assert.Equal(t, 404, st, "B closes A's conversation: %s", raw)
	st, _, raw = p.do("GET", "/api/whatsapp/conversations", b.access, nil)
	assert.Equal(t, 200, st)
	assert.NotContains(t, string(raw), convID, "B's list shows A's conversation")
	r.count("inputs", 2)
	st, body = p.api("GET", "/api/whatsapp/conversations/"+convID, a.access, nil)
	require.Equal(t, 200, st)
	assert.NotEqual(t, "closed", body["data"].(map[string]any)["conversation"].(map[string]any)["state"], "B's close did nothing")

	// Over the socket.
	cb, framesB, _ := abSocket(t, p, b.access)
	abNext(t, framesB, "hello")
	ca, framesA, _ := abSocket(t, p, a.access)
	abNext(t, framesA, "hello")
	for _, typ := range []string{"read", "typing"} {
		frame := fmt.Sprintf(`{"type":%q,"data":{"conversationId":%q}}`, typ, convID)
		require.NoError(t, cb.Write(context.Background(), websocket.MessageText, []byte(frame)))
		e := abNext(t, framesB, "error")
		assert.Equal(t, "NOT_FOUND", e["data"].(map[string]any)["code"], "B's %s frame", typ)
		require.NoError(t, ca.Write(context.Background(), websocket.MessageText, []byte(frame)))
		abNext(t, framesA, "ack")
		r.count("inputs", 1)
	}
}

// abNoRequestID is an answer without its request id (which differs).
func abNoRequestID(raw []byte) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return string(raw)
	}
	delete(m, "requestId")
	b, _ := json.Marshal(m)
	return string(b)
}
