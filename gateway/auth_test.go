package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway"
)

func TestRegisterLoginMe(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	r := h.call("POST", "/api/auth/register", "", map[string]string{"email": "  Alice@Example.COM ", "password": "correct-horse", "name": "Alice"})
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	s := sessionOf(t, r)
	assert.Equal(t, "alice@example.com", s.Email)
	assert.Equal(t, "agent", s.Role)
	d := r.data()
	assert.EqualValues(t, 900, d["expiresIn"])
	u := d["user"].(map[string]any)
	assert.NotContains(t, string(r.Raw), "argon2", "no password hash leaves the server")
	assert.NotContains(t, u, "password")
	assert.NotEmpty(t, u["createdAt"])

	me := h.call("GET", "/api/auth/me", s.Access, nil)
	require.Equal(t, http.StatusOK, me.Status, me.String())
	mu := me.data()["user"].(map[string]any)
	assert.Equal(t, s.ID, mu["id"])
	assert.ElementsMatch(t, []any{"customers:read", "customers:write", "messages:send", "conversations:read", "media:write", "calls:write", "calls:read"}, mu["permissions"])

	login := h.call("POST", "/api/auth/login", "", map[string]string{"email": "alice@example.com", "password": "correct-horse"})
	require.Equal(t, http.StatusOK, login.Status, login.String())
	assert.Equal(t, s.ID, sessionOf(t, login).ID)

	recs := h.auditRecords(actors.AuditFilter{ActorID: s.ID})
	var actions []string
	for _, a := range recs {
		actions = append(actions, a.Action+":"+a.Outcome)
		assert.Equal(t, "127.0.0.1", a.IP)
		assert.NotEmpty(t, a.RequestID)
		assert.Contains(t, a.UserAgent, "Go-http-client")
	}
	assert.Contains(t, actions, "auth.register:success")
	assert.Contains(t, actions, "auth.login:success")
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	h.call("POST", "/api/auth/register", "", map[string]string{"email": "taken@example.com", "password": "lumen-orbit-7", "name": "T"})
	cases := []struct {
		name      string
		body      any
		status    int
		code      string
		wantField string
	}{
		{name: "duplicate email any case", body: map[string]string{"email": "TAKEN@example.com", "password": "lumen-orbit-7", "name": "T"}, status: 409, code: "CONFLICT"},
		{name: "mass assignment of role", body: map[string]string{"email": "m@example.com", "password": "lumen-orbit-7", "name": "M", "role": "admin"}, status: 400, code: "VALIDATION_ERROR", wantField: "role"},
		{name: "id in body", body: map[string]string{"email": "i@example.com", "password": "lumen-orbit-7", "name": "I", "id": "x"}, status: 400, code: "VALIDATION_ERROR", wantField: "id"},
		{name: "short password", body: map[string]string{"email": "s@example.com", "password": "short", "name": "S"}, status: 400, code: "VALIDATION_ERROR", wantField: "password"},
		{name: "long password", body: map[string]string{"email": "l@example.com", "password": strings.Repeat("p", 129), "name": "L"}, status: 400, code: "VALIDATION_ERROR", wantField: "password"},
		{name: "bad email", body: map[string]string{"email": "not-an-email", "password": "lumen-orbit-7", "name": "B"}, status: 400, code: "VALIDATION_ERROR", wantField: "email"},
		{name: "display-name email", body: map[string]string{"email": "Bob <b@example.com>", "password": "lumen-orbit-7", "name": "B"}, status: 400, code: "VALIDATION_ERROR", wantField: "email"},
		{name: "empty name", body: map[string]string{"email": "n@example.com", "password": "lumen-orbit-7", "name": "  "}, status: 400, code: "VALIDATION_ERROR", wantField: "name"},
		{name: "operator injection", body: `{"email":{"$ne":null},"password":"lumen-orbit-7","name":"x"}`, status: 400, code: "VALIDATION_ERROR", wantField: "email"},
		{name: "malformed json", body: `{"email":`, status: 400, code: "INVALID_JSON"},
		{name: "trailing data", body: `{"email":"t@example.com","password":"lumen-orbit-7","name":"x"} {}`, status: 400, code: "INVALID_JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("POST", "/api/auth/register", "", tc.body)
			requireError(t, r, tc.status, tc.code)
			if tc.wantField != "" {
				errs, _ := r.Env["errors"].([]any)
				require.NotEmpty(t, errs, r.String())
				assert.Equal(t, tc.wantField, errs[0].(map[string]any)["field"])
			}
		})
	}
	// Nothing was created by the refused requests.
	users, err := h.store.ListUsers(context.Background(), "")
	require.NoError(t, err)
	require.Len(t, users, 1)
}

func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	h.register()
	h.call("POST", "/api/auth/register", "", map[string]string{"email": "known@example.com", "password": "lumen-orbit-7", "name": "K"})

	timeLogin := func(email, password string) (response, time.Duration) {
		start := time.Now()
		r := h.call("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password})
		return r, time.Since(start)
	}
	wrong, _ := timeLogin("known@example.com", "wrong-password")
	unknown, _ := timeLogin("nobody@example.com", "wrong-password")
	requireError(t, wrong, 401, "UNAUTHORIZED")
	requireError(t, unknown, 401, "UNAUTHORIZED")
	assert.Equal(t, wrong.Env["message"], unknown.Env["message"])

	// Both paths run one argon2id verification: compare medians.
	var dw, du []time.Duration
	for i := 0; i < 5; i++ {
		_, a := timeLogin("known@example.com", "wrong-password")
		_, b := timeLogin("nobody@example.com", "wrong-password")
		dw, du = append(dw, a), append(du, b)
	}
	mw, mu := median(dw), median(du)
	ratio := float64(mw) / float64(mu)
	assert.Greater(t, ratio, 0.2, "wrong password %v vs unknown email %v", mw, mu)
	assert.Less(t, ratio, 5.0, "wrong password %v vs unknown email %v", mw, mu)

	recs := h.auditRecords(actors.AuditFilter{Action: "auth.login"})
	require.NotEmpty(t, recs)
	for _, a := range recs {
		assert.Equal(t, actors.OutcomeFailure, a.Outcome)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	s := h.register()

	r1 := h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s.Refresh})
	require.Equal(t, http.StatusOK, r1.Status, r1.String())
	s1 := sessionOf(t, r1)
	require.NotEqual(t, s.Refresh, s1.Refresh)
	require.NotEqual(t, s.Access, s1.Access)
	require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", s1.Access, nil).Status)

	r2 := h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s1.Refresh})
	require.Equal(t, http.StatusOK, r2.Status, r2.String())
	s2 := sessionOf(t, r2)

	// A second login is another family and survives the revocation below.
	other := h.call("POST", "/api/auth/login", "", map[string]string{"email": s.Email, "password": "s3cret-pass"})
	require.Equal(t, http.StatusOK, other.Status)
	otherS := sessionOf(t, other)

	// Reusing the spent first token revokes the whole family.
	reuse := h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s.Refresh})
	requireError(t, reuse, 401, "TOKEN_REVOKED")
	requireError(t, h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s2.Refresh}), 401, "TOKEN_REVOKED")
	// ...including the access tokens issued from it.
	requireError(t, h.call("GET", "/api/auth/me", s2.Access, nil), 401, "TOKEN_REVOKED")
	requireError(t, h.call("GET", "/api/auth/me", s.Access, nil), 401, "TOKEN_REVOKED")

	require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", otherS.Access, nil).Status)
	require.Equal(t, http.StatusOK, h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": otherS.Refresh}).Status)

	recs := h.auditRecords(actors.AuditFilter{Action: "auth.refresh_reuse"})
	require.Len(t, recs, 1)
	assert.Equal(t, s.ID, recs[0].ActorID)

	for _, bad := range []string{"", "garbage", strings.Repeat("a", 32) + "." + strings.Repeat("b", 43)} {
		r := h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": bad})
		require.Contains(t, []int{400, 401}, r.Status, r.String())
	}
}

func TestConcurrentRefreshWithOneTokenRevokes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	s := h.register()
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s.Refresh}).Status
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, st := range statuses {
		if st == 200 {
			ok++
		} else {
			require.Equal(t, 401, st)
		}
	}
	require.LessOrEqual(t, ok, 1, "one token yields at most one new pair")
}

func TestRefreshExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{config: func(c *gateway.Options) {
		c.JWTExpiresIn = time.Minute
		c.JWTRefreshExpiresIn = time.Hour
	}})
	s := h.register()
	h.skew.Store(int64(2 * time.Hour))
	requireError(t, h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s.Refresh}), 401, "TOKEN_EXPIRED")
	requireError(t, h.call("GET", "/api/auth/me", s.Access, nil), 401, "TOKEN_EXPIRED")
}

func TestLogout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	s := h.register()
	other := h.call("POST", "/api/auth/login", "", map[string]string{"email": s.Email, "password": "s3cret-pass"})
	otherS := sessionOf(t, other)

	r := h.call("POST", "/api/auth/logout", s.Access, map[string]string{"refreshToken": s.Refresh})
	require.Equal(t, http.StatusOK, r.Status, r.String())
	requireError(t, h.call("GET", "/api/auth/me", s.Access, nil), 401, "TOKEN_REVOKED")
	requireError(t, h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": s.Refresh}), 401, "TOKEN_REVOKED")
	// The other login is untouched.
	require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", otherS.Access, nil).Status)

	// Logout without a body revokes the token's own family too.
	r = h.call("POST", "/api/auth/logout", otherS.Access, nil)
	require.Equal(t, http.StatusOK, r.Status, r.String())
	requireError(t, h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": otherS.Refresh}), 401, "TOKEN_REVOKED")

	requireError(t, h.call("POST", "/api/auth/logout", "", nil), 401, "UNAUTHORIZED")
	require.Len(t, h.auditRecords(actors.AuditFilter{Action: "auth.logout"}), 2)
}

func TestAccessTokenForgeries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	s := h.register()
	now := time.Now()
	claims := func(role string) jwt.MapClaims {
		return jwt.MapClaims{"iss": "wacc-engine", "sub": s.ID, "role": role, "jti": "x1", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		require.NoError(t, err)
		return tok
	}
	parts := strings.Split(s.Access, ".")
	cases := []struct {
		name  string
		token string
		code  string
	}{
		{name: "alg none", token: sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("admin")), code: "UNAUTHORIZED"},
		{name: "wrong key", token: sign(jwt.SigningMethodHS256, []byte(strings.Repeat("z", 32)), claims("admin")), code: "UNAUTHORIZED"},
		{name: "algorithm switch to HS384", token: sign(jwt.SigningMethodHS384, []byte(testJWTSecret), claims("admin")), code: "UNAUTHORIZED"},
		{name: "tampered signature", token: parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), code: "UNAUTHORIZED"},
		{name: "expired", token: sign(jwt.SigningMethodHS256, []byte(testJWTSecret), jwt.MapClaims{"iss": "wacc-engine", "sub": s.ID, "role": "agent", "jti": "x2", "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-time.Minute).Unix()}), code: "TOKEN_EXPIRED"},
		{name: "not yet valid", token: sign(jwt.SigningMethodHS256, []byte(testJWTSecret), jwt.MapClaims{"iss": "wacc-engine", "sub": s.ID, "role": "agent", "jti": "x3", "iat": now.Unix(), "nbf": now.Add(time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()}), code: "UNAUTHORIZED"},
		{name: "malformed", token: "abc.def", code: "UNAUTHORIZED"},
		{name: "unknown user", token: sign(jwt.SigningMethodHS256, []byte(testJWTSecret), jwt.MapClaims{"iss": "wacc-engine", "sub": "ghost", "role": "admin", "jti": "x4", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}), code: "UNAUTHORIZED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, h.call("GET", "/api/auth/me", tc.token, nil), 401, tc.code)
		})
	}
	// A validly signed token claiming admin for an agent gets the agent's
	// stored role, not the claimed one.
	forged := sign(jwt.SigningMethodHS256, []byte(testJWTSecret), claims("admin"))
	requireError(t, h.call("GET", "/api/audit", forged, nil), 403, "FORBIDDEN")
}

func TestRoleChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	admin := h.userWithRole(actors.RoleAdmin)
	sup := h.userWithRole(actors.RoleSupervisor)
	agent := h.register()

	requireError(t, h.call("PATCH", "/api/users/"+agent.ID+"/role", sup.Access, map[string]string{"role": "supervisor"}), 403, "FORBIDDEN")
	requireError(t, h.call("PATCH", "/api/users/"+agent.ID+"/role", agent.Access, map[string]string{"role": "admin"}), 403, "FORBIDDEN")
	requireError(t, h.call("PATCH", "/api/users/"+agent.ID+"/role", admin.Access, map[string]string{"role": "owner"}), 400, "VALIDATION_ERROR")
	requireError(t, h.call("PATCH", "/api/users/nobody/role", admin.Access, map[string]string{"role": "agent"}), 404, "NOT_FOUND")
	requireError(t, h.call("PATCH", "/api/users/"+admin.ID+"/role", admin.Access, map[string]string{"role": "agent"}), 409, "CONFLICT")

	// The agent's existing tokens end at once (token version); a new login
	// has the new role.
	requireError(t, h.call("GET", "/api/audit", agent.Access, nil), 403, "FORBIDDEN")
	r := h.call("PATCH", "/api/users/"+agent.ID+"/role", admin.Access, map[string]string{"role": "supervisor"})
	require.Equal(t, http.StatusOK, r.Status, r.String())
	require.Equal(t, "supervisor", r.data()["user"].(map[string]any)["role"])
	requireError(t, h.call("GET", "/api/audit", agent.Access, nil), 401, "TOKEN_REVOKED")
	requireError(t, h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": agent.Refresh}), 401, "TOKEN_REVOKED")
	r = h.call("POST", "/api/auth/login", "", map[string]string{"email": agent.Email, "password": "s3cret-pass"})
	require.Equal(t, http.StatusOK, r.Status, r.String())
	fresh := sessionOf(t, r)
	require.Equal(t, http.StatusOK, h.call("GET", "/api/audit", fresh.Access, nil).Status)
	me := h.call("GET", "/api/auth/me", fresh.Access, nil)
	require.Equal(t, "supervisor", me.data()["user"].(map[string]any)["role"])
	// Setting the role it already has ends nothing.
	r = h.call("PATCH", "/api/users/"+agent.ID+"/role", admin.Access, map[string]string{"role": "supervisor"})
	require.Equal(t, http.StatusOK, r.Status, r.String())
	require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", fresh.Access, nil).Status, "a no-op role change keeps the tokens")

	recs := h.auditRecords(actors.AuditFilter{Action: "users.role_change"})
	outcomes := map[string]int{}
	for _, a := range recs {
		outcomes[a.Outcome]++
	}
	require.Equal(t, 2, outcomes[actors.OutcomeSuccess])
	require.Equal(t, 1, outcomes[actors.OutcomeFailure])
}
